#!/usr/bin/env bash
# Regenerates, from proto/:
#  - the protobuf-c code in Sources/CPipeBusProto (protoc-c);
#  - the Swift services in each module's Generated/ folder (tools/protoc-gen-pipebus, built here
#    once; PROTOC_GEN_PIPEBUS names a prebuilt one), as listed in swift_outputs below;
#  - the Python client's _pb2 modules (clients/python/scripts/generate-proto.sh).
# With --check, regenerates into a temporary folder and fails when the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each .proto with Swift services, and the folder its generated Swift goes to. (envelope.proto is
# the connection's own framing: hand-written in PipeBusCore, on the hot path.)
swift_outputs=(
  "pipebus/health/v1/health.proto=Sources/PipeBusHealth/Generated"
  "pipebus/testing/v1/echo.proto=Sources/PipeBusEcho/Generated"
  "pipebus/tasks/v1/tasks.proto=Sources/PipeBusTasks/Generated"
)

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

# The Swift services.
plugin=${PROTOC_GEN_PIPEBUS:-}
if [[ -z "$plugin" ]]; then
  swift build --package-path tools/protoc-gen-pipebus --product protoc-gen-pipebus >&2
  plugin="$(swift build --package-path tools/protoc-gen-pipebus --show-bin-path)/protoc-gen-pipebus"
fi
swift_failed=0
for entry in "${swift_outputs[@]}"; do
  proto=${entry%%=*} folder=${entry#*=}
  generated=$(mktemp -d)
  (cd proto && protoc --plugin=protoc-gen-pipebus="$plugin" --pipebus_out="$generated" "$proto")
  if [[ "${1:-}" == "--check" ]]; then
    if ! diff -r "$generated" "$folder" >/dev/null 2>&1; then
      echo "generated Swift in $folder is out of date with proto/$proto; run scripts/generate-proto.sh" >&2
      diff -ru "$folder" "$generated" >&2 || true
      swift_failed=1
    fi
  else
    rm -rf "$folder"
    mkdir -p "$folder"
    cp "$generated"/* "$folder/"
  fi
  rm -rf "$generated"
done
if [[ "${1:-}" == "--check" ]]; then
  [[ $swift_failed == 0 ]] || exit 1
  echo "generated Swift services match proto/"
else
  echo "regenerated the Swift services"
fi

# The Python client's modules come from the same protos (absent in check-proto-drift-test.sh's copy).
if [[ -x clients/python/scripts/generate-proto.sh ]]; then
  clients/python/scripts/generate-proto.sh "$@"
fi
