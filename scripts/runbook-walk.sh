#!/usr/bin/env bash
# Walks ../shared/runbook/slow-task-processing.md (the on-call runbook of the system pipebus serves)
# against a live pipebus deployment on a fresh root, as an on-call engineer would, and prints each
# step's command and the first lines of what it printed.
#
#   scripts/runbook-walk.sh [--settle SECONDS] [--keep]
#
# The deployment: three sidecars (marie: a slow spool worker in Python, 3-35 s tasks, ~15 %
# failures; anga: a quick spool worker in Python; fabien: `pipebus worker`, a pipe worker), a
# backlog with stuck tasks, a real Prometheus scraping all three and evaluating deploy/'s alert
# rules, and an OTLP receiver standing in for Jaeger. Jaeger and Loki are not here: their steps
# read the same data from the OTLP receiver's spans.jsonl and the sidecars' JSON logs.
# Needs: a built pipebus (PIPEBUS_EXECUTABLE, else `swift build --show-bin-path`), prometheus,
# promtool, curl, python3, and .build/test-venv (scripts/install-test-python.sh). The runbook's
# snippets are taken from RUNBOOK (default ../shared/runbook/slow-task-processing.md beside the project).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
settle=75
keep=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --settle) settle=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: $0 [--settle SECONDS] [--keep]" >&2; exit 2 ;;
    esac
done
bin=${PIPEBUS_EXECUTABLE:-$(cd "$here" && swift build --show-bin-path)/pipebus}
venv_python=${PIPEBUS_TEST_VENV:-$here/.build/test-venv}/bin/python
root=$(mktemp -d /tmp/pipebus-walk-XXXXXX)
export PIPEBUS_ROOT=$root
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $keep -eq 1 ]]; then echo "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
step=0
show() {  # show TITLE COMMAND... : runs a command, prints it and the first lines of its output
    local title=$1; shift
    step=$((step + 1))
    printf '\n### %d. %s\n$ %s\n' "$step" "$title" "$*"
    local status=0
    ( "$@" ) > "$root/step.out" 2>&1 || status=$?
    head -n "${LINES_SHOWN:-12}" "$root/step.out"
    local total; total=$(wc -l < "$root/step.out")
    [[ $total -gt ${LINES_SHOWN:-12} ]] && echo "… ($total lines)"
    echo "(exit $status)"
}
promql() {  # the runbook's curl, against the walk's Prometheus, one line per series
    curl -s "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
reply = json.load(sys.stdin)
if reply.get("status") != "success": print(reply); sys.exit(1)
for series in reply["data"]["result"]:
    labels = {k: v for k, v in series["metric"].items() if k in ("worker", "instance", "exported_instance", "host", "reason", "__name__", "state")}
    print(labels, series["value"][1])
if not reply["data"]["result"]: print("(no series)")'
}

runbook=${RUNBOOK:-$here/../shared/runbook/slow-task-processing.md}
snippets=$root/snippets
mkdir -p "$root/logs"
python3 "$here/scripts/runbook-walk/extract.py" "$runbook" "$root" "$snippets"
otlp_port=$(free_port)
"$venv_python" "$here/scripts/otlp-receiver.py" --port "$otlp_port" --out "$root/spans.jsonl" > "$root/logs/otlp.log" 2>&1 &
pids+=($!)
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$otlp_port

declare -A ports
for worker in marie anga fabien; do ports[$worker]=$(free_port); done
start_sidecar() {  # start_sidecar WORKER [sidecar flags...] -- worker command
    local worker=$1; shift
    "$bin" sidecar --worker "$worker" --root "$root" --metrics-address "127.0.0.1:${ports[$worker]}" \
        --heartbeat-interval 1 "$@" > "$root/logs/$worker.log" 2>&1 &
    pids+=($!)
}
start_sidecar marie -- "$here/scripts/runbook-walk/spool_worker.py" --min-s 3 --max-s 35 --fail 0.15 --slots 4
start_sidecar anga -- "$here/scripts/runbook-walk/spool_worker.py" --min-s 0.5 --max-s 4 --fail 0.15 --slots 4
start_sidecar fabien --mode pipe -- "$bin" worker --min-ms 200 --max-ms 3000

