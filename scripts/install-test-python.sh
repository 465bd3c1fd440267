#!/usr/bin/env bash
# Installs the Python packages the tests use as real peers, in a venv (Debian 12's Python is
# "externally managed": pip installs into a venv only):
#
#   opentelemetry-proto   decodes real OTLP/HTTP exports in scripts/otlp-receiver.py (tracing tests)
#   pytest, lz4, opentelemetry-api and clients/python itself: the Python client's tests
#                         (clients/python/tests; `make test` runs them from the source tree)
#   grpcio, grpcio-health-checking  real gRPC peers of the sidecar's --grpc-listen bridge (the
#                         package's `grpc` extra, and the standard grpc.health.v1 client)
#   grpcio-tools          the grpcio stubs of clients/python/scripts/generate-proto.sh (and its
#                         drift check): the version that script pins, read from it
#
# The venv lives at .build/test-venv (or $PIPEBUS_TEST_VENV), where the tests look for it. Safe to
# run again: with the packages importable it does nothing and needs no network.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PIPEBUS_TEST_VENV:-$root/.build/test-venv}
otel_proto_version=1.45.2
grpcio_version=1.85.3
grpcio_health_checking_version=1.85.1
grpcio_tools_version=$(sed -n 's/^grpcio_tools_version=//p' "$root/clients/python/scripts/generate-proto.sh")
[[ -n $grpcio_tools_version ]] || { echo "install-test-python: no grpcio_tools_version= in clients/python/scripts/generate-proto.sh" >&2; exit 1; }
packages=("opentelemetry-proto==$otel_proto_version" "opentelemetry-api==$otel_proto_version" "pytest==9.2.0" "lz4==4.4.5"
          "grpcio==$grpcio_version" "grpcio-tools==$grpcio_tools_version" "grpcio-health-checking==$grpcio_health_checking_version")
imports='import opentelemetry.proto.collector.trace.v1.trace_service_pb2, opentelemetry.trace, pytest, lz4.block, pipebus'
imports+=", grpc, grpc_tools.protoc, grpc_health.v1.health_pb2_grpc, importlib.metadata as m"
imports+="; assert m.version('grpcio-tools') == '$grpcio_tools_version'"

if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c "$imports" 2>/dev/null; then
    echo "install-test-python: opentelemetry-proto, pytest, grpcio and pipebus are installed in $venv"
    exit 0
fi
echo "install-test-python: creating $venv with ${packages[*]} and clients/python"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${packages[@]}"
# The package as a user installs it (a build from its pyproject.toml, with its grpc extra), which
# also proves it installs.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root/clients/python[grpc]"
"$venv/bin/python" -c "$imports"
"$venv/bin/python" -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2; print("install-test-python: ready")'
