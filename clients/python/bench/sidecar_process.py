"""A `pipebus sidecar` for a measurement: started in a fresh root with no worker and metrics off,
waited for until it answers an echo, stopped with SIGTERM (then SIGKILL) and its root removed."""
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time


@contextlib.contextmanager
def running_sidecar(executable, worker="bench", cpu=None, start_timeout=60):
    """Yields (process, pipes directory, a pipebus.Channel that has had its first echo)."""
    import pipebus

    root = tempfile.mkdtemp(prefix=f"pipebus-{worker}-")
    argv = [executable, "sidecar", "--worker", worker, "--root", root, "--instance", "i1",
            "--metrics-address", "none", "--log-level", "error"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    sidecar = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    channel = None
    try:
        directory = os.path.join(root, "workers", worker, "instances", "i1", "pipes")
        give_up = time.monotonic() + start_timeout
        channel = pipebus.Channel(directory)
        echo = channel.unary_unary("/pipebus.testing.v1.Echo/Echo")
        while True:
            try:
                echo(b"", timeout=5)
                break
            except pipebus.RPCError:
                if time.monotonic() > give_up or sidecar.poll() is not None:
                    raise
                time.sleep(0.05)
        yield sidecar, directory, channel
    finally:
        if channel is not None:
            channel.close()
        sidecar.send_signal(signal.SIGTERM)
        try:
            sidecar.wait(30)
        except subprocess.TimeoutExpired:
            sidecar.kill()
            sidecar.wait()
        shutil.rmtree(root, ignore_errors=True)
