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


GRPC_SECTION = "## Calling a remote sidecar over gRPC"


def grpc_examples():
    """The Python blocks of clients/python/README.md's gRPC section: plaintext, then TLS."""
    readme = open(os.path.join(REPO, "clients", "python", "README.md")).read()
    start = readme.index(GRPC_SECTION)
    end = readme.find("\n## ", start + 1)
    section = readme[start:] if end == -1 else readme[start:end]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_example(code, cwd=None):
    environment = dict(os.environ, PYTHONPATH=os.path.join(REPO, "clients", "python"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=cwd,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_grpc_example_checks_health_submits_with_a_correlation_id_and_reads_a_status(grpc_sidecar, client):
    plaintext, _ = grpc_examples()
    assert '"127.0.0.1:50051"' in plaintext
    lines = run_example(plaintext.replace('"127.0.0.1:50051"', f'"{grpc_sidecar.grpc_address}"'))
    assert lines[0] == "True"
    task_id, correlation_id = lines[1].split()
    assert correlation_id == "incident-42"
    assert client.get(task_id).correlation_id == "incident-42"  # the task is in the sidecar's spool
    assert lines[2].startswith("StatusCode.NOT_FOUND ") and "no-such-task" in lines[2]
    assert len(lines) == 3


def test_the_mtls_example_is_let_in_with_the_client_certificate(sidecars, certificates):
    sidecar = sidecars(arguments=["--grpc-listen", "127.0.0.1:0", "--grpc-tls-cert", certificates.server,
                                  "--grpc-tls-key", certificates.server_key, "--grpc-tls-client-ca", certificates.ca])
    _, tls = grpc_examples()
    assert '"sidecar-b.internal:50051"' in tls
    code = tls.replace('"sidecar-b.internal:50051"', f'"{sidecar.grpc_address}"')
    # The example's file names are the certificates fixture's (ca.pem, client.pem, client-key.pem).
    assert run_example(code, cwd=os.path.dirname(certificates.ca)) == ["SERVING"]
