#!/usr/bin/env bash
# Builds the tests under a sanitizer and runs the suites that exercise concurrency and memory
# across threads and processes, failing on any report from the test process or from any child it
# starts (pipebus sidecars, test peers: built with the same sanitizer beside the test bundle).
#
#     scripts/sanitize.sh thread|address [swift test filter…]
#
# Each sanitizer has its own scratch folder (.build-tsan, .build-asan). Reports go to files under
# the scratch folder (log_path), one per process, so that a report from a child that a test killed
# is not lost; the run fails if any such file exists. Suppressions: scripts/sanitize/<kind>.supp.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:?usage: scripts/sanitize.sh thread|address [filter...]}
shift
case "$kind" in
    thread) scratch=.build-tsan ;;
    address) scratch=.build-asan ;;
    *) echo "usage: scripts/sanitize.sh thread|address [filter...]" >&2; exit 2 ;;
esac

# The subset (a regex per suite, `swift test --filter`): what runs threads, pipes and processes,
# without the suites whose assertions are wall-clock bounds that an instrumented debug build
# (5-15x slower) cannot meet. See CONTRIBUTING.md for the reasoning and the timings.
default_filters=(
    PipeBusCoreTests
    TransportConformanceTests MalformedInputTests PipeSecurityTests PeerServerFaultTests
    MultiProcessTests ClientInboxTests
    TaskSpool SpoolWatcherTests InotifyBacklog LeaseManager SpoolEventTranslatorTests TaskIDTests JSONLogHandlerTests SidecarMetricsTests
    MetricsHTTPServerTests ResourceSamplerTests ProcParserTests FuzzFindingsTests GracefulShutdownTests SidecarFaultTests
    EventLogDeadlockTests
)
# ProcParserTests trips a toolchain over-read under ASan (scripts/sanitize/address.supp).
if [ "$kind" = address ]; then
    kept=()
    for filter in "${default_filters[@]}"; do [ "$filter" = ProcParserTests ] || kept+=("$filter"); done
    default_filters=("${kept[@]}")
fi
filters=("$@")
[ ${#filters[@]} -eq 0 ] && filters=("${default_filters[@]}")
filter_args=()
for filter in "${filters[@]}"; do filter_args+=(--filter "$filter"); done

start=$(date +%s)
mkdir -p "$scratch"
if ! nice -n 10 swift build --build-tests --sanitize="$kind" --disable-default-traits --scratch-path "$scratch" >"$scratch/sanitize-build.log" 2>&1; then
    grep -Ev '^\[[0-9]+/[0-9]+\]|Cannot export local symbol' "$scratch/sanitize-build.log" | tail -40 >&2
    echo "sanitize: the $kind build failed" >&2
    exit 1
fi
built=$(date +%s)

reports="$PWD/$scratch/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
suppressions="$PWD/scripts/sanitize/$kind.supp"
export SWIFT_BACKTRACE=enable=no
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1:suppressions=$suppressions"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=0:halt_on_error=1:suppressions=$suppressions"
set +e
swift test --skip-build --sanitize="$kind" --disable-default-traits --scratch-path "$scratch" --no-parallel "${filter_args[@]}" \
    >"$scratch/sanitize-test.log" 2>&1
status=$?
set -e
grep -aE 'Test run with' "$scratch/sanitize-test.log" || true
grep -E '^✘' "$scratch/sanitize-test.log" | head -20 || true
finished=$(date +%s)
echo "sanitize: $kind build $((built - start)) s, tests $((finished - built)) s"

found=$(find "$reports" -type f | wc -l)
if [ "$found" -gt 0 ]; then
    echo "sanitize: $found $kind report file(s):" >&2
    for file in $(find "$reports" -type f | head -5); do
        echo "== $file" >&2
        grep -E 'WARNING|ERROR|SUMMARY|#[0-9] ' "$file" | head -30 >&2
    done
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "sanitize: the tests failed under $kind (exit $status); log: $scratch/sanitize-test.log" >&2
    tail -40 "$scratch/sanitize-test.log" >&2
    exit 1
fi
echo "sanitize: $kind clean"
