#!/usr/bin/env python3
"""A spool worker as the runbook's system runs them: it moves its own task files
pending/X.json -> active/X.json -> completed|failed/X.json with rename(2), never over the pipe.

    spool_worker.py [--min-s 3] [--max-s 35] [--fail 0.15] [--stuck 0.05]

Started by `pipebus sidecar --worker W -- spool_worker.py ...`, it reads PIPEBUS_ROOT and
PIPEBUS_WORKER from its environment. A task's JSON steers it: "duration_s" (else a random time
in [--min-s, --max-s]), "fail": true, "stuck": true (taken and never finished). A failed task gets
"error" and, for a simulated Claude API failure, "error_kind": "claude_api". Exits on SIGTERM.
"""
import argparse, json, os, random, signal, sys, threading, time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--min-s", type=float, default=3)
parser.add_argument("--max-s", type=float, default=35)
parser.add_argument("--fail", type=float, default=0.15)
parser.add_argument("--stuck", type=float, default=0.0)
parser.add_argument("--slots", type=int, default=4)
args = parser.parse_args()

root = Path(os.environ.get("PIPEBUS_ROOT", "/shared"))
worker = os.environ["PIPEBUS_WORKER"]
spool = root / "tasks" / worker
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
slots = threading.Semaphore(args.slots)


def finish(active: Path, task: dict) -> None:
    """Writes the outcome into the task, then renames it into completed/ or failed/."""
    failed = task.get("fail") or random.random() < args.fail
    if failed:
        task["error"] = "claude exited with status 1"
        task["error_kind"] = "claude_api"
    else:
        task["result"] = {"ok": True}
    tmp = active.with_name(f".{active.name}.tmp")
    tmp.write_text(json.dumps(task))
    os.replace(tmp, active)
    try:
        os.rename(active, spool / ("failed" if failed else "completed") / active.name)
    except FileNotFoundError:
        print(f"{active.name} was moved away while it ran (cleared?); dropping the result", file=sys.stderr)


def run(active: Path) -> None:
    try:
        task = json.loads(active.read_text())
        if not isinstance(task, dict) or task.get("stuck") or random.random() < args.stuck:
            return
        duration = task.get("duration_s", random.uniform(args.min_s, args.max_s))
        if stop.wait(duration):
            return
        finish(active, task)
    except (OSError, ValueError) as error:
        print(f"{active.name}: {error}", file=sys.stderr)
    finally:
        slots.release()


while not stop.is_set():
    taken = False
    for pending in sorted((spool / "pending").glob("*.json")):
        if not slots.acquire(timeout=0.2):
            break
        active = spool / "active" / pending.name
        try:
            os.rename(pending, active)  # the claim: one consumer wins
        except FileNotFoundError:
            slots.release()
            continue
        taken = True
        threading.Thread(target=run, args=(active,), daemon=True).start()
    if not taken:
        stop.wait(0.2)
