"""The transport against a real sidecar, through its Echo service (raw bytes): every call kind,
metadata, deadlines, cancellation, ping, compression, limits and unknown methods."""
import os
import struct
import threading

import pytest

import pipebus
from pipebus import RPCError, StatusCode

ECHO = "/pipebus.testing.v1.Echo/"


def repeat_request(count, payload):
    return struct.pack(">I", count) + payload


def sleep_request(milliseconds):
    return struct.pack(">I", milliseconds)


def test_unary_echo(channel):
    echo = channel.unary_unary(ECHO + "Echo")
    assert echo(b"hello") == b"hello"
    assert echo(b"") == b""
    assert channel.unary_unary(ECHO + "EchoAsync")(b"async") == b"async"


def test_server_streaming(channel):
    responses = list(channel.unary_stream(ECHO + "Repeat")(repeat_request(5, b"abc")))
    assert responses == [b"abc"] * 5


def test_client_streaming(channel):
    collect = channel.stream_unary(ECHO + "Collect")
    assert collect(iter([b"a", b"bc", b"", b"def"])) == b"abcdef"


def test_bidirectional_in_lock_step(channel):
    chat = channel.stream_stream(ECHO + "Chat")()
    with chat:
        for word in (b"one", b"two", b"three"):
            chat.send(word)
            assert next(chat) == word
        chat.done_writing()
        assert list(chat) == []
    assert chat.code() == StatusCode.OK


def test_bidirectional_from_a_request_iterator(channel):
    responses = list(channel.stream_stream(ECHO + "Chat")(iter([b"x", b"y"])))
    assert responses == [b"x", b"y"]


def test_ping(channel):
    assert channel.ping() > 0
    assert channel.unary_unary(ECHO + "Echo")(b"after ping") == b"after ping"


def test_large_compressible_and_incompressible_messages_both_ways(channel):
    echo = channel.unary_unary(ECHO + "Echo")
    compressible = b"pipebus " * (1 << 17)  # 1 MiB: sent LZ4-compressed
    assert echo(compressible) == compressible
    noise = os.urandom(1 << 20)
    assert echo(noise) == noise
    assert channel.connection().server_hello.compression


def test_unknown_method_is_unimplemented_and_the_connection_goes_on(channel):
    with pytest.raises(RPCError) as caught:
        channel.unary_unary("/pipebus.testing.v1.Echo/NoSuchMethod")(b"")
    assert caught.value.code == StatusCode.UNIMPLEMENTED
    assert channel.unary_unary(ECHO + "Echo")(b"still here") == b"still here"


def test_message_above_the_servers_limit_is_refused_locally_and_loses_nothing(channel):
    connection = channel.connection()
    limit = connection.server_hello.max_frame_size
    with pytest.raises(RPCError) as caught:
        channel.unary_unary(ECHO + "Echo")(os.urandom(limit + 1))
    assert caught.value.code == StatusCode.RESOURCE_EXHAUSTED
    assert "limit" in caught.value.message
    assert channel.connection() is connection and connection.usable
    assert channel.unary_unary(ECHO + "Echo")(b"next") == b"next"


def test_deadline_exceeded_then_the_connection_is_still_usable(channel):
    sleep = channel.unary_unary(ECHO + "Sleep")
    with pytest.raises(RPCError) as caught:
        sleep(sleep_request(60_000), timeout=0.2)
    assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
    assert sleep(sleep_request(1), timeout=30) == b""
    assert channel.unary_unary(ECHO + "Echo")(b"ok") == b"ok"


def test_deadline_of_a_waiting_caller_while_another_thread_reads(channel):
    """Two callers: one long call with a short deadline waits while another reads the pipe."""
    sleep = channel.unary_unary(ECHO + "Sleep")
    errors = []

    def short():
        try:
            sleep(sleep_request(60_000), timeout=0.3)
        except RPCError as error:
            errors.append(error.code)

    thread = threading.Thread(target=short)
    thread.start()
    assert sleep(sleep_request(800), timeout=30) == b""
    thread.join(60)
    assert errors == [StatusCode.DEADLINE_EXCEEDED]


