#!/usr/bin/env python3
"""64 B unary echo p50 through the pipebus package against a sidecar, beside the floor for any
Python client (a raw-Python FIFO ping-pong: os.read/os.write, the same 5-byte framing, one write
per frame, against a raw-Python echo process) and grpcio over a Unix socket (bench/GRPCPeer), in
the same run, with the client and the server pinned to one CPU ("same") or two ("cross").

    echo_bench.py --pipebus PATH/TO/pipebus [--grpc-python .build/bench-venv/bin/python]
                  [--count 20000] [--placements same,cross] [--json FILE [--samples]]

Prints one row per (placement, peer): p50 and p99 in microseconds, and the package's p50 as a
ratio to the raw ping-pong's and grpcio's as a ratio to the package's. Figures on a shared
machine are noisy: compare rows of one run, not runs. `pipebus-bench python` runs this script and
reads its --json report with --samples (every measured call's latency in nanoseconds).
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
PAYLOAD = b"p" * 64
HEADER = struct.Struct(">BI")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def read_frame(fd):
    """One frame, read as a raw client would: the header, then the body."""
    data = os.read(fd, 65536)
    while len(data) < 5 or len(data) < 5 + HEADER.unpack_from(data)[1]:
        more = os.read(fd, 65536)
        if not more:
            raise EOFError
        data += more
    return data


def raw_echo_server(c2s, s2c, cpu):
    pin(cpu)
    read_fd = os.open(c2s, os.O_RDONLY)
    write_fd = os.open(s2c, os.O_WRONLY)
    while True:
        try:
            frame = read_frame(read_fd)
        except EOFError:
            return
        os.write(write_fd, frame)


def bench_raw(count, warmup, client_cpu, server_cpu):
    directory = tempfile.mkdtemp(prefix="pipebus-rawbench-")
    c2s, s2c = os.path.join(directory, "c2s"), os.path.join(directory, "s2c")
    os.mkfifo(c2s)
    os.mkfifo(s2c)
    child = os.fork()
    if child == 0:
        try:
            raw_echo_server(c2s, s2c, server_cpu)
        finally:
            os._exit(0)
    write_fd = os.open(c2s, os.O_WRONLY)
    read_fd = os.open(s2c, os.O_RDONLY)
    frame = HEADER.pack(0, len(PAYLOAD)) + PAYLOAD
    samples = []
    clock = time.perf_counter_ns
    for index in range(warmup + count):
        start = clock()
        os.write(write_fd, frame)
        read_frame(read_fd)
        if index >= warmup:
            samples.append(clock() - start)
    os.close(write_fd)
    os.close(read_fd)
    os.waitpid(child, 0)
    shutil.rmtree(directory, ignore_errors=True)
    return samples


def bench_pipebus(executable, count, warmup, client_cpu, server_cpu):
    from sidecar_process import running_sidecar

    with running_sidecar(executable, cpu=server_cpu) as (_, _, channel):
        echo = channel.unary_unary("/pipebus.testing.v1.Echo/Echo")
        samples = []
        clock = time.perf_counter_ns
        for index in range(warmup + count):
            start = clock()
            echo(PAYLOAD)
            if index >= warmup:
                samples.append(clock() - start)
        return samples


def bench_grpc(python, count, warmup, client_cpu, server_cpu):
    peer = os.path.join(REPO, "bench", "GRPCPeer", "grpc_peer.py")
    directory = tempfile.mkdtemp(prefix="pipebus-grpcbench-")
    socket_path = os.path.join(directory, "echo.sock")
    server = subprocess.Popen([python, peer, "server", "--socket", socket_path, "--cpu", str(server_cpu)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + 60
        while not os.path.exists(socket_path):
            if time.monotonic() > give_up or server.poll() is not None:
                raise RuntimeError("the grpc peer did not start")
            time.sleep(0.05)
        output = subprocess.run([python, peer, "client", "--socket", socket_path, "--cpu", str(client_cpu), "--sizes",
                                 str(len(PAYLOAD)), "--count", str(count), "--warmup", str(warmup)],
                                capture_output=True, text=True, check=True).stdout
        return json.loads(output)["cases"][0]["samples_ns"]
    finally:
        server.stdin.close()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipebus", default=os.environ.get("PIPEBUS_EXECUTABLE"), required=not os.environ.get("PIPEBUS_EXECUTABLE"))
    parser.add_argument("--grpc-python", default=os.path.join(REPO, ".build", "bench-venv", "bin", "python"))
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--placements", default="same,cross")
    parser.add_argument("--json")
    parser.add_argument("--samples", action="store_true", help="--json rows carry samples_ns, every latency")
    options = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    placements = {"same": (cpus[0], cpus[0]), "cross": (cpus[0], cpus[-1])}
    rows = []
    for placement in options.placements.split(","):
        client_cpu, server_cpu = placements[placement]
        pin(client_cpu)
        figures = {
            "raw-python-fifo": bench_raw(options.count, options.warmup, client_cpu, server_cpu),
            "pipebus-python": bench_pipebus(options.pipebus, options.count, options.warmup, client_cpu, server_cpu),
        }
        if os.access(options.grpc_python, os.X_OK):
            figures["grpcio-uds"] = bench_grpc(options.grpc_python, options.count, options.warmup, client_cpu, server_cpu)
        else:
            print(f"(grpcio skipped: no {options.grpc_python}; scripts/install-bench-deps.sh makes it)")
        for peer, samples in figures.items():
            rows.append({"placement": placement, "peer": peer, "p50_us": percentile(samples, 0.5) / 1000,
                         "p99_us": percentile(samples, 0.99) / 1000, "mean_us": statistics.fmean(samples) / 1000})
            if options.samples:
                rows[-1]["samples_ns"] = samples
    floor = {r["placement"]: r["p50_us"] for r in rows if r["peer"] == "raw-python-fifo"}
    ours = {r["placement"]: r["p50_us"] for r in rows if r["peer"] == "pipebus-python"}
    print(f"{'placement':<10}{'peer':<18}{'p50 µs':>9}{'p99 µs':>9}  ratio")
    for row in rows:
        if row["peer"] == "pipebus-python":
            ratio = f"{row['p50_us'] / floor[row['placement']]:.2f}× raw"
        elif row["peer"] == "grpcio-uds":
            ratio = f"{row['p50_us'] / ours[row['placement']]:.1f}× pipebus-python"
        else:
            ratio = "1.00× (floor)"
        row["ratio"] = ratio
        print(f"{row['placement']:<10}{row['peer']:<18}{row['p50_us']:>9.1f}{row['p99_us']:>9.1f}  {ratio}")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
