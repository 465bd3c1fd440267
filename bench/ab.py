#!/usr/bin/env python3
"""A/B of two builds of the pipe hot path, in alternation, with the raw-C baseline in the same loop
(CONTRIBUTING.md, "Measuring a change to the pipe hot path").

    bench/ab.py OLD_BENCH NEW_BENCH [--rounds 6] [--cases echo,stream] [--spin-us 0]

OLD_BENCH and NEW_BENCH are two `pipebus-bench` executables (copy the release build's aside
before changing the code). Each round measures, per placement and case, the C baseline and then
both builds, in turns (C A B, then C B A), through the bench's own peers (`pipebus-bench _peer`,
as the `rtt` and `stream` scenarios run them), pinned as the bench pins them: the client on CPU
0, the server on CPU 0 (same-vCPU) or 1 (two-vCPU).

Cases: `echo` and `echoAsync` (64 B unary round trips: p50 in µs, lower is better) and `stream`
(64 B server-streaming messages: M msg/s, higher is better). Prints each round, then per case
and placement the median and range of each build and of C, and NEW/OLD as the median of the
rounds' ratios: a pair measured seconds apart drifts less than the machine does across a run.
Exits 1 if a peer fails, 2 on bad arguments.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

PAYLOAD = 64
PIPE_SIZE = 256 * 1024
PLACEMENTS = {"same-vCPU": 0, "two-vCPU": 1}
CASES = ("echo", "echoAsync", "stream")
TIMEOUT = 300


class PeerFailed(Exception):
    pass


def run_pipebus(bench, case, server_cpu, count, spin_us):
    """One server and one client of `bench`: the client's figure for `case`, and for round trips
    the p90 (µs) too (None for streams)."""
    settings = {"spinMicroseconds": spin_us, "pipeBufferSize": PIPE_SIZE}
    if case == "stream":
        workload = {"stream": {"_0": {"payloadSize": PAYLOAD, "warmup": count // 10, "count": count}}}
    else:
        workload = {
            "roundTrips": {
                "_0": {
                    "method": case,
                    "payloadSize": PAYLOAD,
                    "content": "random",
                    "warmup": max(200, count // 10),
                    "count": count,
                    "callers": 1,
                }
            }
        }
    with tempfile.TemporaryDirectory(prefix="pipebus-ab-") as scratch:
        directory = os.path.join(scratch, "fifos")
        server_configuration = json.dumps({"directory": directory, "settings": settings})
        client_configuration = json.dumps({"directory": directory, "settings": settings, "workloads": [workload]})
        # The server serves until its stdin closes.
        server = subprocess.Popen(
            [bench, "_peer", "server", "--cpu", str(server_cpu), "--configuration", server_configuration],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            client = subprocess.run(
                [bench, "_peer", "client", "--cpu", "0", "--configuration", client_configuration],
                capture_output=True,
                timeout=TIMEOUT,
            )
        finally:
            try:
                _, server_errors = server.communicate(timeout=30)  # closes its stdin first
            except subprocess.TimeoutExpired:
                server.kill()
                _, server_errors = server.communicate()
        if client.returncode != 0:
            raise PeerFailed(f"{bench} client exited {client.returncode}: {client.stderr.decode(errors='replace').strip()}")
        if server.returncode != 0:
            raise PeerFailed(f"{bench} server exited {server.returncode}: {server_errors.decode(errors='replace').strip()}")
    try:
        measurement = json.loads(client.stdout)["measurements"][0]
    except (ValueError, KeyError, IndexError) as error:
        raise PeerFailed(f"{bench} client printed no measurement ({error}): {client.stdout[:200]!r}")
    if case == "stream":
        seconds = (measurement["endNanoseconds"] - measurement["startNanoseconds"]) / 1e9
        return measurement["count"] / seconds / 1e6, None
    samples = sorted(measurement["samples"])
    return statistics.median(samples) / 1e3, samples[int(len(samples) * 0.9)] / 1e3


def run_c(c_baseline, case, server_cpu, count, spin_us):
    """The C program's ping-pong (p50 µs) or one-way stream (M msg/s) for `case`."""
    placement = ["--client-cpu", "0", "--server-cpu", str(server_cpu), "--pipe-size", str(PIPE_SIZE)]
    if case == "stream":
        command = [c_baseline, "stream", "--size", str(PAYLOAD), "--messages", str(count)] + placement
    else:
        command = [c_baseline, "pingpong", "--size", str(PAYLOAD), "--iterations", str(count)]
        command += ["--warmup", str(max(200, count // 10))] + placement
        if spin_us:
            command += ["--spin-us", str(spin_us)]
    result = subprocess.run(command, capture_output=True, timeout=TIMEOUT)
    if result.returncode != 0:
        raise PeerFailed(f"{c_baseline} exited {result.returncode}: {result.stderr.decode(errors='replace').strip()}")
    report = json.loads(result.stdout)
    return report["messages_per_s"] / 1e6 if case == "stream" else report["latency_ns"]["p50"] / 1e3


def unit(case):
    return "M msg/s" if case == "stream" else "µs p50"


def describe(values):
    return f"median {statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the pipebus-bench executable before the change (A)")
    parser.add_argument("new", help="the pipebus-bench executable after the change (B)")
    parser.add_argument("--c-baseline", help="pipebus-c-baseline (default: beside NEW)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--cases", default="echo,stream", help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--placements", default=",".join(PLACEMENTS), help="comma-separated, of same-vCPU, two-vCPU")
    parser.add_argument("--count", type=int, default=20000, help="round trips a run (stream: ten times as many messages)")
    parser.add_argument("--spin-us", type=int, default=0, help="spin before blocking, both sides (and C's)")
    arguments = parser.parse_args()

    cases = [case for case in arguments.cases.split(",") if case]
    placements = [placement for placement in arguments.placements.split(",") if placement]
    c_baseline = arguments.c_baseline or os.path.join(os.path.dirname(os.path.abspath(arguments.new)), "pipebus-c-baseline")
    problems = [f"unknown case {case!r}" for case in cases if case not in CASES]
    problems += [f"unknown placement {placement!r}" for placement in placements if placement not in PLACEMENTS]
    problems += [f"not an executable: {path}" for path in (arguments.old, arguments.new, c_baseline) if not os.access(path, os.X_OK)]
    if arguments.rounds < 1 or arguments.count < 10:
        problems.append("--rounds must be at least 1 and --count at least 10")
    if problems:
        for problem in problems:
            print(f"ab: {problem}", file=sys.stderr)
        return 2
    if len(os.sched_getaffinity(0)) < 2 and "two-vCPU" in placements:
        print("ab: only one CPU allowed: measuring same-vCPU only", file=sys.stderr)
        placements = [placement for placement in placements if placement == "same-vCPU"]

    figures = {}  # (case, placement) -> {"C": [...], "A": [...], "B": [...]}
    try:
        for round_number in range(1, arguments.rounds + 1):
            order = ["A", "B"] if round_number % 2 else ["B", "A"]
            for placement in placements:
                server_cpu = PLACEMENTS[placement]
                for case in cases:
                    count = arguments.count * 10 if case == "stream" else arguments.count
                    row = figures.setdefault((case, placement), {"C": [], "A": [], "B": []})
                    row["C"].append(run_c(c_baseline, case, server_cpu, count, arguments.spin_us))
                    tails = {}
                    for build in order:
                        bench = arguments.old if build == "A" else arguments.new
                        figure, tails[build] = run_pipebus(bench, case, server_cpu, count, arguments.spin_us)
                        row[build].append(figure)
                    tail = "" if case == "stream" else f"  (p90 A {tails['A']:.2f}, B {tails['B']:.2f})"
                    print(
                        f"round {round_number} {placement:9} {case:9} C {row['C'][-1]:7.2f}  "
                        f"A {row['A'][-1]:7.2f}  B {row['B'][-1]:7.2f}  {unit(case)}{tail}",
                        flush=True,
                    )
    except (PeerFailed, subprocess.TimeoutExpired, ValueError, KeyError) as error:
        print(f"ab: {error}", file=sys.stderr)
        return 1

    print()
    print(f"A = {arguments.old}\nB = {arguments.new}\n{arguments.rounds} rounds, spin {arguments.spin_us} µs")
    for (case, placement), row in figures.items():
        ratios = [b / a for a, b in zip(row["A"], row["B"]) if a > 0]
        better = "lower is better" if case != "stream" else "higher is better"
        print(
            f"{case} {placement} ({unit(case)}, {better}): C {describe(row['C'])}; A {describe(row['A'])}; "
            f"B {describe(row['B'])}; B/A per round median {statistics.median(ratios):.3f} "
            f"({min(ratios):.3f}–{max(ratios):.3f})"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # `| head` closed stdout: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
