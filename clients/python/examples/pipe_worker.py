#!/usr/bin/env python3
"""A pipe worker in Python: leases tasks from its sidecar over the pipe and works through each.

Run it under a sidecar, which sets PIPEBUS_ROOT, PIPEBUS_WORKER and PIPEBUS_INSTANCE:

    pipebus sidecar --worker marie --mode pipe -- python3 clients/python/examples/pipe_worker.py

Like `pipebus worker`, a task's JSON steers it: "duration_ms" (else a random time between
--min-ms and --max-ms), "fail": true (finished as failed), "stuck": true (never finished).
Exits 0 on SIGTERM or SIGINT.
"""
import argparse
import os
import random
import signal
import sys
import threading
import time

try:
    import pipebus
except ImportError:  # run from a checkout without `pip install clients/python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import pipebus


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("PIPEBUS_ROOT"))
    parser.add_argument("--worker", default=os.environ.get("PIPEBUS_WORKER"))
    parser.add_argument("--instance", default=os.environ.get("PIPEBUS_INSTANCE") or None)
    parser.add_argument("--batch-size", type=int, default=2, help="tasks in flight at once")
    parser.add_argument("--min-ms", type=int, default=200)
    parser.add_argument("--max-ms", type=int, default=3000)
    parser.add_argument("--check", action="store_true", help="exit 0 once the package imports (for `pipebus demo`)")
    options = parser.parse_args()
    if options.check:
        return 0
    if not options.worker:
        parser.error("give --worker NAME or set PIPEBUS_WORKER")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def work(task):
        if task.get("stuck"):
            stop.wait()  # never finished: the sidecar returns it to pending/ when we go
            raise RuntimeError("stopped while stuck")
        milliseconds = task.get("duration_ms", random.randint(options.min_ms, options.max_ms))
        if stop.wait(milliseconds / 1000):
            raise RuntimeError("stopped")
        if task.get("fail"):
            raise RuntimeError("the task asked to fail")
        return {"worker": "python", "slept_ms": milliseconds}

    with pipebus.connect(worker=options.worker, root=options.root, instance=options.instance,
                         peer_name=f"python-worker-{options.worker}") as client:
        # The loop runs on a thread so that this one takes SIGTERM/SIGINT and sets `stop`.
        runner = threading.Thread(target=pipebus.run_worker, args=(client, work, options.batch_size, stop), daemon=True)
        runner.start()
        while not stop.is_set() and runner.is_alive():
            time.sleep(0.2)
        stop.set()
        runner.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
