"""Frames (docs/PROTOCOL.md §3): a 5-byte header (flags, big-endian body length), then the body;
flag bit 0 marks an LZ4 body (a 4-byte big-endian declared length, then one LZ4 block)."""
import struct

import lz4.block

from ._status import RPCError, StatusCode

HEADER = struct.Struct(">BI")
HEADER_SIZE = 5
FLAG_COMPRESSED = 1
DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024
# Senders compress only bodies above this, and only when that makes them smaller.
COMPRESSION_THRESHOLD = 16 * 1024
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer broke the framing: the connection cannot go on."""


def encode_frame(body, max_frame_size, compress):
    """One frame carrying `body`, LZ4-compressed when `compress` (the peer decodes LZ4), the body
    is above the threshold and compressing makes it smaller. RESOURCE_EXHAUSTED when `body` is
    above the peer's `max_frame_size` (nothing is sent)."""
    size = len(body)
    if size > max_frame_size:
        raise RPCError(
            StatusCode.RESOURCE_EXHAUSTED,
            f"message of {size} bytes is above the server's frame limit of {max_frame_size} bytes",
        )
    if compress and size > COMPRESSION_THRESHOLD:
        block = lz4.block.compress(body, store_size=False)
        if len(block) + 4 < size:
            return HEADER.pack(FLAG_COMPRESSED, len(block) + 4) + _LENGTH.pack(size) + block
    return HEADER.pack(0, size) + body


class FrameDecoder:
    """Splits the bytes read into frame bodies, checking each header before allocating."""

    __slots__ = ("max_frame_size", "_buffer")

    def __init__(self, max_frame_size=DEFAULT_MAX_FRAME_SIZE):
        self.max_frame_size = max_frame_size
        self._buffer = b""

    def feed(self, data):
        """The bodies of the whole frames now buffered (decompressed), in order."""
        if not self._buffer and len(data) > HEADER_SIZE and data[0] == 0:
            # The common case, one whole plain frame (a unary reply): no loop.
            length = int.from_bytes(data[1:5], "big")
            if length == len(data) - HEADER_SIZE and length <= self.max_frame_size:
                return [data[HEADER_SIZE:]]
        buffer = self._buffer + data if self._buffer else data
        bodies = []
        position = 0
        end = len(buffer)
        while end - position >= HEADER_SIZE:
            flags, length = HEADER.unpack_from(buffer, position)
            if flags & ~FLAG_COMPRESSED:
                raise ProtocolError(f"frame with reserved flag bits set ({flags:#04x})")
            if length > self.max_frame_size:
                raise ProtocolError(f"frame of {length} bytes is above the limit of {self.max_frame_size}")
            start = position + HEADER_SIZE
            if end - start < length:
                break
            body = buffer[start:start + length]
            position = start + length
            if flags:
                body = self._decompress(body)
            bodies.append(body)
        self._buffer = buffer[position:] if position < end else b""
        return bodies

    def _decompress(self, body):
        if len(body) < 4:
            raise ProtocolError("compressed frame shorter than its declared length")
        (declared,) = _LENGTH.unpack_from(body)
        if declared > self.max_frame_size:
            raise ProtocolError(f"compressed frame declares {declared} bytes, above the limit of {self.max_frame_size}")
        try:
            plain = lz4.block.decompress(body[4:], uncompressed_size=declared)
        except Exception as error:  # lz4 raises LZ4BlockError, a plain Exception subclass
            raise ProtocolError(f"compressed frame does not decompress: {error}") from None
        if len(plain) != declared:
            raise ProtocolError(f"compressed frame decompresses to {len(plain)} bytes, not the declared {declared}")
        return plain
