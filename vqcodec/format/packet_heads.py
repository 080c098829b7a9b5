"""A packet's head on the wire: the long head (formats v1-v13, and every HEADER
packet) and the short head of format v14. Little-endian.

Long head, 25 bytes:

    0 "PK", 2 u8 type, 3 u32 first_frame, 7 u16 frame_count, 9 u32 payload_len,
    13 u32 payload crc32, 17 u32 tokens crc32, 21 u32 crc32 of bytes 0..20, 25 payload

Short head (format v14, every packet but HEADER), 16 bytes:

    0 "PK", 2 u8 type, 3 u16 first_frame mod 65536, 5 u16 frame_count,
    7 u24 payload_len, 10 u32 tokens crc32, 14 u16 crc32 of bytes 0..13 mod 65536,
    16 payload

Why: the low-latency mode at latency 0 sends a packet per frame, and 25 bytes a
frame were half of carphone's stream at quality 1. The short head drops what the
stream already knows or checks otherwise:
- first_frame: every packet must start at the frame after the one before, so
  its low 16 bits say it; a decoder that starts mid-stream (late join, after
  damage) starts at a HEADER packet, whose long head carries it whole;
- the payload's crc32: the tokens CRC checks what the payload decodes to (a
  full-mode INTRA packet's quality byte and tokens; an INTER packet's step
  modes, motion fields, tile maps and tokens), so damage is still reported
  against the packet it hit, one decode later;
- the head's own check shrinks to 16 bits, and payloads to at most 16 MiB.
The sync bytes stay: resynchronisation (format/sync.py) looks for HEADER packets,
whose heads are long in every version.
"""
from __future__ import annotations

import struct
import zlib

from ..errors import CorruptPacket, TruncatedStream

SYNC = b"PK"
HEADER_TYPE = 5  # PacketType.HEADER (container.py; a test pins it): its packets keep the long head
_LONG = struct.Struct("<2sBIHIII")  # the 21 bytes the long head's own crc32 covers
_CRC = struct.Struct("<I")
LONG_SIZE = _LONG.size + _CRC.size
_SHORT = struct.Struct("<2sBHH3sI")  # the 14 bytes the short head's check covers
_CHECK = struct.Struct("<H")
SHORT_SIZE = _SHORT.size + _CHECK.size
MAX_SHORT_PAYLOAD = (1 << 24) - 1
KIND_AT = 2  # the type byte: it says which head a v14 packet has


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def head_size(short: bool, kind: int) -> int:
    """Bytes of the head of a packet of type `kind` in a stream whose other packets
    have short heads (`short`) or long ones."""
    return SHORT_SIZE if short and kind != HEADER_TYPE else LONG_SIZE


def pack(kind: int, first: int, count: int, payload: bytes, tokens_crc: int, short: bool) -> bytes:
    """The packet's bytes: its head (short unless a HEADER packet), then the payload."""
    if not (short and kind != HEADER_TYPE):
        head = _LONG.pack(SYNC, kind, first, count, len(payload), _crc(payload), tokens_crc)
        return head + _CRC.pack(_crc(head)) + payload
    if len(payload) > MAX_SHORT_PAYLOAD:
        raise ValueError(f"a packet payload of {len(payload)} bytes does not fit a short head "
                         f"(at most {MAX_SHORT_PAYLOAD})")
    head = _SHORT.pack(SYNC, kind, first & 0xFFFF, count, len(payload).to_bytes(3, "little"), tokens_crc)
    return head + _CHECK.pack(_crc(head) & 0xFFFF) + payload


def parse(raw: bytes, offset: int, frame: int, short: bool = False) -> tuple[int, int, int, int, int | None, int]:
    """Check a packet's head at byte `offset` (sync, its own check) -> (type byte,
    first_frame, frame_count, payload_len, payload crc32 or None (short heads),
    tokens_crc). `frame` is the frame expected there; a short head's first_frame
    is read as the frame of `frame`'s block of 65536 with the head's low 16 bits
    (the reader then checks it is `frame`)."""
    if len(raw) < KIND_AT + 1:
        raise TruncatedStream(offset + len(raw), frame)
    size = head_size(short, raw[KIND_AT])
    if len(raw) < size:
        raise TruncatedStream(offset + len(raw), frame)
    if raw[:2] != SYNC:
        raise CorruptPacket(f"bad sync 0x{raw[:2].hex()} (expected PK)", offset, frame)
    if size == LONG_SIZE:
        if _crc(raw[:_LONG.size]) != _CRC.unpack_from(raw, _LONG.size)[0]:
            raise CorruptPacket("packet header CRC mismatch", offset, frame)
        _, kind, first, count, payload_len, payload_crc, tokens_crc = _LONG.unpack_from(raw)
        return kind, first, count, payload_len, payload_crc, tokens_crc
    if _crc(raw[:_SHORT.size]) & 0xFFFF != _CHECK.unpack_from(raw, _SHORT.size)[0]:
        raise CorruptPacket("packet header CRC mismatch", offset, frame)
    _, kind, low, count, length, tokens_crc = _SHORT.unpack_from(raw)
    return kind, (frame & ~0xFFFF) | low, count, int.from_bytes(length, "little"), None, tokens_crc
