#!/usr/bin/env python3
"""What each client connection costs a sidecar: threads and resident memory (issue 19).

Starts `pipebus sidecar` (no worker, metrics off) in a fresh root, then holds N connections open
through the pipebus Python package, each after one 64 B echo (idle) and then after one 64 KiB
echo (its buffers grown), and reads the sidecar's Threads and VmRSS from /proc after each step.

    PYTHONPATH=clients/python .build/bench-venv/bin/python bench/sidecar-footprint.py \\
        .build/release/pipebus [N ...]        # default N: 1 10 50 100

Prints one row per N: threads, RSS, and both per connection above the sidecar with none.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python", "bench"))
from sidecar_process import running_sidecar  # noqa: E402


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def settle(pid, seconds=1.0):
    """The sidecar's (threads, RSS KiB) once it has been idle a moment."""
    time.sleep(seconds)
    return proc_status(pid)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    executable = os.path.abspath(sys.argv[1])
    counts = [int(n) for n in sys.argv[2:]] or [1, 10, 50, 100]
    import pipebus

    channels = []
    with running_sidecar(executable, worker="footprint") as (sidecar, directory, probe):
        # The connection that learnt that it serves is closed again: the baseline has none open.
        probe.close()
        base_threads, base_rss = settle(sidecar.pid, 2.0)
        print(f"sidecar with no connection: {base_threads} threads, {base_rss / 1024:.1f} MiB RSS")
        print(f"{'connections':>11}  {'state':<14} {'threads':>7} {'RSS MiB':>8} "
              f"{'threads/conn':>12} {'KiB/conn':>9}")
        try:
            for count in counts:
                while len(channels) < count:
                    channel = pipebus.Channel(directory)
                    channel.unary_unary("/pipebus.testing.v1.Echo/Echo")(b"x" * 64, timeout=5)
                    channels.append(channel)
                for state, payload in (("after 64 B", b"x" * 64), ("after 64 KiB", b"x" * 65536)):
                    for channel in channels:
                        channel.unary_unary("/pipebus.testing.v1.Echo/Echo")(payload, timeout=5)
                    threads, rss = settle(sidecar.pid)
                    print(f"{count:>11}  {state:<14} {threads:>7} {rss / 1024:>8.1f} "
                          f"{(threads - base_threads) / count:>12.2f} {(rss - base_rss) / count:>9.1f}")
        finally:
            for channel in channels:
                channel.close()


if __name__ == "__main__":
    main()
