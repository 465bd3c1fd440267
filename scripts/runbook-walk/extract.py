#!/usr/bin/env python3
"""Writes the runbook's snippets, verbatim but for /shared -> ROOT, as runnable files in OUT:

    extract.py RUNBOOK.md ROOT OUT

check_worker_health.py, replay_slow_task.py (args: ROOT TASK WORKER), clear_stuck.py (the
"Clear stuck tasks" heredoc, its 300 s threshold lowered to 60 s so a walk need not wait five
minutes), optimize_batch_size.py (args: ROOT WORKER), incident_heredoc.sh, and a stand-in for the
orchestrator's `observability` package that "Check Worker Health" imports and never uses.
"""
import re, sys
from pathlib import Path

runbook, root, out = Path(sys.argv[1]).read_text(), sys.argv[2], Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)


def block(heading: str, language: str, nth: int = 0) -> str:
    section = runbook[runbook.index(heading):]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)[nth].replace("/shared", root)


prelude = "import time  # the runbook uses time without importing it\n"
(out / "check_worker_health.py").write_text(prelude + block("### 3. Check Worker Health", "python"))
(out / "replay_slow_task.py").write_text(
    prelude + block("### 3. Task Replay", "python") + "\nimport sys\nreplay_slow_task(sys.argv[2], sys.argv[3])\n")
heredoc = block("### 1. Immediate Relief", "bash")
python = heredoc[heredoc.index("python3 << EOF\n") + len("python3 << EOF\n"):heredoc.rindex("EOF")]
(out / "clear_stuck.py").write_text(python.replace("if age > 300:", "if age > 60:"))
(out / "optimize_batch_size.py").write_text(
    "import json, sys\nfrom pathlib import Path\n" + block("### 2. Performance Tuning", "python")
    + "\noptimize_batch_size(sys.argv[2])\nprint(Path(f'" + root + "/config/{sys.argv[2]}.json').read_text())\n")
(out / "incident_heredoc.sh").write_text(block("### 1. Document Findings", "bash"))
stand_in = out / "stand-in" / "observability" / "instrumentation"
stand_in.mkdir(parents=True, exist_ok=True)
(out / "stand-in" / "observability" / "__init__.py").write_text("")
(stand_in / "__init__.py").write_text("")
(stand_in / "metrics.py").write_text("class MetricsAggregator:  # stand-in: the runbook imports it, never uses it\n    pass\n")
