"""format/packet_heads.py: the long packet head (v1-v13, every HEADER packet),
format v14's short one and v15's compact one, written and read back, checked,
and refused when damaged."""
from __future__ import annotations

import io

import pytest

from vqcodec.errors import CorruptPacket, TokenMismatchError, TruncatedStream
from vqcodec.format import packet_heads
from vqcodec.format.packet_heads import COMPACT, LONG, SHORT
from vqcodec.format.container import Packet, PacketReader, PacketType, StreamHeader


def test_the_header_type_is_the_containers():
    assert packet_heads.HEADER_TYPE == PacketType.HEADER


@pytest.mark.parametrize("heads, size", [(LONG, 25), (SHORT, 16), (COMPACT, 8)])
def test_a_head_round_trips(heads, size):
    data = packet_heads.pack(PacketType.INTER, 70_001, 3, b"payload", 0xDEADBEEF, heads)
    assert len(data) == size + 7
    assert packet_heads.head_size(heads, data[:3]) == size
    kind, first, count, length, payload_crc, tokens_crc = packet_heads.parse(data, 0, 70_001, heads)
    assert (kind, first, count, length, tokens_crc) == (PacketType.INTER, 70_001, 3, 7, 0xDEADBEEF)
    assert (payload_crc is None) == (heads != LONG)


@pytest.mark.parametrize("heads", [SHORT, COMPACT])
def test_header_packets_keep_the_long_head(heads):
    data = packet_heads.pack(PacketType.HEADER, 5, 0, b"x" * 70, 0, heads)
    assert len(data) == 25 + 70 and packet_heads.head_size(heads, data[:3]) == 25
    assert packet_heads.parse(data, 0, 5, heads)[4] is not None  # its payload CRC is there


def test_a_short_heads_first_frame_is_read_against_the_frame_expected():
    data = packet_heads.pack(PacketType.INTER, 65_536 * 3 + 9, 1, b"", 0, SHORT)
    assert packet_heads.parse(data, 0, 65_536 * 3 + 9, SHORT)[1] == 65_536 * 3 + 9
    assert packet_heads.parse(data, 0, 10, SHORT)[1] == 9  # the reader's order check then refuses it


@pytest.mark.parametrize("kind, count, length, size", [
    (PacketType.INTER, 1, 0, 6), (PacketType.INTER, 1, 255, 7), (PacketType.INTER, 1, 256, 8),
    (PacketType.INTRA, 2, 70_000, 10), (PacketType.INTER, 300, 1, 9), (PacketType.END, 0, 0, 6),
    (PacketType.INTER, 65_535, (1 << 24) - 1, 11)])
def test_a_compact_head_takes_the_fewest_bytes(kind, count, length, size):
    """Format v15: a one-frame packet (the low-latency mode at latency 0) of up to
    255 bytes has a 7-byte head; the first frame is the one the reader expects."""
    data = packet_heads.pack(kind, 12, count, bytes(length), 0xCAFE, COMPACT)
    assert len(data) - length == size == packet_heads.head_size(COMPACT, data[:3])
    assert data[0] & 0x80  # never "P": a HEADER packet's long head is told apart by its first byte
    assert packet_heads.parse(data[:size], 0, 99, COMPACT) == (kind, 99, count, length, None, 0xCAFE)


@pytest.mark.parametrize("heads, size", [(SHORT, 16), (COMPACT, 8)])
def test_every_byte_of_a_head_is_checked(heads, size):
    data = packet_heads.pack(PacketType.INTRA, 0, 2, b"abc", 7, heads)
    assert len(data) == size + 3
    for at in range(size):
        bad = bytearray(data)
        bad[at] ^= 0x10
        with pytest.raises((CorruptPacket, TruncatedStream)):  # (a longer head claimed: more to read)
            packet_heads.parse(bytes(bad[:packet_heads.head_size(heads, bad[:3])]), 0, 0, heads)


