"""A packet's head on the wire: the long head (formats v1-v13, and every HEADER
packet), the short head of format v14 and the compact head of format v15.
Little-endian.

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

Compact head (format v15, every packet but HEADER), 6 to 11 bytes:

    0 u8 lead: bit 7 set (a long head starts with "P", bit 7 clear), bits 0-2 the
      type, bits 3-4 n, bits 5-6 c;
    1 frame_count in c bytes (c = 0: none, the count is 1, or 0 for END),
    . payload_len in n bytes (n = 0: an empty payload), both the fewest that hold them,
    . u32 tokens crc32, . u8 crc32 of the bytes before it mod 256, then the payload.

Why: a one-frame packet of the low-latency mode still spent 16 bytes on its head.
The compact head keeps what a reader cannot know otherwise (the type, the count,
the length) and the tokens CRC, which finds damage; it drops the sync bytes,
which only resynchronisation needs (it finds HEADER packets, whose heads stay
long), and the first frame, which must be the frame after the packet before; the
head's own check, 8 bits, is there so that a damaged length is refused before
the reader waits for or allocates it (the limits bound it either way). The head's
size is in its first byte, so a reader knows how much to read after one byte.
"""
from __future__ import annotations

import struct
import zlib

from ..errors import CorruptPacket, TruncatedStream
from .versions import compact_packets, short_packet_heads

SYNC = b"PK"
HEADER_TYPE = 5  # PacketType.HEADER (container.py; a test pins it): its packets keep the long head
END_TYPE = 3  # PacketType.END: no frames
_LONG = struct.Struct("<2sBIHIII")  # the 21 bytes the long head's own crc32 covers
_CRC = struct.Struct("<I")
LONG_SIZE = _LONG.size + _CRC.size
_SHORT = struct.Struct("<2sBHH3sI")  # the 14 bytes the short head's check covers
_CHECK = struct.Struct("<H")
SHORT_SIZE = _SHORT.size + _CHECK.size
MAX_SHORT_PAYLOAD = (1 << 24) - 1
KIND_AT = 2  # the type byte: it says which head a v14 packet has
LONG, SHORT, COMPACT = "long", "short", "compact"  # the heads of a stream's packets but HEADER ones
_COMPACT_MARK = 0x80
COMPACT_MIN = 6  # a compact head with no count and no length: lead, tokens CRC, check


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def heads_of(version: int) -> str:
    """The head of the packets but HEADER ones in a stream of `version`."""
    return COMPACT if compact_packets(version) else SHORT if short_packet_heads(version) else LONG


def head_size(heads: str, start: bytes) -> int:
    """Bytes of the head of a packet starting with `start` (at least KIND_AT + 1 bytes,
    fewer only where that is the whole stream) in a stream whose other packets have
    `heads` heads. A HEADER packet's head is always long."""
    if heads == COMPACT:  # a HEADER packet's long head starts with "P"; a compact one's lead has bit 7
        return LONG_SIZE if start[:1] == SYNC[:1] else COMPACT_MIN + sum(_widths(start[0]))
    if heads == LONG or len(start) <= KIND_AT or start[KIND_AT] == HEADER_TYPE:
        return LONG_SIZE
    return SHORT_SIZE


def _widths(lead: int) -> tuple[int, int]:
    """A compact head's lead byte -> (bytes of its frame count, of its payload length)."""
    return lead >> 5 & 3, lead >> 3 & 3


def _fewest(value: int) -> int:
    return (value.bit_length() + 7) // 8


