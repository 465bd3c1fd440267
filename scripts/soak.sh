#!/usr/bin/env bash
# Soak: a sidecar supervising one pipe worker (`pipebus worker`) that processes tasks, four clients
# submitting tasks and health-checking it through the `pipebus` CLI, each also holding a `pipebus
# watch` stream open, and a client process SIGKILLed every KILL_EVERY seconds (default 3), mid-call
# or mid-stream. Runs for MINUTES (default 10; fractions allowed), then lets the queue drain and
# checks:
#
#   - the sidecar's RSS grew by at most RSS_BOUND_MB (default 32 MiB) from its start (after warm-up)
#     to the end;
#   - the sidecar and the worker hold no more descriptors than before the clients came (fd leak),
#     and the FIFO directory holds only `connect` and `server.lock` (FIFO leak);
#   - every task a client saw acknowledged is in completed/ or failed/, exactly once, nothing is
#     left in pending/ or active/; a task whose client was killed before the acknowledgement is
#     either nowhere or finished the same way;
#   - SIGTERM then stops the sidecar and its worker with exit 0.
#
#     scripts/soak.sh [MINUTES]
#
# Environment: PIPEBUS_EXECUTABLE (default: a debug build, built if needed), RSS_BOUND_MB,
# KILL_EVERY. Prints the figures, and exits 1 on any failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
rss_bound_mb=${RSS_BOUND_MB:-32}
kill_every=${KILL_EVERY:-3}
clients=4

if [ -z "${PIPEBUS_EXECUTABLE:-}" ]; then
    nice -n 10 swift build --product pipebus >/dev/null
    PIPEBUS_EXECUTABLE="$(swift build --show-bin-path)/pipebus"
fi
pipebus=$PIPEBUS_EXECUTABLE
root=$(mktemp -d /tmp/pipebus-soak-XXXXXX)
work="$root/soak"
mkdir -p "$work"
worker=soak
sidecar_pid=""
loop_pids=()

cleanup() {
    for pid in "${loop_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for f in "$work"/watch-*.pid "$work"/call-*.pid; do
        if [ -f "$f" ]; then kill -KILL "$(cat "$f")" 2>/dev/null || true; fi
    done
    if [ -n "$sidecar_pid" ]; then
        if [ -n "${worker_pid:-}" ]; then kill -KILL "$worker_pid" 2>/dev/null || true; fi
        kill -KILL "$sidecar_pid" 2>/dev/null || true
    fi
    if [ "${KEEP_SOAK_ROOT:-0}" = 1 ]; then echo "soak: kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# A process's descriptors as "fd target" lines. The fewest of five looks 0.2 s apart: a file the
# heartbeat or a spool write has open for a moment is not a leak; a leaked descriptor stays.
fd_targets() {
    local best="" best_count=1000000 listing count
    for _ in 1 2 3 4 5; do
        listing=$(for fd in /proc/"$1"/fd/*; do printf '%s %s\n' "${fd##*/}" "$(readlink "$fd" 2>/dev/null || echo gone)"; done | sort -n)
        count=$(printf '%s\n' "$listing" | grep -c -v ' gone$' || true)
        if [ "$count" -lt "$best_count" ]; then best=$listing; best_count=$count; fi
        sleep 0.2
    done
    printf '%s\n' "$best" | grep -v ' gone$'
}
fifo_names() { ls "$root/workers/$worker/instances/soak/pipes" | sort | tr '\n' ' '; }
state_count() { find "$root/tasks/$worker/$1" -maxdepth 1 -name '*.json' | wc -l; }

# The sidecar and its worker (the worker takes tasks 10 at a time, 2-30 ms each). A crash
# prints Swift's backtrace into sidecar.log (off by default when stderr is not a terminal).
SWIFT_BACKTRACE=enable=yes,interactive=no,color=no PIPEBUS_ROOT=$root nice -n 10 "$pipebus" sidecar --worker "$worker" --root "$root" --mode pipe \
    --heartbeat-interval 1 --metrics-address 127.0.0.1:0 --instance soak --log-level warning \
    -- "$pipebus" worker --min-ms 2 --max-ms 30 --log-level warning >"$work/sidecar.log" 2>&1 &
sidecar_pid=$!
for _ in $(seq 1 300); do
    "$pipebus" health --root "$root" --worker "$worker" >/dev/null 2>&1 && break
    sleep 0.1
done
"$pipebus" health --root "$root" --worker "$worker" >/dev/null || { echo "soak: the sidecar never became SERVING" >&2; tail -20 "$work/sidecar.log" >&2; exit 1; }
worker_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["worker_pid"])' "$root/workers/$worker/heartbeat.json")

