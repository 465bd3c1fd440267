"""The example Python pipe worker under a real sidecar (`--mode pipe`), and run_worker itself."""
import json
import threading

import pipebus
from conftest import python_worker_command, wait_until


def states(client):
    return {task.id: task.state for task in client.tasks()}


def test_the_example_worker_leases_and_finishes_tasks_under_a_sidecar(sidecars):
    sidecar = sidecars(mode="pipe", command=python_worker_command("--min-ms", "1", "--max-ms", "5"))
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=10) as client:
        ok = client.submit({"duration_ms": 1}, id="py-ok")
        bad = client.submit({"duration_ms": 1, "fail": True}, id="py-fail")
        wait_until(lambda: states(client).get(ok) == pipebus.COMPLETED and states(client).get(bad) == pipebus.FAILED,
                   "the Python worker to finish both tasks")
        done = client.get(ok)
        assert json.loads(done.json)["id"] == "py-ok"
    sidecar.stop()
    assert sidecar.process.returncode == 0, sidecar.log()


def test_run_worker_in_process_with_a_stop_event(sidecars):
    sidecar = sidecars(mode="pipe")
    seen = []
    stop = threading.Event()
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=10) as client:
        thread = threading.Thread(target=pipebus.run_worker, args=(client, lambda task: seen.append(task["n"]) or {"ok": 1}, 2, stop))
        thread.start()
        ids = [client.submit({"n": n}) for n in range(5)]
        wait_until(lambda: all(states(client).get(i) == pipebus.COMPLETED for i in ids), "five tasks to complete")
        stop.set()
        thread.join(60)
        assert not thread.is_alive()
    assert sorted(seen) == list(range(5))