prom_port=$(free_port)
mkdir -p "$root/prometheus"
cat > "$root/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - $here/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: pipebus
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:${ports[marie]}', '127.0.0.1:${ports[anga]}', '127.0.0.1:${ports[fabien]}']
YAML
prometheus --config.file="$root/prometheus/prometheus.yml" --storage.tsdb.path="$root/prometheus/data" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn > "$root/logs/prometheus.log" 2>&1 &
pids+=($!)

for worker in marie anga fabien; do
    for _ in $(seq 100); do "$bin" health --worker "$worker" > /dev/null 2>&1 && break; sleep 0.1; done
done
echo "root $root; sidecars marie :${ports[marie]}, anga :${ports[anga]}, fabien :${ports[fabien]}; prometheus :$prom_port"

# The backlog: slow work for marie, quick for anga and fabien, three stuck tasks, some failures.
for i in 1 2; do echo "{\"job\": \"hang\", \"stuck\": true}" | "$bin" submit --worker marie - > /dev/null; done
for i in $(seq 1 24); do echo "{\"job\": \"summarise\", \"n\": $i}" | "$bin" submit --worker marie - > /dev/null; done
for i in $(seq 1 30); do echo "{\"job\": \"classify\", \"n\": $i}" | "$bin" submit --worker anga - > /dev/null; done
for i in $(seq 1 30); do echo "{\"job\": \"embed\", \"n\": $i, \"fail\": $([[ $((i % 6)) -eq 0 ]] && echo true || echo false)}" | "$bin" submit --worker fabien - > /dev/null; done
echo '{"job": "hang", "stuck": true}' | "$bin" submit --worker fabien - > /dev/null
echo "backlog submitted; letting it run ${settle}s"
sleep "$settle"

printf '\n## Immediate actions\n'
show "Check current system status: active tasks" promql 'active_tasks'
show "Check current system status: queue depth" promql 'task_queue_depth'
show "Check current system status: error rate" promql 'rate(task_failed_total[5m])'
show "The same, one command" "$bin" status
show "Identify slow tasks (Jaeger stand-in: pipebus.task spans of 30 s or more)" python3 -c "
import json
spans = [json.loads(l) for l in open('$root/spans.jsonl')]
ms = lambda s: (s['end_ns'] - s['start_ns']) / 1e6
slow = sorted((s for s in spans if s['name'] == 'pipebus.task' and ms(s) >= 30000), key=ms, reverse=True)
print(len(spans), 'spans;', len(slow), 'pipebus.task spans of 30 s or more')
for s in slow[:5]: print(s['trace_id'], s['attributes'].get('pipebus.task.id'), round(ms(s)), 'ms')"
show "Slow and stuck tasks by time in state" "$bin" tasks --worker marie --state active
show "Check worker health (the runbook's Python, verbatim)" env PYTHONPATH="$snippets/stand-in" python3 "$snippets/check_worker_health.py"

printf '\n## Root cause analysis\n'
show "CPU usage (host-wide gauge, one per host)" promql 'max by (host) (system_cpu_usage_percent)'
show "Memory usage" promql 'max by (host) (system_memory_usage_bytes)'
show "Disk I/O" promql 'max by (host) (rate(system_io_operations_total[5m]))'
show "Claude invocation failures" promql 'rate(claude_api_errors_total[5m])'
show "Claude memory" promql 'claude_memory_usage_bytes'
show "Pipe errors" promql 'rate(pipe_connection_errors_total[5m])'
show "Pipe write latency p95" promql 'histogram_quantile(0.95, sum by (le, worker) (rate(pipe_write_latency_seconds_bucket[5m])))'
show "Everything above, ranked, one command" "$bin" diagnose

