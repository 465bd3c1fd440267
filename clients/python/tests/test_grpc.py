"""Real peers of the sidecar's gRPC bridge (`--grpc-listen`, plaintext on loopback): grpcio with the
stubs generated from proto/, and grpcio-health-checking's standard grpc.health.v1 client. The
answers are compared with the pipe's, from the same sidecar."""
import json
import os
import signal
import struct

import grpc
import pytest
from grpc_health.v1 import health_pb2 as standard_health_pb2
from grpc_health.v1 import health_pb2_grpc as standard_health_pb2_grpc

import pipebus
from conftest import PATIENCE
from pipebus.health.v1 import health_pb2, health_pb2_grpc
from pipebus.tasks.v1 import tasks_pb2, tasks_pb2_grpc

TASKS = "pipebus.tasks.v1.Tasks"


@pytest.fixture
def channel(grpc_sidecar):
    with grpc.insecure_channel(grpc_sidecar.grpc_address) as channel:
        yield channel


@pytest.fixture
def pipe(grpc_sidecar):
    with pipebus.connect(directory=grpc_sidecar.pipe_directory, timeout=PATIENCE) as client:
        yield client


def test_health_check_and_services_with_the_generated_stubs(channel, pipe):
    health = health_pb2_grpc.HealthStub(channel)
    response = health.Check(health_pb2.HealthCheckRequest(), timeout=PATIENCE)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    assert health.Check(health_pb2.HealthCheckRequest(service=TASKS), timeout=PATIENCE).status == response.SERVING
    services = health.ListServices(health_pb2.ListServicesRequest(), timeout=PATIENCE).services
    assert TASKS in services
    assert sorted(services) == sorted(pipe.list_services())


