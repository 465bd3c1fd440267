"""The client API against a real sidecar: health, tasks, config, events, fleet, tracing."""
import json
import os
import threading
import time

import pytest

import pipebus
from pipebus import RPCError, StatusCode
from conftest import wait_until


def test_health_check_watch_and_services(client):
    response = client.health()
    assert response.status == pipebus.SERVING
    assert client.is_serving()
    with pytest.raises(RPCError) as caught:
        client.health("no.such.Service")
    assert caught.value.code == StatusCode.NOT_FOUND
    with client.watch_health() as watch:
        assert next(watch).status == pipebus.SERVING
    assert "pipebus.tasks.v1.Tasks" in client.list_services()


def test_submit_returns_the_id_once_the_task_is_durable(client, sidecar):
    task_id = client.submit({"prompt": "hello"}, id="task-1", correlation_id="c-1")
    assert task_id == "task-1"
    # Durable: the file is in pending/ (or already further along) when submit returns.
    spool = os.path.join(sidecar.root, "tasks", sidecar.worker)
    found = [d for d, _, files in os.walk(spool) if "task-1.json" in files]
    assert found, f"task-1.json is nowhere under {spool}"
    task = client.get("task-1")
    assert json.loads(task.json)["prompt"] == "hello"
    assert task.correlation_id == "c-1"
    generated = client.submit(b'{"n": 2}')
    assert generated and generated != "task-1"


def test_listing_replay_cancel_and_clear_stuck(client):
    ids = [client.submit({"i": i}) for i in range(3)]
    pending = {task.id for task in client.tasks("pending")}
    assert set(ids) <= pending
    assert {t.id for t in client.tasks()} >= set(ids)
    assert len(client.tasks("pending", limit=2)) == 2
    cancelled = client.cancel(ids[0], reason="not needed")
    assert cancelled.state == pipebus.FAILED
    replayed = client.replay(ids[0])
    assert replayed.id == ids[0] + "_replay" and replayed.state == pipebus.PENDING
    with pytest.raises(RPCError) as caught:
        client.get("no-such-task")
    assert caught.value.code == StatusCode.NOT_FOUND
    assert client.clear_stuck(older_than=3600, reason="test") == []


def test_clear_stuck_dry_run_moves_nothing(client, sidecar):
    task = client.submit({"job": "hang"})
    spool = os.path.join(sidecar.root, "tasks", sidecar.worker)
    os.rename(os.path.join(spool, "pending", task + ".json"), os.path.join(spool, "active", task + ".json"))
    wait_until(lambda: client.get(task).state == pipebus.ACTIVE, "the sidecar to see the task in active/")
    time.sleep(0.3)
    would = client.clear_stuck(older_than=0.2, dry_run=True)
    assert [t.id for t in would] == [task]
    assert client.get(task).state == pipebus.ACTIVE
    moved = client.clear_stuck(older_than=0.2)
    assert [t.id for t in moved] == [task]
    assert client.get(task).state == pipebus.FAILED


def test_config_get_and_set(client):
    before = client.config()
    assert isinstance(before, dict)
    after = client.set_config(batch_size=3)
    assert after["batch_size"] == 3
    assert client.config()["batch_size"] == 3


def test_status(client):
    status = client.status()
    assert status.worker == "w1" and status.instance == "i1" and status.pid > 0


def test_events_resume_after_the_last_sequence_number(client):
    events = client.events()
    first = next(events)  # a heartbeat comes every 200 ms
    events.cancel()
    client.submit({"e": 1}, id="evt-task")
    again = client.events(after_seq=first.seq)
    seen = []
    for event in again:
        seen.append(event)
        if event.kind == 2 and event.task_id == "evt-task":
            break
    again.cancel()
    assert seen[0].seq == first.seq + 1
    assert [e.seq for e in seen] == list(range(first.seq + 1, first.seq + 1 + len(seen)))


def test_events_resume_across_a_sidecar_restart(sidecars):
    sidecar = sidecars()
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=10) as client:
        events = client.events()
        next(events)
        sidecar.stop()
        sidecar.start()
        # The iterator reconnects by itself and goes on.
        event = next(events)
        assert event.seq > 0
        events.cancel()


def test_submit_carries_the_current_opentelemetry_span(client):
    trace = pytest.importorskip("opentelemetry.trace")
    context = trace.SpanContext(trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7,
                                is_remote=False, trace_flags=trace.TraceFlags(1))
    with trace.use_span(trace.NonRecordingSpan(context)):
        task_id = client.submit({"traced": True})
    assert client.get(task_id).traceparent.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_fleet_over_every_worker(sidecars):
    marie = sidecars(worker="marie")
    sidecars(worker="anga")
    with pipebus.Fleet(marie.root) as fleet:
        assert fleet.workers() == ["anga", "marie"]
        results = fleet.health()
        assert {w: r.status for w, r in results.items()} == {"anga": pipebus.SERVING, "marie": pipebus.SERVING}
        statuses = fleet.for_each_instance(lambda client: client.status().instance)
        assert statuses == {("anga", "i1"): "i1", ("marie", "i1"): "i1"}


def test_breaker_opens_when_the_sidecar_is_gone(root):
    breaker = pipebus.CircuitBreaker("ghost", failure_threshold=2, timeout=3600)
    with pipebus.connect(worker="ghost", root=root, breaker=breaker) as client:
        for _ in range(2):
            with pytest.raises(RPCError):
                client.health()
        assert breaker.state == pipebus.OPEN
        with pytest.raises(pipebus.BreakerOpenError):
            client.health()