# A few tasks through the whole path before the baseline is taken (first-use allocations).
for n in $(seq 1 20); do echo "{\"n\": $n, \"duration_ms\": 1}" | "$pipebus" submit --root "$root" --worker "$worker" --id "warmup-$n" - >/dev/null; done
sleep 3
fd_targets "$sidecar_pid" >"$work/sidecar-fds-before"
fd_targets "$worker_pid" >"$work/worker-fds-before"
base_sidecar_fds=$(wc -l <"$work/sidecar-fds-before")
base_worker_fds=$(wc -l <"$work/worker-fds-before")
base_fifos=$(fifo_names)

# One client: submits in a loop, health-checks every tenth time, and keeps a watch stream open.
client_loop() {
    local k=$1 n=0
    "$pipebus" watch --root "$root" --worker "$worker" >/dev/null 2>&1 &
    echo $! >"$work/watch-$k.pid"
    while true; do
        n=$((n + 1))
        local id="c$k-$n" fail=false
        [ $((RANDOM % 20)) -eq 0 ] && fail=true
        echo "$id" >>"$work/attempted-$k"
        echo "{\"client\": $k, \"n\": $n, \"duration_ms\": $((RANDOM % 20)), \"fail\": $fail}" |
            "$pipebus" submit --root "$root" --worker "$worker" --id "$id" - >/dev/null 2>>"$work/submit-errors-$k" &
        echo $! >"$work/call-$k.pid"
        if wait $!; then echo "$id" >>"$work/acknowledged-$k"; fi
        if [ $((n % 10)) -eq 0 ]; then
            "$pipebus" health --root "$root" --worker "$worker" >/dev/null 2>&1 || echo "health $n" >>"$work/health-failures-$k"
        fi
        # Restart the watch stream if it was killed.
        if ! kill -0 "$(cat "$work/watch-$k.pid")" 2>/dev/null; then
            "$pipebus" watch --root "$root" --worker "$worker" >/dev/null 2>&1 &
            echo $! >"$work/watch-$k.pid"
        fi
        sleep 0.05
    done
}

for k in $(seq 1 $clients); do
    # (stderr: bash's "Killed" notices for the victims)
    client_loop "$k" 2>/dev/null &
    loop_pids+=($!)
done
sleep 10
start_rss_kb=$(rss_kb "$sidecar_pid")
start_worker_rss_kb=$(rss_kb "$worker_pid")
echo "soak: ${minutes} min, $clients clients, a client killed every ${kill_every} s; sidecar pid $sidecar_pid, worker pid $worker_pid"

