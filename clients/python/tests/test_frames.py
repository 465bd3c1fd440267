"""Frames without a server: the header, LZ4 both ways, and the checks before allocating."""
import struct

import lz4.block
import pytest

from pipebus import RPCError, StatusCode
from pipebus._frames import COMPRESSION_THRESHOLD, FrameDecoder, ProtocolError, encode_frame


def test_small_body_is_sent_plain_with_a_big_endian_length():
    assert encode_frame(b"abc", 1 << 20, True) == b"\x00\x00\x00\x00\x03abc"


def test_compressible_body_above_the_threshold_is_compressed_only_if_the_peer_decodes_lz4():
    body = b"x" * (COMPRESSION_THRESHOLD + 1)
    compressed = encode_frame(body, 1 << 20, True)
    assert compressed[0] == 1 and len(compressed) < len(body)
    (declared,) = struct.unpack(">I", compressed[5:9])
    assert declared == len(body)
    assert lz4.block.decompress(compressed[9:], uncompressed_size=declared) == body
    assert encode_frame(body, 1 << 20, False)[0] == 0


def test_incompressible_body_is_sent_plain():
    import os
    body = os.urandom(COMPRESSION_THRESHOLD * 2)
    assert encode_frame(body, 1 << 20, True)[0] == 0


def test_body_above_the_peers_limit_is_refused_before_sending():
    with pytest.raises(RPCError) as caught:
        encode_frame(b"x" * 101, 100, False)
    assert caught.value.code == StatusCode.RESOURCE_EXHAUSTED


def test_decoder_splits_frames_across_reads_and_decompresses():
    body = b"y" * 100_000
    stream = encode_frame(b"one", 1 << 20, True) + encode_frame(body, 1 << 20, True) + encode_frame(b"", 1 << 20, True)
    decoder = FrameDecoder(1 << 20)
    bodies = []
    for start in range(0, len(stream), 7):
        bodies += decoder.feed(stream[start:start + 7])
    assert bodies == [b"one", body, b""]


def test_decoder_refuses_reserved_flags_oversized_frames_and_lying_declared_lengths():
    with pytest.raises(ProtocolError):
        FrameDecoder(100).feed(b"\x02\x00\x00\x00\x00")
    with pytest.raises(ProtocolError):
        FrameDecoder(100).feed(b"\x00\x00\x00\x00\x65")  # 101 bytes declared: refused before they come
    block = lz4.block.compress(b"z" * 50, store_size=False)
    with pytest.raises(ProtocolError):
        FrameDecoder(100).feed(struct.pack(">BI", 1, len(block) + 4) + struct.pack(">I", 1000) + block)
    with pytest.raises(ProtocolError):
        FrameDecoder(100).feed(struct.pack(">BI", 1, len(block) + 4) + struct.pack(">I", 49) + block)
