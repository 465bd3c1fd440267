"""The committed _pb2 modules and grpcio stubs match proto/, and the check says so only when they do."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = os.path.join(REPO, "clients", "python", "scripts", "generate-proto.sh")


def check(proto_dir=None):
    # The stubs' generator (grpcio-tools) is in this test's Python (the test venv).
    environment = dict(os.environ, PYTHON=sys.executable)
    if proto_dir:
        environment["PIPEBUS_PROTO_DIR"] = proto_dir
    return subprocess.run([SCRIPT, "--check"], capture_output=True, text=True, env=environment)


def test_committed_modules_match_proto():
    result = check()
    assert result.returncode == 0, result.stderr


def check_after_editing(tmp_path, proto, old, new):
    """The check's result on a copy of proto/ where `proto` has `old` replaced by `new`."""
    protos = tmp_path / "proto"
    shutil.copytree(os.path.join(REPO, "proto"), protos)
    edited = protos / proto
    text = edited.read_text()
    assert old in text
    edited.write_text(text.replace(old, new, 1))
    result = check(str(protos))
    assert result.returncode != 0
    return result


def test_the_check_fails_when_a_proto_gains_a_field(tmp_path):
    result = check_after_editing(tmp_path, "pipebus/v1/envelope.proto", "message Hello {",
                                 "message Hello {\n  uint32 drift_probe = 4999;")
    assert "envelope_pb2.py is out of date" in result.stderr
    assert "rift_probe" in result.stderr  # protoc may escape the "d" after a \\x escape


def test_the_check_fails_when_a_service_gains_a_method(tmp_path):
    result = check_after_editing(tmp_path, "pipebus/health/v1/health.proto", "service Health {",
                                 "service Health {\n  rpc DriftProbe(HealthCheckRequest) returns (HealthCheckResponse);")
    assert "health_pb2_grpc.py is out of date" in result.stderr
    assert "DriftProbe" in result.stderr


def test_the_stubs_are_generated_for_every_service_and_only_those():
    package = os.path.join(REPO, "clients", "python", "pipebus")
    stubs = sorted(os.path.relpath(os.path.join(folder, name), package)
                   for folder, _, names in os.walk(package) for name in names if name.endswith("_pb2_grpc.py"))
    assert stubs == ["health/v1/health_pb2_grpc.py", "tasks/v1/tasks_pb2_grpc.py", "testing/v1/echo_pb2_grpc.py"]


def test_the_pipe_client_does_not_need_grpcio():
    """grpcio is the optional `grpc` extra: importing the package and its pipe client never loads it."""
    code = ("import sys, pipebus, pipebus.aio, pipebus.fleet, pipebus.health.v1.health_pb2, pipebus.tasks.v1.tasks_pb2; "
            "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')))")
    environment = dict(os.environ, PYTHONPATH=os.path.join(REPO, "clients", "python"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
