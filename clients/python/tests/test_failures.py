"""No sidecar, a sidecar restarted under a caller, and bad input: clear errors, nothing lost."""
import json
import os
import signal
import threading

import pytest

import pipebus
from pipebus import RPCError, StatusCode
from conftest import PATIENCE, wait_until

ECHO = "/pipebus.testing.v1.Echo/"


def test_no_sidecar_is_unavailable(root):
    with pipebus.connect(worker="nobody", root=root, timeout=1.0) as client:
        with pytest.raises(RPCError) as caught:
            client.health()
    assert caught.value.code == StatusCode.UNAVAILABLE
    assert "nobody" in caught.value.message


def test_a_dead_sidecars_pipes_are_unavailable(sidecars):
    """SIGKILL leaves the directory and the connect FIFO behind, with no reader."""
    sidecar = sidecars()
    sidecar.stop(signal.SIGKILL)
    assert os.path.exists(os.path.join(sidecar.pipe_directory, "connect"))
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=1.0) as client:
        with pytest.raises(RPCError) as caught:
            client.health()
    assert caught.value.code == StatusCode.UNAVAILABLE


def test_sidecar_restarted_under_a_caller(sidecars):
    sidecar = sidecars()
    with pipebus.connect(worker=sidecar.worker, root=sidecar.root, timeout=10) as client:
        assert client.health().status == pipebus.SERVING
        sidecar.stop(signal.SIGKILL)
        with pytest.raises(RPCError) as caught:
            client.health()
        assert caught.value.code == StatusCode.UNAVAILABLE
        sidecar.start()

        def healthy():
            try:
                return client.health().status == pipebus.SERVING
            except RPCError as error:
                assert error.code == StatusCode.UNAVAILABLE  # backing off, never anything else
                return False

        wait_until(healthy, "the client to reconnect to the restarted sidecar")


def test_a_call_in_flight_when_the_sidecar_dies_fails_with_unavailable(sidecars):
    sidecar = sidecars()
    channel = pipebus.Channel(sidecar.pipe_directory)
    errors = []

    def sleeper():
        try:
            channel.unary_unary(ECHO + "Sleep")(b"\x00\x00\xea\x60", timeout=PATIENCE)
        except RPCError as error:
            errors.append(error.code)

    thread = threading.Thread(target=sleeper)
    thread.start()
    wait_until(lambda: channel._connection is not None and channel._connection._streams, "the call to be open")
    sidecar.stop(signal.SIGKILL)
    thread.join(PATIENCE)
    assert errors == [StatusCode.UNAVAILABLE]
    channel.close()


def pending_ids(client):
    return sorted(task.id for task in client.tasks("pending"))


@pytest.mark.parametrize("task, what", [
    ([1, 2, 3], "a JSON array"),
    (b'"just a string"', "a JSON string"),
    (b"{not json", "malformed JSON"),
    (b'{"text": "\xff\xfe"}', "non-UTF-8 bytes"),
])
def test_a_task_that_is_not_a_json_object_is_refused_and_loses_nothing(client, task, what):
    good = client.submit({"keep": 1})
    before = pending_ids(client)
    with pytest.raises(RPCError) as caught:
        client.submit(task)
    assert caught.value.code == StatusCode.INVALID_ARGUMENT, what
    assert caught.value.message
    assert pending_ids(client) == before
    assert json.loads(client.get(good).json)["keep"] == 1
    assert client.submit({"after": 1})


def test_text_that_cannot_be_utf8_is_refused_locally(client):
    before = pending_ids(client)
    with pytest.raises(RPCError) as caught:
        client.submit('{"x": "\udcff"}')
    assert caught.value.code == StatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as caught:
        client.submit({"x": 1}, id="bad-\udcff")
    assert caught.value.code == StatusCode.INVALID_ARGUMENT
    assert pending_ids(client) == before


def test_a_task_above_the_frame_limit_is_refused_and_loses_nothing(client):
    good = client.submit({"keep": 2})
    before = pending_ids(client)
    huge = {"blob": "x" * (5 * 1024 * 1024)}
    with pytest.raises(RPCError) as caught:
        client.submit(huge)
    assert caught.value.code == StatusCode.RESOURCE_EXHAUSTED
    assert "limit" in caught.value.message
    assert pending_ids(client) == before
    assert client.get(good).id == good
    assert client.health().status == pipebus.SERVING