@pytest.mark.parametrize("head, message", [
    (bytes([0x80 | 0x60 | 2]) + bytes(6), "lead byte"),  # a 3-byte count
    (bytes([0x20 | 2, 1, 0, 0, 0, 0, 0]), "lead byte"),  # bit 7 clear
    (bytes([0x80 | 5]) + bytes(5), "HEADER packet with a compact head"),
    (b"PK\x02" + bytes(13), "long packet head of type 2"),  # only HEADER packets keep the long head
])
def test_a_bad_compact_head_is_refused(head, message):
    head = head[:-1] + bytes([packet_heads._crc(head[:-1]) & 0xFF]) if head[0] & 0x80 else head
    with pytest.raises(CorruptPacket, match=message):
        packet_heads.parse(head + bytes(32), 0, 0, COMPACT)


def test_a_compact_head_must_use_the_fewest_bytes():
    for lead, fields in ((0x80 | 0x20 | 2, b"\x01"), (0x80 | 0x10 | 2, b"\x05\x00"), (0x80 | 0x08 | 2, b"\x00")):
        head = bytes([lead]) + fields + bytes(4)
        head += bytes([packet_heads._crc(head) & 0xFF])
        with pytest.raises(CorruptPacket, match="fewest bytes"):
            packet_heads.parse(head, 0, 0, COMPACT)


@pytest.mark.parametrize("heads", [SHORT, COMPACT])
def test_a_cut_short_head_is_a_truncation(heads):
    data = packet_heads.pack(PacketType.INTRA, 0, 1, b"abc", 7, heads)
    for n in (0, 2, 3, len(data) - 4):
        with pytest.raises(TruncatedStream):
            packet_heads.parse(data[:n], 0, 0, heads)


@pytest.mark.parametrize("heads", [SHORT, COMPACT])
def test_a_payload_too_long_for_a_short_head_is_refused(heads):
    with pytest.raises(ValueError, match="does not fit a"):
        packet_heads.pack(PacketType.INTRA, 0, 1, bytes(1 << 24), 0, heads)


@pytest.mark.parametrize("golden, version", [("tiny_motion_q2_v14.vqv", 14), ("tiny_motion_q2.vqv", 15)])
def test_a_streams_packets_have_its_versions_heads(golden, version):
    from conftest import EXPECTED

    f = io.BytesIO((EXPECTED / golden).read_bytes())
    header = StreamHeader.read(f)
    reader = PacketReader(f, header)
    heads, before = {}, reader.offset
    while (p := reader.read_packet()) is not None:
        size = reader.offset - len(p.payload) - before
        if version == 15 and p.kind != PacketType.HEADER:  # the fewest bytes for the count and the length
            count_bytes = 0 if p.frame_count == (p.kind != PacketType.END) else (p.frame_count.bit_length() + 7) // 8
            assert size == 6 + count_bytes + (len(p.payload).bit_length() + 7) // 8
            size = "compact"
        heads.setdefault(p.kind, set()).add(size)
        before = reader.offset
    assert header.version == version
    short = 16 if version == 14 else "compact"
    assert heads == {PacketType.INTRA: {short}, PacketType.INTER: {short}, PacketType.HEADER: {25},
                     PacketType.END: {short}}


def test_damage_a_short_head_does_not_check_is_caught_by_the_tokens_crc(motion_golden, motion_codec):
    """No payload CRC: a changed quality byte of an INTRA packet, or a changed step
    head of an INTER packet, is caught by the CRC of what the packet decodes to."""
    from vqcodec.api import decompress

    f = io.BytesIO(motion_golden)
    header = StreamHeader.read(f)
    reader, spans = PacketReader(f, header), []
    while (p := reader.read_packet()) is not None:
        spans.append((p.kind, reader.offset - len(p.payload)))
    for kind in (PacketType.INTRA, PacketType.INTER):
        at = next(start for k, start in spans if k == kind)
        bad = bytearray(motion_golden)
        bad[at] ^= 0x01  # the quality byte (2 -> 3, beyond the tiny model's) / the step count
        with pytest.raises((TokenMismatchError, CorruptPacket, ValueError)) as e:
            list(decompress(io.BytesIO(bytes(bad)), model=motion_codec))
        assert "\n" not in str(e.value)


@pytest.fixture(scope="module")
def motion_golden() -> bytes:
    from conftest import EXPECTED

    return (EXPECTED / "tiny_motion_q2.vqv").read_bytes()


@pytest.fixture(scope="module")
def motion_codec():
    from conftest import EXPECTED
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / "tiny_motion.json"))
    codec.use_rounding(0)
    return codec