def pack(kind: int, first: int, count: int, payload: bytes, tokens_crc: int, heads: str) -> bytes:
    """The packet's bytes: its head (`heads`' head, unless a HEADER packet), then the payload."""
    if heads == COMPACT and kind != HEADER_TYPE:
        if len(payload) > MAX_SHORT_PAYLOAD or not 0 < kind < 8:
            raise ValueError(f"a packet of type {kind} with a payload of {len(payload)} bytes does not fit a "
                             f"compact head (at most {MAX_SHORT_PAYLOAD})")
        c = 0 if count == (0 if kind == END_TYPE else 1) else _fewest(count)
        n = _fewest(len(payload))
        if c > 2:
            raise ValueError(f"a compact head holds a frame count of at most 65535, got {count}")
        head = bytes([_COMPACT_MARK | c << 5 | n << 3 | kind]) + (count.to_bytes(c, "little") if c else b"")
        head += len(payload).to_bytes(n, "little") + _CRC.pack(tokens_crc)
        return head + bytes([_crc(head) & 0xFF]) + payload
    if not (heads != LONG and kind != HEADER_TYPE):
        head = _LONG.pack(SYNC, kind, first, count, len(payload), _crc(payload), tokens_crc)
        return head + _CRC.pack(_crc(head)) + payload
    if len(payload) > MAX_SHORT_PAYLOAD:
        raise ValueError(f"a packet payload of {len(payload)} bytes does not fit a short head "
                         f"(at most {MAX_SHORT_PAYLOAD})")
    head = _SHORT.pack(SYNC, kind, first & 0xFFFF, count, len(payload).to_bytes(3, "little"), tokens_crc)
    return head + _CHECK.pack(_crc(head) & 0xFFFF) + payload


def parse(raw: bytes, offset: int, frame: int, heads: str = LONG) -> tuple[int, int, int, int, int | None, int]:
    """Check a packet's head at byte `offset` (sync, its own check) -> (type byte,
    first_frame, frame_count, payload_len, payload crc32 or None (short and compact
    heads), tokens_crc). `frame` is the frame expected there; a short head's
    first_frame is read as the frame of `frame`'s block of 65536 with the head's
    low 16 bits (the reader then checks it is `frame`); a compact head's is `frame`."""
    if len(raw) < KIND_AT + 1:
        raise TruncatedStream(offset + len(raw), frame)
    size = head_size(heads, raw)
    if len(raw) < size:
        raise TruncatedStream(offset + len(raw), frame)
    if heads == COMPACT and raw[:1] != SYNC[:1]:
        return _parse_compact(raw[:size], offset, frame)
    if raw[:2] != SYNC:
        raise CorruptPacket(f"bad sync 0x{raw[:2].hex()} (expected PK)", offset, frame)
    if heads == COMPACT and raw[KIND_AT] != HEADER_TYPE:
        raise CorruptPacket(f"a long packet head of type {raw[KIND_AT]} in a stream of compact heads "
                            f"(only HEADER packets keep it)", offset, frame)
    if size == LONG_SIZE:
        if _crc(raw[:_LONG.size]) != _CRC.unpack_from(raw, _LONG.size)[0]:
            raise CorruptPacket("packet header CRC mismatch", offset, frame)
        _, kind, first, count, payload_len, payload_crc, tokens_crc = _LONG.unpack_from(raw)
        return kind, first, count, payload_len, payload_crc, tokens_crc
    if _crc(raw[:_SHORT.size]) & 0xFFFF != _CHECK.unpack_from(raw, _SHORT.size)[0]:
        raise CorruptPacket("packet header CRC mismatch", offset, frame)
    _, kind, low, count, length, tokens_crc = _SHORT.unpack_from(raw)
    return kind, (frame & ~0xFFFF) | low, count, int.from_bytes(length, "little"), None, tokens_crc


def _parse_compact(raw: bytes, offset: int, frame: int) -> tuple[int, int, int, int, None, int]:
    lead = raw[0]
    c, n = _widths(lead)
    if not lead & _COMPACT_MARK or c == 3:
        raise CorruptPacket(f"bad packet head lead byte 0x{lead:02x}", offset, frame)
    if _crc(raw[:-1]) & 0xFF != raw[-1]:
        raise CorruptPacket("packet header CRC mismatch", offset, frame)
    kind = lead & 7
    if kind == HEADER_TYPE:
        raise CorruptPacket("a HEADER packet with a compact head (HEADER packets keep the long one)", offset, frame)
    count = int.from_bytes(raw[1:1 + c], "little") if c else (0 if kind == END_TYPE else 1)
    length = int.from_bytes(raw[1 + c:1 + c + n], "little")
    if (c and count == (0 if kind == END_TYPE else 1)) or c > _fewest(count) or n != _fewest(length):
        raise CorruptPacket("packet head fields are not in their fewest bytes", offset, frame)
    return kind, frame, count, length, None, _CRC.unpack_from(raw, 1 + c + n)[0]