def test_submit_then_get_and_list_see_the_task_and_so_does_the_pipe(channel, pipe):
    tasks = tasks_pb2_grpc.TasksStub(channel)
    task = tasks.Submit(tasks_pb2.SubmitRequest(json=b'{"prompt": "over HTTP/2"}'), timeout=PATIENCE,
                        metadata=[("correlation-id", "grpc-corr-1")])
    assert task.id and task.state == tasks_pb2.PENDING
    assert task.correlation_id == "grpc-corr-1"  # from the metadata, as on the pipe

    fetched = tasks.Get(tasks_pb2.TaskRef(id=task.id), timeout=PATIENCE)
    assert json.loads(fetched.json)["prompt"] == "over HTTP/2"  # the task file as stored (with its id, ...)
    assert fetched.correlation_id == "grpc-corr-1"
    listed = tasks.List(tasks_pb2.ListRequest(state=tasks_pb2.PENDING), timeout=PATIENCE).tasks
    assert task.id in [t.id for t in listed]
    # The same spool behind both transports.
    assert pipe.get(task.id).correlation_id == "grpc-corr-1"
    # The caller's trace context passes too: the task's trace descends from it.
    named = tasks.Submit(tasks_pb2.SubmitRequest(id="named-1", json=b"{}"), timeout=PATIENCE,
                         metadata=[("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
    assert named.id == "named-1"
    assert named.traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert {t.id for t in pipe.tasks("pending")} >= {task.id, "named-1"}


def test_a_deadline_that_passes_ends_the_call_with_deadline_exceeded(channel):
    # Echo's messages are raw bytes (echo.proto): Sleep takes a big-endian uint32 of milliseconds.
    sleep = channel.unary_unary("/pipebus.testing.v1.Echo/Sleep")
    with pytest.raises(grpc.RpcError) as caught:
        sleep(struct.pack(">I", 60_000), timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # A stream with the stubs: Watch answers at once, then waits for a change that never comes.
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=0.5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as caught:
        next(watch)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The connection is still good for the next call.
    assert sleep(struct.pack(">I", 1), timeout=PATIENCE) == b""


def bad_submit_json(tasks):
    return tasks.Submit(tasks_pb2.SubmitRequest(json=b"{not json"), timeout=PATIENCE)


def bad_submit_array(tasks):
    return tasks.Submit(tasks_pb2.SubmitRequest(json=b"[1, 2]"), timeout=PATIENCE)


def bad_submit_id(tasks):
    return tasks.Submit(tasks_pb2.SubmitRequest(id="../escape", json=b"{}"), timeout=PATIENCE)


def bad_clear_stuck(tasks):
    return tasks.ClearStuck(tasks_pb2.ClearStuckRequest(older_than_ms=0), timeout=PATIENCE)


@pytest.mark.parametrize("call, words", [
    (bad_submit_json, "JSON"),
    (bad_submit_array, "object"),
    (bad_submit_id, "invalid task id"),
    (bad_clear_stuck, "threshold"),
])
def test_bad_input_is_invalid_argument_with_the_reason(channel, pipe, call, words):
    tasks = tasks_pb2_grpc.TasksStub(channel)
    before = {t.id for t in pipe.tasks()}
    with pytest.raises(grpc.RpcError) as caught:
        call(tasks)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert words in caught.value.details()
    assert {t.id for t in pipe.tasks()} == before  # nothing was written


def test_an_unknown_task_is_not_found(channel):
    with pytest.raises(grpc.RpcError) as caught:
        tasks_pb2_grpc.TasksStub(channel).Get(tasks_pb2.TaskRef(id="no-such-task"), timeout=PATIENCE)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-task" in caught.value.details()


def test_the_standard_health_client_gets_serving(channel):
    health = standard_health_pb2_grpc.HealthStub(channel)
    response = health.Check(standard_health_pb2.HealthCheckRequest(service=""), timeout=PATIENCE)
    assert response.status == standard_health_pb2.HealthCheckResponse.SERVING
    assert health.Check(standard_health_pb2.HealthCheckRequest(service=TASKS), timeout=PATIENCE).status == \
        standard_health_pb2.HealthCheckResponse.SERVING
    watch = health.Watch(standard_health_pb2.HealthCheckRequest(service=""), timeout=PATIENCE)
    assert next(watch).status == standard_health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


def test_the_standard_health_client_is_told_of_an_unknown_service(channel, pipe):
    health = standard_health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        health.Check(standard_health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=PATIENCE)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # grpc.health.v1's answer, and the pipe's
    with pytest.raises(pipebus.RPCError) as on_the_pipe:
        pipe.health("no.such.Service")
    assert on_the_pipe.value.code == pipebus.StatusCode.NOT_FOUND
    watch = health.Watch(standard_health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=PATIENCE)
    assert next(watch).status == standard_health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    watch.cancel()


def next_status_other_than(watch, status):
    while True:
        response = next(watch)
        if response.status != status:
            return response.status


def test_the_standard_health_client_follows_the_sidecar_to_not_serving_and_back(sidecars):
    # A supervised worker stopped with SIGSTOP makes the sidecar NOT_SERVING until SIGCONT.
    sidecar = sidecars(command=["sleep", "600"], arguments=["--grpc-listen", "127.0.0.1:0"])
    with pipebus.connect(directory=sidecar.pipe_directory, timeout=PATIENCE) as pipe, \
            grpc.insecure_channel(sidecar.grpc_address) as channel:
        worker_pid = pipe.status().worker_pid
        assert worker_pid > 0
        health = standard_health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(standard_health_pb2.HealthCheckRequest(service=""), timeout=PATIENCE)
        assert next(watch).status == standard_health_pb2.HealthCheckResponse.SERVING
        os.kill(worker_pid, signal.SIGSTOP)
        try:
            assert next_status_other_than(watch, standard_health_pb2.HealthCheckResponse.SERVING) == \
                standard_health_pb2.HealthCheckResponse.NOT_SERVING
            for service in ("", TASKS):
                response = health.Check(standard_health_pb2.HealthCheckRequest(service=service), timeout=PATIENCE)
                assert response.status == standard_health_pb2.HealthCheckResponse.NOT_SERVING, service
            # pipebus's own Health carries the reason (field 1000, which the standard message skips),
            # the one the pipe gives.
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=PATIENCE)
            assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
            assert "stopped" in response.message and response.message == pipe.health().message
        finally:
            os.kill(worker_pid, signal.SIGCONT)
        assert next_status_other_than(watch, standard_health_pb2.HealthCheckResponse.NOT_SERVING) == \
            standard_health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
