#!/usr/bin/env bash
# Proves that `scripts/generate-proto.sh --check` catches drift: in a copy of proto/, scripts/ and
# the generated code, the check must pass as committed and fail once a .proto gains a field, in the
# protobuf-c code and in the generated Swift; and after regenerating, the field is in the Swift type.
set -euo pipefail
cd "$(dirname "$0")/.."

# The plugin is built once, here, and handed to the copy's script.
swift build --package-path tools/protoc-gen-pipebus --product protoc-gen-pipebus >&2
export PROTOC_GEN_PIPEBUS="$(swift build --package-path tools/protoc-gen-pipebus --show-bin-path)/protoc-gen-pipebus"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/Sources" "$work/Tests/PipeBusPipesTests"
cp -r proto scripts "$work/"
cp -r Sources/CPipeBusProto Sources/PipeBusHealth Sources/PipeBusEcho Sources/PipeBusTasks "$work/Sources/"
cp -r Tests/Protos Tests/CPipeBusExampleProto "$work/Tests/"
cp -r Tests/PipeBusPipesTests/Generated "$work/Tests/PipeBusPipesTests/"

if ! "$work/scripts/generate-proto.sh" --check >/dev/null 2>&1; then
    echo "check-proto-drift-test: FAIL: --check fails on the committed code; run scripts/generate-proto.sh" >&2
    exit 1
fi

proto=$(cd "$work/proto" && find . -name '*.proto' | sort | head -n 1)
if [[ -z "$proto" ]]; then
    echo "check-proto-drift-test: FAIL: no .proto file under proto/" >&2
    exit 1
fi

# Add a field to the file's first message.
cp "$work/proto/$proto" "$work/before.proto"
sed -i '0,/^message [A-Za-z0-9_]* {$/s//&\n  uint32 drift_check_probe = 4999;  \/\/ added by check-proto-drift-test.sh/' "$work/proto/$proto"
if cmp -s "$work/before.proto" "$work/proto/$proto"; then
    echo "check-proto-drift-test: FAIL: found no message in proto/${proto#./} to add a field to" >&2
    exit 1
fi

if output=$("$work/scripts/generate-proto.sh" --check 2>&1); then
    echo "check-proto-drift-test: FAIL: --check passed after proto/${proto#./} gained a field" >&2
    exit 1
fi
# It must fail because of the drift, not because protoc-c could not read the changed file: both
# the C struct member and the Swift property are named in the differences.
if ! grep -q 'drift_check_probe' <<<"$output" || ! grep -q 'driftCheckProbe' <<<"$output"; then
    echo "check-proto-drift-test: FAIL: --check did not report the new field in both the C and the Swift code:" >&2
    echo "$output" >&2
    exit 1
fi

# Regenerated, the field is in the Swift type, and the check passes again.
"$work/scripts/generate-proto.sh" >/dev/null 2>&1
if ! grep -rq 'var driftCheckProbe: UInt32' "$work/Sources"/*/Generated; then
    echo "check-proto-drift-test: FAIL: after regenerating, no driftCheckProbe property in the generated Swift" >&2
    exit 1
fi
if ! "$work/scripts/generate-proto.sh" --check >/dev/null 2>&1; then
    echo "check-proto-drift-test: FAIL: --check fails right after regenerating" >&2
    exit 1
fi

echo "check-proto-drift-test: --check passes as committed, fails (C and Swift) after proto/${proto#./} gains a field, and after regenerating the field is in the Swift type"
