#!/usr/bin/env bash
# Installs the benchmark's gRPC peer (bench/README.md, scenario `grpc`): Python grpcio in a venv.
#
#   python3-venv   Debian 12's Python is "externally managed": pip installs into a venv only
#   grpcio         the gRPC peer pipebus-bench compares against (bench/GRPCPeer/grpc_peer.py)
#   protobuf, lz4  the Python client's dependencies, for scenario `python`, which runs
#                  clients/python/bench/echo_bench.py from the source tree with this venv
#
# The venv lives at .build/bench-venv (or $PIPEBUS_BENCH_VENV), where pipebus-bench looks for
# it. Safe to run again: with grpcio importable it does nothing and needs no network.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PIPEBUS_BENCH_VENV:-$root/.build/bench-venv}
# The version the recorded run used; any recent grpcio works.
grpcio_version=${PIPEBUS_BENCH_GRPCIO_VERSION:-1.85.3}

if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c 'import grpc, google.protobuf, lz4.block' 2>/dev/null; then
    echo "install-bench-deps: grpcio $("$venv/bin/python" -c 'import grpc; print(grpc.__version__)') is installed in $venv"
    exit 0
fi

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
        echo "install-bench-deps: python3-venv is missing, and not root and no sudo to install it" >&2
        exit 1
    fi
    echo "install-bench-deps: installing python3-venv"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv </dev/null
fi

echo "install-bench-deps: creating $venv with grpcio $grpcio_version, protobuf and lz4"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "grpcio==$grpcio_version" \
    "protobuf>=3.20" "lz4>=3.1"
"$venv/bin/python" -c 'import grpc; print("install-bench-deps: grpcio", grpc.__version__, "ready")'
