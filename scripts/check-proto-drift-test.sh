#!/usr/bin/env bash
# Proves that `scripts/generate-proto.sh --check` catches drift: in a copy of proto/, scripts/ and
# the generated code, the check must pass as committed and fail once a .proto gains a field.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/Sources"
cp -r proto scripts "$work/"
cp -r Sources/CPipeBusProto "$work/Sources/"

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
# It must fail because of the drift, not because protoc-c could not read the changed file.
if ! grep -q 'drift_check_probe' <<<"$output"; then
    echo "check-proto-drift-test: FAIL: --check failed for another reason:" >&2
    echo "$output" >&2
    exit 1
fi

echo "check-proto-drift-test: --check passes as committed and fails after proto/${proto#./} gains a field"