printf '\n## Detailed investigation\n'
slow_task=$(python3 -c "
import json
spans = [json.loads(l) for l in open('$root/spans.jsonl')]
tasks = [s for s in spans if s['name'] == 'pipebus.task' and s['attributes'].get('pipebus.worker') == 'marie']
print(max(tasks, key=lambda s: s['end_ns'] - s['start_ns'])['attributes']['pipebus.task.id'] if tasks else '')")
show "Trace analysis (the spans of one slow task's trace)" python3 -c "
import json
spans = [json.loads(l) for l in open('$root/spans.jsonl')]
ms = lambda s: (s['end_ns'] - s['start_ns']) / 1e6
trace = next((s['trace_id'] for s in spans if s['attributes'].get('pipebus.task.id') == '$slow_task'), None)
for s in sorted((s for s in spans if s['trace_id'] == trace), key=ms, reverse=True)[:5]:
    print(s['name'], round(ms(s)), 'ms', 'status', s['status_code'], s['status_message'])"
show "Log correlation by task id (Loki stand-in)" grep -h "\"task_id\":\"$slow_task\"" "$root/logs/marie.log"
corr=$(grep -h "\"task_id\":\"$slow_task\"" "$root/logs/marie.log" | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline()).get("correlation_id",""))' || true)
show "Log correlation by correlation id" grep -hc "\"correlation_id\":\"$corr\"" "$root/logs/marie.log" "$root/logs/anga.log" "$root/logs/fabien.log"
failed_task=$(ls "$root/tasks/marie/failed" | head -1 | sed 's/\.json$//')
show "Task replay (the runbook's Python, verbatim)" python3 "$snippets/replay_slow_task.py" "$root" "$failed_task" marie
show "Task replay, one command" "$bin" replay --worker marie "$slow_task"

printf '\n## Mitigation\n'
ports[marie2]=$(free_port)
"$bin" sidecar --worker marie --instance marie-2 --root "$root" --metrics-address "127.0.0.1:${ports[marie2]}" \
    --heartbeat-interval 1 -- "$here/scripts/runbook-walk/spool_worker.py" --min-s 3 --max-s 35 > "$root/logs/marie-2.log" 2>&1 &
pids+=($!)
sleep 2
show "Scale marie out (a second instance, as docker-compose scale would)" "$bin" health --worker marie
show "Clear stuck tasks: what would move (dry run)" "$bin" clear-stuck --worker marie --older-than 60s --dry-run
show "Clear stuck tasks" "$bin" clear-stuck --worker marie --older-than 60s
show "Clear stuck tasks (the runbook's Python; threshold 60 s here)" python3 "$snippets/clear_stuck.py"
show "Batch size (the runbook's Python, verbatim)" python3 "$snippets/optimize_batch_size.py" "$root" marie
show "Batch size, one command" "$bin" config --worker marie
show "Circuit breaker (pipebus.CircuitBreaker)" "$venv_python" -c "
import pipebus
breaker = pipebus.CircuitBreaker('marie', failure_threshold=5, timeout=60)
print(breaker.state)"

printf '\n## Monitoring during the incident\n'
show "Dashboards task-overview and worker-details: every panel's query" python3 -c "
import json, glob, urllib.parse, urllib.request
for path in sorted(glob.glob('$here/deploy/grafana/dashboards/*.json')):
    board = json.load(open(path))
    exprs = [t['expr'] for p in board.get('panels', []) for t in p.get('targets', []) if 'expr' in t]
    ok = 0
    for e in exprs:
        e = e.replace('\$worker', '.*').replace('\${worker}', '.*').replace('\$__rate_interval', '1m').replace('\$__range', '1h').replace('\$host', '.*')
        r = json.load(urllib.request.urlopen('http://127.0.0.1:$prom_port/api/v1/query?' + urllib.parse.urlencode({'query': e})))
        ok += r['status'] == 'success' and len(r['data']['result']) > 0
    print(board['uid'], len(exprs), 'panels queries,', ok, 'return series')"
show "Key metrics: p95 task processing" promql 'histogram_quantile(0.95, sum by (le, worker) (rate(task_processing_duration_seconds_bucket[5m])))'
show "Alerts pending or firing (the rules wait 5 min before firing)" sh -c "curl -s http://127.0.0.1:$prom_port/api/v1/alerts | python3 -c 'import json,sys; [print(a[\"labels\"][\"alertname\"], a[\"labels\"].get(\"worker\",\"\"), a[\"state\"]) for a in json.load(sys.stdin)[\"data\"][\"alerts\"]]'"

printf '\n## Post-incident\n'
show "Document findings (the runbook's heredoc, verbatim)" sh -c "sh $snippets/incident_heredoc.sh && ls $root/incidents"
show "Document findings, one command" "$bin" incident --since 1h
show "Update alerts: the shipped rules" promtool check rules "$here/deploy/prometheus/alerts.yml"
show "Health of every worker" "$bin" health --all
