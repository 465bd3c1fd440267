"""The README's Python example runs as written (against a sidecar of this test's own)."""
import os
import re
import subprocess
import sys

from conftest import REPO


def test_the_readme_python_example_checks_health_and_submits(sidecar):
    readme = open(os.path.join(REPO, "README.md")).read()
    section = readme[readme.index("## Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('worker="marie"', f'worker="{sidecar.worker}"').replace('root="/shared"', f'root="{sidecar.root}"')
    environment = dict(os.environ, PYTHONPATH=os.path.join(REPO, "clients", "python"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("True")
    assert len(lines) == 3