def test_server_streaming_with_a_deadline(channel):
    call = channel.unary_stream(ECHO + "Repeat")(repeat_request(1 << 30, b"x" * 64), timeout=0.3)
    with pytest.raises(RPCError) as caught:
        for _ in call:
            pass
    assert caught.value.code == StatusCode.DEADLINE_EXCEEDED


def test_cancelling_a_stream_from_another_thread(channel):
    call = channel.unary_stream(ECHO + "Repeat")(repeat_request(1 << 30, b"z"))
    received = [next(call)]
    threading.Timer(0.1, call.cancel).start()
    with pytest.raises(RPCError) as caught:
        for message in call:
            received.append(message)
    assert caught.value.code == StatusCode.CANCELLED
    assert set(received) == {b"z"}
    assert channel.unary_unary(ECHO + "Echo")(b"after cancel") == b"after cancel"


def test_cancelling_a_call_nobody_is_reading_wakes_no_one_and_ends_it(channel):
    call = channel.unary_stream(ECHO + "Sleep")(sleep_request(60_000))
    call.cancel()
    with pytest.raises(RPCError) as caught:
        next(call)
    assert caught.value.code == StatusCode.CANCELLED


def test_leaving_a_stream_early_cancels_it(channel):
    with channel.unary_stream(ECHO + "Repeat")(repeat_request(1 << 30, b"q")) as call:
        assert next(call) == b"q"
    # The server stopped sending: later calls are not starved by the abandoned stream.
    for _ in range(20):
        assert channel.unary_unary(ECHO + "Echo")(b"e") == b"e"


def test_metadata_reaches_the_server(client):
    task_id = client.submit({"n": 1}, metadata={"correlation-id": "corr-42",
                                                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    task = client.get(task_id)
    assert task.correlation_id == "corr-42"
    assert task.traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c-")


def test_bad_metadata_is_refused_locally(channel):
    echo = channel.unary_unary(ECHO + "Echo")
    for metadata in ({"Upper": "x"}, {"key-bin": "text for a binary key"}, {f"k{i}": "v" for i in range(129)}):
        with pytest.raises(RPCError) as caught:
            echo(b"", metadata=metadata)
        assert caught.value.code == StatusCode.INVALID_ARGUMENT
    assert echo(b"ok", metadata={"x-bin": b"\xff\x00", "x-text": "ok"}) == b"ok"


def test_requests_that_are_not_bytes_are_refused_locally(channel):
    with pytest.raises(RPCError) as caught:
        channel.unary_unary(ECHO + "Echo")("text is not bytes")
    assert caught.value.code == StatusCode.INVALID_ARGUMENT


def test_goaway_drains_calls_in_flight_and_new_calls_go_to_a_new_connection(sidecars):
    """SIGTERM: the sidecar sends GOAWAY; the call in flight still gets its reply."""
    sidecar = sidecars()
    channel = pipebus.Channel(sidecar.pipe_directory)
    sleep = channel.unary_unary(ECHO + "Sleep")
    first = channel.connection()
    assert channel.unary_unary(ECHO + "Echo")(b"warm") == b"warm"
    results = []
    thread = threading.Thread(target=lambda: results.append(sleep(sleep_request(1000), timeout=30)))
    thread.start()
    # The call is open once the server has it; wait until its stream exists on our side.
    from conftest import wait_until
    wait_until(lambda: first._streams, "the Sleep call to be open")
    sidecar.process.send_signal(15)
    thread.join(60)
    assert results == [b""]
    sidecar.process.wait(60)
    with pytest.raises(RPCError) as caught:
        channel.unary_unary(ECHO + "Echo")(b"after")
    assert caught.value.code == StatusCode.UNAVAILABLE
    channel.close()