kills=0
deadline=$(( $(date +%s) + seconds - 10 ))
# The sidecar's RSS about once a minute, to tell growth that levels off from a leak.
rss_series="$start_rss_kb"
next_sample=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep "$kill_every"
    if [ "$(date +%s)" -ge "$next_sample" ]; then
        rss_series="$rss_series $(rss_kb "$sidecar_pid")"
        next_sample=$(( next_sample + 60 ))
    fi
    k=$(( RANDOM % clients + 1 ))
    if [ $((kills % 2)) -eq 0 ]; then victim=$(cat "$work/call-$k.pid" 2>/dev/null || true); else victim=$(cat "$work/watch-$k.pid" 2>/dev/null || true); fi
    if [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null; then kills=$((kills + 1)); fi
    kill -0 "$sidecar_pid" 2>/dev/null || {
        echo "soak: the sidecar died" >&2
        tail -20 "$work/sidecar.log" >&2
        grep -v '^{' "$work/sidecar.log" | head -80 >&2 || true  # the crash report, if any
        exit 1
    }
done

# Stop the clients (and their watch streams), then let the queue drain.
for pid in "${loop_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${loop_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
loop_pids=()
for f in "$work"/watch-*.pid "$work"/call-*.pid; do kill -KILL "$(cat "$f")" 2>/dev/null || true; done
for _ in $(seq 1 600); do
    [ "$(state_count pending)" -eq 0 ] && [ "$(state_count active)" -eq 0 ] && break
    sleep 0.1
done
sleep 3
end_rss_kb=$(rss_kb "$sidecar_pid")
end_worker_rss_kb=$(rss_kb "$worker_pid")
fd_targets "$sidecar_pid" >"$work/sidecar-fds-after"
fd_targets "$worker_pid" >"$work/worker-fds-after"
end_sidecar_fds=$(wc -l <"$work/sidecar-fds-after")
end_worker_fds=$(wc -l <"$work/worker-fds-after")
# A client killed between its `mkfifo` and its connect record leaves a FIFO pair that only the
# sidecar's sweep removes, once the pair is older than PipeServer's abandonedFIFOAge (30 s). A
# kill in the soak's last 30 s can leave one: wait for the sweep (that bound, plus two sweep
# intervals) rather than call the pair a leak.
fifo_wait=0
while [ "$(fifo_names)" != "$base_fifos" ] && [ "$fifo_wait" -lt 33 ]; do sleep 1; fifo_wait=$((fifo_wait + 1)); done
end_fifos=$(fifo_names)
# The port the sidecar serves /metrics on: its listening TCP socket, found by inode.
metrics_port=$(python3 - "$sidecar_pid" <<'PY'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if target.startswith("socket:["):
        inodes.add(target[8:-1])
for line in open(f"/proc/{pid}/net/tcp").read().splitlines()[1:]:
    fields = line.split()
    if fields[3] == "0A" and fields[9] in inodes:
        print(int(fields[1].split(":")[1], 16))
        break
PY
)
connection_errors=$(curl -s --max-time 5 "http://127.0.0.1:$metrics_port/metrics" | grep '^pipe_connection_errors_total' | sed 's/{.*reason="\([^"]*\)".*} / \1=/' | awk '{ print $2 }' | grep -v '=0$' | tr '\n' ' ' || true)

kill -TERM "$sidecar_pid"
exit_status=0
for _ in $(seq 1 300); do kill -0 "$sidecar_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$sidecar_pid" 2>/dev/null; then
    echo "soak: the sidecar did not exit within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$sidecar_pid" "$worker_pid" 2>/dev/null || true
fi
wait "$sidecar_pid" || exit_status=$?
sidecar_pid=""

# Account for every task.
cat "$work"/acknowledged-* 2>/dev/null | sort -u >"$work/acknowledged"
cat "$work"/attempted-* | sort -u >"$work/attempted"
python3 - "$root/tasks/$worker" "$work" >"$work/accounting" <<'EOF'
import os, sys
spool, work = sys.argv[1], sys.argv[2]
where = {}
for state in ("pending", "active", "completed", "failed"):
    for name in os.listdir(os.path.join(spool, state)):
        if name.endswith(".json") and not name.startswith("."):
            where.setdefault(name[:-5], []).append(state)
acknowledged = set(open(os.path.join(work, "acknowledged")).read().split())
attempted = set(open(os.path.join(work, "attempted")).read().split())
problems = []
for task, states in where.items():
    if len(states) != 1: problems.append(f"{task} in {states}")
    elif states[0] in ("pending", "active"): problems.append(f"{task} left in {states[0]}/")
for task in acknowledged:
    if task not in where: problems.append(f"{task} acknowledged but in no folder")
unacked = attempted - acknowledged
print(f"submitted={len(acknowledged)} completed={sum(1 for t in acknowledged if where.get(t) == ['completed'])} "
      f"failed={sum(1 for t in acknowledged if where.get(t) == ['failed'])} "
      f"killed_before_ack={len(unacked)} of_which_stored={sum(1 for t in unacked if t in where)} "
      f"problems={len(problems)}")
for line in problems[:20]: print("  " + line)
EOF

growth_kb=$((end_rss_kb - start_rss_kb))
echo "soak: sidecar RSS about every minute (kB): $rss_series $end_rss_kb"
echo "soak: sidecar RSS ${start_rss_kb} kB -> ${end_rss_kb} kB (growth ${growth_kb} kB, bound $((rss_bound_mb * 1024)) kB); worker RSS ${start_worker_rss_kb} kB -> ${end_worker_rss_kb} kB"
echo "soak: fds sidecar ${base_sidecar_fds} -> ${end_sidecar_fds}, worker ${base_worker_fds} -> ${end_worker_fds}; FIFO directory: [${base_fifos}] -> [${end_fifos}] (after ${fifo_wait} s of waiting for the sweep)"
echo "soak: client kills ${kills}; connection errors: ${connection_errors:-none}; sidecar exit after SIGTERM: ${exit_status}"
echo "soak: tasks $(head -1 "$work/accounting")"
tail -n +2 "$work/accounting"

failed=0
[ "$growth_kb" -le $((rss_bound_mb * 1024)) ] || { echo "soak: FAIL: RSS grew by ${growth_kb} kB" >&2; failed=1; }
for process in sidecar worker; do
    before=$(wc -l <"$work/$process-fds-before")
    after=$(wc -l <"$work/$process-fds-after")
    if [ "$after" -gt "$before" ]; then
        echo "soak: FAIL: $process fd leak; descriptors before and after (diff):" >&2
        diff "$work/$process-fds-before" "$work/$process-fds-after" >&2 || true
        failed=1
    fi
done
[ "$end_fifos" = "connect server.lock " ] || { echo "soak: FAIL: FIFO directory holds [${end_fifos}]" >&2; failed=1; }
grep -q ' problems=0$' "$work/accounting" || { echo "soak: FAIL: tasks unaccounted" >&2; failed=1; }
[ "$exit_status" -eq 0 ] || { echo "soak: FAIL: the sidecar exited with ${exit_status} after SIGTERM" >&2; failed=1; }
[ "$kills" -gt 0 ] || { echo "soak: FAIL: no client was killed" >&2; failed=1; }
if [ "$failed" -eq 0 ]; then echo "soak: ok"; else tail -20 "$work/sidecar.log" >&2; fi
exit $failed
