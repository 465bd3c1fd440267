#!/usr/bin/env bash
# Regenerates the protobuf-c code in Sources/CPipeBusProto from proto/ (and the Python client's _pb2
# modules, clients/python/scripts/generate-proto.sh).
# With --check, regenerates into a temporary folder and fails when the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc-c >/dev/null || { echo "protoc-c not found: apt-get install protobuf-c-compiler" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t protos < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd proto && protoc-c --c_out="$out" "${protos[@]}")

target=Sources/CPipeBusProto
staged=$(mktemp -d)
trap 'rm -rf "$out" "$staged"' EXIT
mkdir -p "$staged/include" "$staged/src"
(cd "$out" && find . -name '*.pb-c.h' | while read -r h; do mkdir -p "$staged/include/$(dirname "$h")"; cp "$h" "$staged/include/$h"; done)
(cd "$out" && find . -name '*.pb-c.c' | while read -r c; do mkdir -p "$staged/src/$(dirname "$c")"; cp "$c" "$staged/src/$c"; done)

if [[ "${1:-}" == "--check" ]]; then
  if diff -r "$staged/include" "$target/include" >/dev/null && diff -r "$staged/src" "$target/src" >/dev/null; then
    echo "generated protobuf-c code matches proto/"
  else
    echo "generated protobuf-c code is out of date with proto/; run scripts/generate-proto.sh" >&2
    diff -ru "$target" "$staged" >&2 || true
    exit 1
  fi
else
  rm -rf "$target/include" "$target/src"
  mkdir -p "$target"
  cp -r "$staged/include" "$staged/src" "$target/"
  echo "regenerated $target"
fi

# The Python client's modules come from the same protos (absent in check-proto-drift-test.sh's copy).
if [[ -x clients/python/scripts/generate-proto.sh ]]; then
  clients/python/scripts/generate-proto.sh "$@"
fi
