#!/usr/bin/env bash
# Regenerates, from proto/:
#  - the protobuf-c code in Sources/CPipeBusProto (protoc-c);
#  - the Swift services in each module's Generated/ folder (tools/protoc-gen-pipebus, built here
#    once; PROTOC_GEN_PIPEBUS names a prebuilt one), as listed in swift_outputs below;
#  - the Python client's _pb2 modules and grpcio stubs (clients/python/scripts/generate-proto.sh).
# With --check, regenerates into a temporary folder and fails when the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each .proto with Swift services, and the folder its generated Swift goes to. (envelope.proto is
# the connection's own framing: hand-written in PipeBusCore, on the hot path.)
swift_outputs=(
  "proto:pipebus/health/v1/health.proto=Sources/PipeBusHealth/Generated"
  "proto:pipebus/testing/v1/echo.proto=Sources/PipeBusEcho/Generated"
  "proto:pipebus/tasks/v1/tasks.proto=Sources/PipeBusTasks/Generated"
  "Tests/Protos:pipebus/example/v1/inventory.proto=Tests/PipeBusPipesTests/Generated:Visibility=internal,CModule=CPipeBusExampleProto"
)
# The test-only protos (docs/ADDING-A-SERVICE.md's example) and their protobuf-c code.
test_c_outputs=(
  "Tests/Protos=Tests/CPipeBusExampleProto"
)

command -v protoc-c >/dev/null || { echo "protoc-c not found: apt-get install protobuf-c-compiler" >&2; exit 1; }

# protobuf-c: every .proto under ROOT into TARGET's include/ and src/.
generate_c() {
  local root=$1 target=$2 out staged
  out=$(mktemp -d) staged=$(mktemp -d)
  local protos
  mapfile -t protos < <(cd "$root" && find . -name '*.proto' | sed 's|^\./||' | sort)
  (cd "$root" && protoc-c --c_out="$out" "${protos[@]}")
  mkdir -p "$staged/include" "$staged/src"
  (cd "$out" && find . -name '*.pb-c.h' | while read -r h; do mkdir -p "$staged/include/$(dirname "$h")"; cp "$h" "$staged/include/$h"; done)
  (cd "$out" && find . -name '*.pb-c.c' | while read -r c; do mkdir -p "$staged/src/$(dirname "$c")"; cp "$c" "$staged/src/$c"; done)
  if [[ "$mode" == "--check" ]]; then
    if diff -r "$staged/include" "$target/include" >/dev/null 2>&1 && diff -r "$staged/src" "$target/src" >/dev/null 2>&1; then
      echo "generated protobuf-c code in $target matches $root/"
    else
      echo "generated protobuf-c code in $target is out of date with $root/; run scripts/generate-proto.sh" >&2
      diff -ru "$target" "$staged" >&2 || true
      failed=1
    fi
  else
    rm -rf "$target/include" "$target/src"
    mkdir -p "$target"
    cp -r "$staged/include" "$staged/src" "$target/"
    echo "regenerated $target"
  fi
  rm -rf "$out" "$staged"
}

mode=${1:-}
# With --check, every check runs and reports before the script fails.
failed=0
generate_c proto Sources/CPipeBusProto
for entry in "${test_c_outputs[@]}"; do
  generate_c "${entry%%=*}" "${entry#*=}"
done

# The Swift services.
plugin=${PROTOC_GEN_PIPEBUS:-}
if [[ -z "$plugin" ]]; then
  swift build --package-path tools/protoc-gen-pipebus --product protoc-gen-pipebus >&2
  plugin="$(swift build --package-path tools/protoc-gen-pipebus --show-bin-path)/protoc-gen-pipebus"
fi
for entry in "${swift_outputs[@]}"; do
  root=${entry%%:*} rest=${entry#*:}
  proto=${rest%%=*} destination=${rest#*=}
  folder=${destination%%:*} options=""
  [[ "$destination" == *:* ]] && options="${destination#*:}:"
  generated=$(mktemp -d)
  (cd "$root" && protoc --plugin=protoc-gen-pipebus="$plugin" --pipebus_out="$options$generated" "$proto")
  if [[ "${1:-}" == "--check" ]]; then
    if ! diff -r "$generated" "$folder" >/dev/null 2>&1; then
      echo "generated Swift in $folder is out of date with proto/$proto; run scripts/generate-proto.sh" >&2
      diff -ru "$folder" "$generated" >&2 || true
      failed=1
    fi
  else
    rm -rf "$folder"
    mkdir -p "$folder"
    cp "$generated"/* "$folder/"
  fi
  rm -rf "$generated"
done
if [[ "$mode" == "--check" ]]; then
  [[ $failed == 0 ]] || exit 1
  echo "generated Swift services match their .proto files"
else
  echo "regenerated the Swift services"
fi

# The Python client's modules come from the same protos (absent in check-proto-drift-test.sh's copy).
if [[ -x clients/python/scripts/generate-proto.sh ]]; then
  clients/python/scripts/generate-proto.sh "$@"
fi
