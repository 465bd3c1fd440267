"""Many threads share one connection, and each gets its own reply."""
import os
import threading

ECHO = "/pipebus.testing.v1.Echo/"


def test_eight_threads_each_make_a_thousand_calls_and_get_their_own_replies(channel):
    echo = channel.unary_unary(ECHO + "Echo")
    connection = channel.connection()
    failures = []
    done = []

    def caller(index):
        try:
            for call in range(1000):
                payload = b"%d:%d:" % (index, call) + os.urandom(call % 64)
                reply = echo(payload, timeout=60)
                if reply != payload:
                    failures.append((index, call, payload, reply))
                    return
            done.append(index)
        except Exception as error:  # reported below, with which thread it was
            failures.append((index, error))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    assert sorted(done) == list(range(8))
    assert channel.connection() is connection  # one connection carried them all


def test_threads_mixing_streams_and_unary_calls(channel):
    import struct
    echo = channel.unary_unary(ECHO + "Echo")
    repeat = channel.unary_stream(ECHO + "Repeat")
    failures = []

    def streamer(index):
        payload = b"s%d" % index
        for _ in range(20):
            if list(repeat(struct.pack(">I", 50) + payload, timeout=60)) != [payload] * 50:
                failures.append(index)

    def unary(index):
        for call in range(300):
            payload = b"u%d-%d" % (index, call)
            if echo(payload, timeout=60) != payload:
                failures.append(index)

    threads = [threading.Thread(target=streamer, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=unary, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
