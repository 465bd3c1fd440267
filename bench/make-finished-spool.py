#!/usr/bin/env python3
"""Fills a pipebus spool with finished tasks, fast, for the 1,000,000-task measurements.

usage: bench/make-finished-spool.py ROOT WORKER COUNT [--failed-every N]

Writes COUNT task files into ROOT/tasks/WORKER/completed/ (every Nth into failed/), in the
shape the sidecar writes them, without fsync (a measurement root, not data to keep): 10^6
took 345 s on tmpfs here with the machine loaded by builds; ext4 was 6x slower. Ids are
`done-<n>`, mtimes one second apart ending now, so that the newest are the highest numbers. Existing files are kept; the count is what is added.
"""
import json
import os
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    failed_every = 0
    if "--failed-every" in args:
        at = args.index("--failed-every")
        failed_every = int(args[at + 1])
        del args[at : at + 2]
    if len(args) != 3:
        sys.exit(__doc__)
    root, worker, count = args[0], args[1], int(args[2])
    spool = os.path.join(root, "tasks", worker)
    for state in ("pending", "active", "completed", "failed"):
        os.makedirs(os.path.join(spool, state), exist_ok=True)
    now = time.time()
    started = time.monotonic()
    for n in range(count):
        state = "failed" if failed_every and n % failed_every == failed_every - 1 else "completed"
        task_id = f"done-{n}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - count + n))
        record = {"id": task_id, "correlation_id": f"c-{n}", "submitted_at": stamp, "attempts": 1}
        if state == "failed":
            record["error"] = "made by make-finished-spool.py"
        else:
            record["result"] = {"ok": True}
        path = os.path.join(spool, state, task_id + ".json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, json.dumps(record, separators=(",", ":")).encode())
        os.close(fd)
        stamp_time = now - count + n
        os.utime(path, (stamp_time, stamp_time))
    elapsed = time.monotonic() - started
    print(f"{count} finished tasks in {spool} in {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
