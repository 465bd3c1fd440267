"""Sidecars as real processes (`pipebus sidecar`), each in a root of its own that is removed
afterwards. The binary is $PIPEBUS_EXECUTABLE (the Makefile sets it), else the debug build of
the repository this package is in."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import pipebus
from certificates import make_certificates
from pipebus._connection import is_serving

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# How long a sidecar may take to start, or a condition to come true, before a test fails: a
# failure timeout only, never a measure of speed.
PATIENCE = 60.0


def executable():
    path = os.environ.get("PIPEBUS_EXECUTABLE")
    if not path:
        try:
            bin_path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True,
                                      check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as error:
            pytest.fail(f"set PIPEBUS_EXECUTABLE to a built pipebus binary ({error})")
        path = os.path.join(bin_path, "pipebus")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no pipebus binary at {path}: build it (swift build --product pipebus) or set PIPEBUS_EXECUTABLE")
    return path


def wait_until(condition, what, patience=PATIENCE):
    give_up = time.monotonic() + patience
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Sidecar:
    """One `pipebus sidecar` process for `worker`/`instance` under `root`; `arguments` are more of
    its options (`--grpc-listen 127.0.0.1:0` serves its gRPC bridge too: see `grpc_address`)."""

    def __init__(self, root, worker="w1", instance="i1", mode="spool", command=(), env=None, arguments=()):
        self.root, self.worker, self.instance, self.mode = root, worker, instance, mode
        self.command = list(command)
        self.env = env
        self.arguments = list(arguments)
        self.process = None
        self.grpc_address = None
        self._log_offset = 0
        self.log_path = os.path.join(root, f"sidecar-{worker}-{instance}.log")

    @property
    def pipe_directory(self):
        return os.path.join(self.root, "workers", self.worker, "instances", self.instance, "pipes")

    @property
    def serves_grpc(self):
        return "--grpc-listen" in self.arguments

    def argv(self):
        # The "serving gRPC" line (the bound port) is an info line.
        level = "info" if self.serves_grpc else "error"
        argv = [executable(), "sidecar", "--worker", self.worker, "--root", self.root, "--instance", self.instance,
                "--metrics-address", "none", "--mode", self.mode, "--heartbeat-interval", "0.2", "--log-level", level]
        argv += self.arguments
        if self.command:
            argv += ["--"] + self.command
        return argv

    def environment(self):
        environment = dict(os.environ, **(self.env or {}))
        environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        return environment

    def start(self):
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()  # a restart appends: its lines start here
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            env=self.environment())
        wait_until(lambda: is_serving(self.pipe_directory) or self._exited(), f"sidecar {self.worker} to listen")
        if self.process.poll() is not None:
            raise AssertionError(f"sidecar exited with {self.process.returncode}:\n{self.log()}")
        # A sidecar listens a moment before its health service knows "" (Check answers NOT_FOUND
        # then): wait for SERVING, so that tests start from a sidecar that is ready.
        with pipebus.connect(directory=self.pipe_directory, timeout=PATIENCE) as client:
            wait_until(lambda: client.is_serving() or self._exited(), f"sidecar {self.worker} to be SERVING")
        if self.serves_grpc:
            self.grpc_address = wait_until(lambda: self._grpc_address() or self._exited(), "the \"serving gRPC\" log line")
            if self.process.poll() is not None:
                raise AssertionError(f"sidecar exited with {self.process.returncode}:\n{self.log()}")
        return self

    def _grpc_address(self):
        """The HOST:PORT of the latest "serving gRPC" log line (the port the kernel picked for :0)."""
        addresses = [line.get("address") for line in self.log_lines() if line.get("msg") == "serving gRPC"]
        return addresses[-1] if addresses else None

    def log_lines(self):
        """The JSON lines this run of it logged, parsed (other lines skipped)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        lines = []
        for line in text.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return [line for line in lines if isinstance(line, dict)]

    def _exited(self):
        return self.process.poll() is not None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as log:
                return log.read()[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def root():
    path = tempfile.mkdtemp(prefix="pipebus-py-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sidecars(root):
    """Starts sidecars on demand (`sidecars(worker=..., ...)`) and stops them all afterwards."""
    started = []

    def start(**options):
        sidecar = Sidecar(root, **options).start()
        started.append(sidecar)
        return sidecar

    start.all = started
    try:
        yield start
    finally:
        for sidecar in started:
            sidecar.stop()
        for sidecar in started:
            sidecar.stop(signal.SIGKILL)


@pytest.fixture
def sidecar(sidecars):
    return sidecars()


@pytest.fixture
def grpc_sidecar(sidecars):
    """A sidecar that also serves its gRPC bridge, plaintext on loopback (`.grpc_address`)."""
    return sidecars(arguments=["--grpc-listen", "127.0.0.1:0"])


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    """Two CAs, a server certificate for 127.0.0.1/localhost and a client certificate of each CA."""
    return make_certificates(str(tmp_path_factory.mktemp("certificates")))


@pytest.fixture
def client(sidecar):
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=10.0) as client:
        yield client


@pytest.fixture
def channel(sidecar):
    with pipebus.Channel(sidecar.pipe_directory) as channel:
        yield channel


def python_worker_command(*arguments):
    """The example pipe worker, run by this Python with this package importable."""
    example = os.path.join(REPO, "clients", "python", "examples", "pipe_worker.py")
    return [sys.executable, example, *arguments]
