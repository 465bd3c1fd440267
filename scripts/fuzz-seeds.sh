#!/usr/bin/env bash
# Regenerates the fuzz seed corpus (fuzz/corpus/<target>/) from real frames and messages, as
# pipebus encodes them. Run after changing the wire format; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf fuzz/corpus
nice -n 10 swift run --package-path fuzz --scratch-path fuzz/.build-seeds -c debug fuzz-seeds fuzz/corpus
find fuzz/corpus -type f | sed 's|/[^/]*$||' | sort | uniq -c
