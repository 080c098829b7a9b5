"""format/packet_heads.py: the long packet head (v1-v13, every HEADER packet) and
format v14's short one, written and read back, checked, and refused when damaged."""
from __future__ import annotations

import io

import pytest

from vqcodec.errors import CorruptPacket, TokenMismatchError, TruncatedStream
from vqcodec.format import packet_heads
from vqcodec.format.container import Packet, PacketReader, PacketType, StreamHeader


def test_the_header_type_is_the_containers():
    assert packet_heads.HEADER_TYPE == PacketType.HEADER


@pytest.mark.parametrize("short, size", [(False, 25), (True, 16)])
def test_a_head_round_trips(short, size):
    data = packet_heads.pack(PacketType.INTER, 70_001, 3, b"payload", 0xDEADBEEF, short)
    assert len(data) == size + 7
    kind, first, count, length, payload_crc, tokens_crc = packet_heads.parse(data, 0, 70_001, short)
    assert (kind, first, count, length, tokens_crc) == (PacketType.INTER, 70_001, 3, 7, 0xDEADBEEF)
    assert (payload_crc is None) == short


def test_header_packets_keep_the_long_head_in_a_short_stream():
    data = packet_heads.pack(PacketType.HEADER, 5, 0, b"x" * 70, 0, short=True)
    assert len(data) == 25 + 70 and packet_heads.head_size(True, data[2]) == 25
    assert packet_heads.parse(data, 0, 5, short=True)[4] is not None  # its payload CRC is there


def test_a_short_heads_first_frame_is_read_against_the_frame_expected():
    data = packet_heads.pack(PacketType.INTER, 65_536 * 3 + 9, 1, b"", 0, True)
    assert packet_heads.parse(data, 0, 65_536 * 3 + 9, True)[1] == 65_536 * 3 + 9
    assert packet_heads.parse(data, 0, 10, True)[1] == 9  # the reader's order check then refuses it


@pytest.mark.parametrize("at", range(16))
def test_every_byte_of_a_short_head_is_checked(at):
    data = bytearray(packet_heads.pack(PacketType.INTRA, 0, 1, b"abc", 7, True))
    data[at] ^= 0x10
    with pytest.raises(CorruptPacket):
        packet_heads.parse(bytes(data), 0, 0, True)


def test_a_cut_short_head_is_a_truncation():
    data = packet_heads.pack(PacketType.INTRA, 0, 1, b"abc", 7, True)
    for n in (0, 2, 3, 15):
        with pytest.raises(TruncatedStream):
            packet_heads.parse(data[:n], 0, 0, True)


def test_a_payload_too_long_for_a_short_head_is_refused():
    with pytest.raises(ValueError, match="does not fit a short head"):
        packet_heads.pack(PacketType.INTRA, 0, 1, bytes(1 << 24), 0, True)


def test_a_version_14_stream_has_short_heads(motion_golden):
    f = io.BytesIO(motion_golden)
    header = StreamHeader.read(f)
    reader = PacketReader(f, header)
    heads, before = {}, reader.offset
    while (p := reader.read_packet()) is not None:
        heads.setdefault(p.kind, set()).add(reader.offset - len(p.payload) - before)
        before = reader.offset
    assert header.version == 14
    assert heads == {PacketType.INTRA: {16}, PacketType.INTER: {16}, PacketType.HEADER: {25}, PacketType.END: {16}}


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
