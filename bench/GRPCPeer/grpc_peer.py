#!/usr/bin/env python3
"""The gRPC peer pipebus-bench compares against: unary echo over a Unix domain socket (grpcio).

    grpc_peer.py server --socket PATH --cpu N [--server sync|aio]   serves until stdin closes
    grpc_peer.py client --socket PATH --cpu N --sizes 64,1024,65536 --count N --warmup N

A generic handler for /pipebus.bench.Echo/Echo with no (de)serializers moves raw bytes, so no
.proto and no code generation are needed: what is measured is gRPC's HTTP/2 transport and call
path, not a protobuf codec (pipebus's own envelope encoding is in its figures, so this favours
gRPC slightly).

Each process pins itself with sched_setaffinity *before* importing grpc, so every thread grpc
starts (completion-queue pollers, the server's executor) inherits the pinning, as pipebus-bench's
own peers do. The client times each call with time.monotonic_ns (CLOCK_MONOTONIC) after a
warm-up, and prints one JSON object on stdout: every latency in measurement order, per size.
Installed by scripts/install-bench-deps.sh (a venv with grpcio); see bench/README.md.
"""

import argparse
import json
import os
import sys
import time

METHOD = "/pipebus.bench.Echo/Echo"
SERVICE = "pipebus.bench.Echo"
# Above the largest payload (64 KiB) with room: gRPC's default limit is 4 MiB anyway.
MAX_MESSAGE = 16 * 1024 * 1024
OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
]


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def serve_sync(socket_path):
    """grpc.server with one executor thread: the call hops from the poller to that thread."""
    from concurrent import futures

    import grpc

    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("unix:" + socket_path)
    server.start()
    sys.stdin.read()  # the harness closes our stdin to stop us
    server.stop(grace=None)


def serve_aio(socket_path):
    """grpc.aio.server: the handler runs on the event loop's thread."""
    import asyncio

    import grpc

    async def echo(request, context):
        return request

    async def main():
        handler = grpc.method_handlers_generic_handler(SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
        server = grpc.aio.server(options=OPTIONS)
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port("unix:" + socket_path)
        await server.start()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop(grace=None)

    asyncio.run(main())


def wait_for_socket(path, timeout_s):
    # The server binds when it starts: connecting earlier would fail and put the channel into
    # gRPC's reconnect backoff (a second or more), which is not what we measure.
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"grpc_peer client: no server socket at {path} after {timeout_s} s")
        time.sleep(0.005)


def run_client(arguments):
    import grpc

    wait_for_socket(arguments.socket, 30)
    channel = grpc.insecure_channel("unix:" + arguments.socket, options=OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=30)
    echo = channel.unary_unary(METHOD)  # no serializers: bytes in, bytes out
    clock = time.monotonic_ns
    cases = []
    for size in arguments.sizes:
        payload = os.urandom(size)
        for _ in range(arguments.warmup):
            echo(payload)
        samples = [0] * arguments.count
        start = clock()
        for index in range(arguments.count):
            before = clock()
            reply = echo(payload)
            samples[index] = clock() - before
        end = clock()
        if reply != payload:
            raise SystemExit(f"grpc_peer client: the {size} B echo differs from the payload sent")
        cases.append(
            {"size": size, "count": arguments.count, "start_ns": start, "end_ns": end, "samples_ns": samples}
        )
    channel.close()
    json.dump({"grpcio": grpc.__version__, "python": sys.version.split()[0], "cases": cases}, sys.stdout)
    sys.stdout.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=["server", "client", "check"])
    parser.add_argument("--socket", help="the Unix domain socket's path")
    parser.add_argument("--cpu", type=int, default=-1, help="pin to this CPU (before grpc starts any thread)")
    parser.add_argument(
        "--server", choices=["sync", "aio"], default="sync", help="server API (default sync, the faster here)"
    )
    parser.add_argument("--sizes", type=lambda text: [int(size) for size in text.split(",")], default=[64])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    arguments = parser.parse_args()
    if arguments.role == "check":
        import grpc

        print(grpc.__version__)
        return
    if not arguments.socket:
        parser.error("--socket is required")
    pin(arguments.cpu)
    if arguments.role == "server":
        (serve_aio if arguments.server == "aio" else serve_sync)(arguments.socket)
    else:
        run_client(arguments)


if __name__ == "__main__":
    main()
