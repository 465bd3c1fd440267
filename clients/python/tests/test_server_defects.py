"""The two server defects of issue 15 (item 6), as the protocol document states the behaviour:
fixed (they were strict expected failures until then)."""
import os
import select
import time

from pipebus import _connection as C
from pipebus._frames import FrameDecoder
from pipebus.v1 import envelope_pb2 as pb

ECHO = "/pipebus.testing.v1.Echo/Echo"


def test_server_compresses_a_large_compressible_reply_for_a_client_that_decodes_lz4(sidecar):
    connection = C.Connection(sidecar.pipe_directory)
    decompressed = []

    class CountingDecoder(FrameDecoder):
        def _decompress(self, body):
            decompressed.append(len(body))
            return super()._decompress(body)

    connection._decoder = CountingDecoder(connection.max_frame_size)  # nothing is buffered after the handshake
    try:
        payload = b"compressible " * (80 * 1024)  # ~1 MiB
        assert connection.unary(ECHO, payload, timeout=30) == payload
    finally:
        connection.close()
    assert decompressed, "the 1 MiB reply came uncompressed"


def test_an_unsupported_protocol_version_is_answered_with_goaway_failed_precondition(sidecar):
    connection = C.Connection(sidecar.pipe_directory)
    try:
        os.set_blocking(connection._read_fd, False)
        hello = pb.Envelope(stream_id=0, kind=C.HELLO, hello=pb.Hello(protocol_version=2, max_frame_size=1 << 20))
        frame = C.encode_frame(hello.SerializeToString(), 1 << 20, False)
        os.write(connection._write_fd, frame)
        seen = []
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            if not select.select([connection._read_fd], [], [], 0.5)[0]:
                continue
            data = os.read(connection._read_fd, 65536)
            if not data:
                break
            seen += [pb.Envelope.FromString(body) for body in connection._decoder.feed(data)]
    finally:
        connection.close()
    goaways = [e for e in seen if e.kind == C.GOAWAY]
    assert goaways and goaways[0].status_code == 9, f"got {[e.kind for e in seen]} then end of file"
