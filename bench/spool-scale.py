#!/usr/bin/env python3
"""Issue 18's idle costs of a sidecar over a spool of many finished tasks.

usage: bench/spool-scale.py PIPEBUS ROOT [ROOT ...]

Each ROOT holds a spool of worker `marie` (made by bench/make-finished-spool.py, or empty).
For each, starts `PIPEBUS sidecar --worker marie --root ROOT` (spool mode, /metrics on a free
loopback port, heartbeats every second), waits until `pipebus status` answers, lets it settle,
then measures from /proc: idle CPU (% of one CPU over 20 s) and CPU per heartbeat, VmRSS,
the sidecar's CPU per /metrics scrape (100 scrapes), and the wall time of
`pipebus tasks --worker marie --limit 10` and `pipebus status` (median of 5). One line per
root, and --json for all figures.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # The process's CPU clock (the kernel's CPUCLOCK_SCHED id for a pid): nanoseconds, not ticks.
    try:
        return time.clock_gettime((~pid << 3) | 2)
    except OSError:
        pass
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def heartbeat_seq(root: str) -> int:
    for path in (f"{root}/workers/marie/instances/scale/heartbeat.json", f"{root}/workers/marie/heartbeat.json"):
        try:
            return int(json.load(open(path))["seq"])
        except (OSError, ValueError, KeyError):
            continue
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(command: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def measure(pipebus: str, root: str) -> dict:
    finished = sum(
        len(os.listdir(f"{root}/tasks/marie/{state}")) if os.path.isdir(f"{root}/tasks/marie/{state}") else 0
        for state in ("completed", "failed")
    )
    port = free_port()
    log = open(f"{root}/sidecar-scale.log", "w")
    started = time.monotonic()
    sidecar = subprocess.Popen(
        [pipebus, "sidecar", "--worker", "marie", "--root", root, "--instance", "scale",
         "--metrics-address", f"127.0.0.1:{port}", "--heartbeat-interval", "1s", "--log-level", "warning"],
        stdout=log, stderr=log,
    )
    try:
        status = [pipebus, "status", "--root", root]
        while subprocess.run(status, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            if sidecar.poll() is not None:
                raise SystemExit(f"sidecar exited: see {root}/sidecar-scale.log")
            time.sleep(0.2)
        startup = time.monotonic() - started
        startup_cpu = cpu_seconds(sidecar.pid)
        peak_rss = rss_kib(sidecar.pid)
        time.sleep(10)
        seq0, cpu0, t0 = heartbeat_seq(root), cpu_seconds(sidecar.pid), time.monotonic()
        time.sleep(20)
        seq1, cpu1, t1 = heartbeat_seq(root), cpu_seconds(sidecar.pid), time.monotonic()
        idle = (cpu1 - cpu0) / (t1 - t0) * 100
        per_beat = (cpu1 - cpu0) / max(1, seq1 - seq0)
        rss = rss_kib(sidecar.pid)
        scrapes = 100
        cpu2 = cpu_seconds(sidecar.pid)
        t2 = time.monotonic()
        for _ in range(scrapes):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        t3 = time.monotonic()
        cpu3 = cpu_seconds(sidecar.pid)
        # The heartbeats that fell inside the scrapes, at their measured cost, are taken out.
        metrics_cpu = max(0.0, (cpu3 - cpu2) - (t3 - t2) * idle / 100) / scrapes
        tasks = timed([pipebus, "tasks", "--root", root, "--worker", "marie", "--limit", "10"])
        status_time = timed(status)
        return {
            "finished": finished, "startup_s": startup, "startup_cpu_s": startup_cpu,
            "idle_cpu_percent": idle, "cpu_per_heartbeat_ms": per_beat * 1e3,
            "rss_mib": rss / 1024, "rss_after_start_mib": peak_rss / 1024,
            "metrics_cpu_ms": metrics_cpu * 1e3, "metrics_wall_ms": (t3 - t2) / scrapes * 1e3,
            "tasks_limit_10_ms": tasks * 1e3, "status_ms": status_time * 1e3,
        }
    finally:
        sidecar.terminate()
        sidecar.wait(timeout=60)


def main() -> None:
    args = sys.argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) < 2:
        sys.exit(__doc__)
    pipebus, roots = args[0], args[1:]
    rows = [measure(pipebus, root) for root in roots]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'finished':>9} {'start s':>8} {'idle CPU':>9} {'CPU/beat':>9} {'RSS MiB':>8} {'/metrics CPU':>13}"
          f" {'tasks --limit 10':>17} {'status':>8}")
    for r in rows:
        print(f"{r['finished']:>9} {r['startup_s']:>8.2f} {r['idle_cpu_percent']:>8.2f}% {r['cpu_per_heartbeat_ms']:>7.2f}ms"
              f" {r['rss_mib']:>8.1f} {r['metrics_cpu_ms']:>11.2f}ms {r['tasks_limit_10_ms']:>15.0f}ms {r['status_ms']:>6.0f}ms")


if __name__ == "__main__":
    main()
