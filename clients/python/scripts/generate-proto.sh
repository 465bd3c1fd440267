#!/usr/bin/env bash
# Regenerates the Python protobuf modules of clients/python/pipebus from proto/ (every .proto file,
# so `pipebus.v1`, `pipebus.tasks.v1`, ... become subpackages of the `pipebus` package).
# With --check, regenerates into a temporary folder and fails when the committed modules differ.
#
# Uses Debian 12's protoc (3.21, package protobuf-compiler): its output loads on protobuf runtimes
# from 3.20 to 7.x, so the package can depend on a wide protobuf range. PROTOC overrides it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
proto_dir=${PIPEBUS_PROTO_DIR:-$repo/proto}
target=${PIPEBUS_PY_TARGET:-$here/pipebus}
protoc=${PROTOC:-protoc}

command -v "$protoc" >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
version=$("$protoc" --version)
[[ $version == "libprotoc 3.21."* ]] || { echo "expected protoc 3.21 (Debian 12's protobuf-compiler), found $version" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t protos < <(cd "$proto_dir" && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd "$proto_dir" && "$protoc" --python_out="$out" "${protos[@]}")
# Every folder of generated code is a subpackage of `pipebus` (which is `out/pipebus` itself).
(cd "$out" && find pipebus -mindepth 1 -type d | while read -r d; do : >"$d/__init__.py"; done)
mapfile -t generated < <(cd "$out/pipebus" && find . -type f | sed 's|^\./||' | sort)

if [[ "${1:-}" == "--check" ]]; then
    # Compares the generated files and the committed ones (every *_pb2.py and its folders' __init__).
    mapfile -t committed < <(cd "$target" && find . -name '*_pb2.py' | sed 's|^\./||' | sort)
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
    [[ $status == 0 ]] && echo "generated Python protobuf code matches proto/"
    exit $status
fi

# Remove modules whose .proto is gone, then copy the new ones in.
(cd "$target" && find . -name '*_pb2.py' -delete)
for f in "${generated[@]}"; do
    mkdir -p "$target/$(dirname "$f")"
    cp "$out/pipebus/$f" "$target/$f"
done
echo "regenerated ${#generated[@]} files in clients/python/pipebus"
