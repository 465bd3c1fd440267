#!/usr/bin/env python3
"""Tasks per second through one worker's spool with 1, 2 and 3 sidecar instances (issue 9).

Each instance is `pipebus sidecar --mode pipe` supervising `pipebus worker` whose tasks take no
time, so what is measured is the spool's own ceiling: claim (rename + rewrite, fsynced) and
complete (rewrite + rename, fsynced) per task, plus the reporting. The sidecars start without
workers (nothing leases), the tasks are written into pending/, then one `pipebus worker` per
instance starts and the clock runs until completed/ holds them all.

    scripts/scale-out-throughput.py [--tasks 2000] [--instances 1,2,3] [--pipebus .build/release/pipebus]
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time, uuid

def write_task(pending, index):
    task_id = f"t-{index}"
    # Every key the sidecar owns is there already, so no instance rewrites the file to add them.
    obj = {"prompt": "throughput", "duration_ms": 0, "id": task_id,
           "correlation_id": f"corr-{uuid.uuid4()}", "attempts": 0,
           "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "_trace_context": {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}}
    tmp = os.path.join(pending, f".{task_id}.tmp-w")
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, os.path.join(pending, f"{task_id}.json"))

def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")

def run(pipebus, instances, tasks):
    root = tempfile.mkdtemp(prefix="pipebus-throughput-")
    worker = "marie"
    procs = []
    try:
        for n in range(instances):
            log = open(f"{root}/sidecar-{n}.log", "w")
            procs.append(subprocess.Popen(
                [pipebus, "sidecar", "--worker", worker, "--root", root, "--instance", f"i{n}",
                 "--mode", "pipe", "--metrics-address", "none", "--heartbeat-interval", "0.2"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        pending = f"{root}/tasks/{worker}/pending"
        completed = f"{root}/tasks/{worker}/completed"
        wait_for(lambda: all(os.path.exists(f"{root}/workers/{worker}/instances/i{n}/heartbeat.json") for n in range(instances)), 30, "the sidecars")
        for index in range(tasks):
            write_task(pending, index)
        time.sleep(1)
        started = time.monotonic()
        for n in range(instances):
            procs.append(subprocess.Popen(
                [pipebus, "worker", "--worker", worker, "--root", root, "--instance", f"i{n}",
                 "--min-ms", "0", "--max-ms", "0", "--log-level", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for(lambda: len(os.listdir(completed)) >= tasks, 600, f"{tasks} completed tasks")
        elapsed = time.monotonic() - started
        attempts = [json.load(open(os.path.join(completed, name)))["attempts"] for name in os.listdir(completed)]
        warnings = sum(open(f"{root}/sidecar-{n}.log").read().count('"level":"warning"') for n in range(instances))
        return elapsed, max(attempts), warnings
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--pipebus", default=".build/release/pipebus")
    args = parser.parse_args()
    if not os.access(args.pipebus, os.X_OK):
        sys.exit(f"no pipebus at {args.pipebus}: build it first (swift build -c release --product pipebus)")
    print(f"{'instances':>9}  {'tasks':>6}  {'seconds':>8}  {'tasks/s':>8}  max attempts  warnings logged")
    for count in [int(c) for c in args.instances.split(",")]:
        elapsed, max_attempts, warnings = run(os.path.abspath(args.pipebus), count, args.tasks)
        print(f"{count:>9}  {args.tasks:>6}  {elapsed:>8.2f}  {args.tasks / elapsed:>8.0f}  {max_attempts:>12}  {warnings:>15}", flush=True)
    print(f"(load: {os.getloadavg()[0]:.1f}, {os.cpu_count()} vCPUs)")

if __name__ == "__main__":
    main()
