#!/usr/bin/env bash
# Builds every libFuzzer target in fuzz/ (fuzzer + AddressSanitizer, release) and runs each for
# SECONDS (default 60), two at a time, from the committed seed corpus. Fails when any target
# finds a crash, a broken invariant, a leak, a timeout or memory growth: a single allocation
# above 16 MiB (4× the 4 MiB frame limit) or a resident size above 2 GiB.
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]
#
# New inputs go to a scratch corpus in .build-fuzz/ (not committed); a failing input is saved as
# fuzz/artifacts/<target>-crash-… and can be replayed with `fuzz/.build/release/<target> FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz-frame-decoder fuzz-lz4 fuzz-envelope fuzz-connect-record fuzz-health fuzz-tasks fuzz-task-json)
fi
jobs=${FUZZ_JOBS:-2}
export SWIFT_BACKTRACE=enable=no

start=$(date +%s)
# Swift 6.3's `--sanitize=fuzzer` links libFuzzer but leaves Swift code without coverage
# instrumentation (only C targets get counters): without the -sanitize-coverage flags the fuzzer
# would run blind. inline-8bit-counters + pc-table is what this libFuzzer requires.
coverage=(-Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
for target in "${targets[@]}"; do
    mkdir -p .build-fuzz
    if ! nice -n 10 swift build --package-path fuzz -c release --sanitize=fuzzer --sanitize=address "${coverage[@]}" \
        --product "$target" >.build-fuzz/build.log 2>&1; then
        grep -Ev '^\[[0-9]+/[0-9]+\]|Cannot export local symbol' .build-fuzz/build.log | tail -40 >&2
        echo "fuzz: $target did not build" >&2
        exit 1
    fi
done
echo "fuzz: built ${#targets[@]} targets in $(( $(date +%s) - start )) s"

mkdir -p fuzz/artifacts .build-fuzz
# The longer frames need room: a frame stream of several frames, an LZ4 block of 64 KiB.
max_len() {
    case "$1" in
        fuzz-frame-decoder | fuzz-lz4) echo 65536 ;;
        *) echo 8192 ;;
    esac
}

# Extra libFuzzer flags per target.
extra_flags() {
    case "$1" in
        fuzz-task-json) echo "-dict=fuzz/dict/json.dict" ;;
    esac
}

run_one() {
    local target=$1 log=".build-fuzz/$1.log"
    mkdir -p ".build-fuzz/corpus/$target"
    set +e
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 nice -n 10 "fuzz/.build/release/$target" \
        ".build-fuzz/corpus/$target" "fuzz/corpus/$target" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=16 -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target-" $(extra_flags "$target") >"$log" 2>&1
    local status=$?
    set -e
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $target ok: ${runs:-?} executions in ${seconds} s, corpus $(ls ".build-fuzz/corpus/$target" | wc -l) new inputs"
    else
        echo "fuzz: $target FAILED (exit $status) after ${runs:-?} executions; log $log:" >&2
        grep -E 'ERROR|SUMMARY|fuzz invariant|Fatal error|out-of-memory|malloc\(|leak|Test unit written' "$log" | head -20 >&2
        return 1
    fi
}

failed=0
pids=()
for target in "${targets[@]}"; do
    run_one "$target" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
echo "fuzz: done in $(( $(date +%s) - start )) s"
exit $failed
