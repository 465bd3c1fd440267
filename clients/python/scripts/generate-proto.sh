#!/usr/bin/env bash
# Regenerates the Python protobuf modules of clients/python/pipebus from proto/ (every .proto file,
# so `pipebus.v1`, `pipebus.tasks.v1`, ... become subpackages of the `pipebus` package), and the
# grpcio stubs (`*_pb2_grpc.py`) of every .proto that declares a service, for calling a sidecar's
# `--grpc-listen` bridge (the package's optional `grpc` extra).
# With --check, regenerates into a temporary folder and fails when the committed modules differ.
#
# The _pb2 modules come from Debian 12's protoc (3.21, package protobuf-compiler): its output loads
# on protobuf runtimes from 3.20 to 7.x, so the package can depend on a wide protobuf range. PROTOC
# overrides it. The stubs come from grpcio-tools' plugin, pinned below (its output names its own
# version, and grpcio refuses stubs newer than itself); the Python that has it is $PYTHON, else the
# test venv that scripts/install-test-python.sh makes (which installs this very version).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
proto_dir=${PIPEBUS_PROTO_DIR:-$repo/proto}
target=${PIPEBUS_PY_TARGET:-$here/pipebus}
protoc=${PROTOC:-protoc}
grpcio_tools_version=1.85.1
venv_python=${PIPEBUS_TEST_VENV:-$repo/.build/test-venv}/bin/python
if [[ -n ${PYTHON:-} ]]; then python=$PYTHON; elif [[ -x $venv_python ]]; then python=$venv_python; else python=python3; fi

command -v "$protoc" >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
version=$("$protoc" --version)
[[ $version == "libprotoc 3.21."* ]] || { echo "expected protoc 3.21 (Debian 12's protobuf-compiler), found $version" >&2; exit 1; }
tools_version=$("$python" -c 'import importlib.metadata as m, grpc_tools; print(m.version("grpcio-tools"))' 2>/dev/null) ||
    { echo "grpcio-tools is not importable by $python: run scripts/install-test-python.sh (or set PYTHON)" >&2; exit 1; }
[[ $tools_version == "$grpcio_tools_version" ]] ||
    { echo "expected grpcio-tools $grpcio_tools_version in $python, found $tools_version: run scripts/install-test-python.sh" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t protos < <(cd "$proto_dir" && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd "$proto_dir" && "$protoc" --python_out="$out" "${protos[@]}")
# Stubs only where there is a service (the plugin writes an import-only module for the others).
mapfile -t services < <(cd "$proto_dir" && grep -l '^service ' "${protos[@]}")
if ((${#services[@]})); then (cd "$proto_dir" && "$python" -m grpc_tools.protoc -I. --grpc_python_out="$out" "${services[@]}"); fi
# Every folder of generated code is a subpackage of `pipebus` (which is `out/pipebus` itself).
(cd "$out" && find pipebus -mindepth 1 -type d | while read -r d; do : >"$d/__init__.py"; done)
mapfile -t generated < <(cd "$out/pipebus" && find . -type f | sed 's|^\./||' | sort)

if [[ "${1:-}" == "--check" ]]; then
    # Compares the generated files and the committed ones (every *_pb2.py, *_pb2_grpc.py and their
    # folders' __init__).
    mapfile -t committed < <(cd "$target" && find . -name '*_pb2.py' -o -name '*_pb2_grpc.py' | sed 's|^\./||' | sort)
    status=0
    for f in "${generated[@]}"; do
        if ! cmp -s "$out/pipebus/$f" "$target/$f"; then
            echo "clients/python/pipebus/$f is out of date with proto/; run clients/python/scripts/generate-proto.sh" >&2
            diff -u "$target/$f" "$out/pipebus/$f" >&2 || true
            status=1
        fi
    done
    for f in "${committed[@]}"; do
        [[ -f "$out/pipebus/$f" ]] || { echo "clients/python/pipebus/$f has no .proto any more; run clients/python/scripts/generate-proto.sh" >&2; status=1; }
    done
    [[ $status == 0 ]] && echo "generated Python protobuf code and grpcio stubs match proto/"
    exit $status
fi

# Remove modules whose .proto is gone, then copy the new ones in.
(cd "$target" && find . \( -name '*_pb2.py' -o -name '*_pb2_grpc.py' \) -delete)
for f in "${generated[@]}"; do
    mkdir -p "$target/$(dirname "$f")"
    cp "$out/pipebus/$f" "$target/$f"
done
echo "regenerated ${#generated[@]} files in clients/python/pipebus"
