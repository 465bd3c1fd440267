"""The committed _pb2 modules match proto/, and the check says so only when they do."""
import os
import shutil
import subprocess

import pytest

from conftest import REPO

SCRIPT = os.path.join(REPO, "clients", "python", "scripts", "generate-proto.sh")


def check(proto_dir=None):
    environment = dict(os.environ)
    if proto_dir:
        environment["PIPEBUS_PROTO_DIR"] = proto_dir
    return subprocess.run([SCRIPT, "--check"], capture_output=True, text=True, env=environment)


def test_committed_modules_match_proto():
    result = check()
    assert result.returncode == 0, result.stderr


def test_the_check_fails_when_a_proto_gains_a_field(tmp_path):
    protos = tmp_path / "proto"
    shutil.copytree(os.path.join(REPO, "proto"), protos)
    envelope = protos / "pipebus" / "v1" / "envelope.proto"
    text = envelope.read_text()
    assert "message Hello {" in text
    envelope.write_text(text.replace("message Hello {", "message Hello {\n  uint32 drift_probe = 4999;", 1))
    result = check(str(protos))
    assert result.returncode != 0
    assert "envelope_pb2.py is out of date" in result.stderr
    assert "rift_probe" in result.stderr  # protoc may escape the "d" after a \\x escape
