"""Finding a stream's next HEADER packet in raw bytes (late join, resynchronisation).

A decoder that starts in the middle of a stream (a live feed joined late, or a
file read past damage) cannot trust its first bytes. From format v3 on, every
INTRA packet but the first is preceded by a HEADER packet: a copy of the stream
header. `scan` looks for one: the sync bytes, a packet head whose own CRC holds
and whose type is HEADER, and a payload that parses as a stream header. A
genuine packet of another type is passed over whole; anything else is passed
over a byte at a time. It knows no model and allocates nothing the limits do
not allow.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ContainerError
from .container import PACKET_HEAD_SIZE, SYNC, Limits, PacketType, StreamHeader, parse_packet_head


@dataclass(frozen=True)
class Scan:
    """What `scan` found in a buffer.

    skip: bytes at the front to drop (they hold no HEADER packet).
    header: the stream header, found in a HEADER packet starting right after the
    skipped bytes (the packet itself stays in the buffer), or None: more bytes
    are needed. first_frame: the frame of the INTRA packet that follows it."""

    skip: int
    header: StreamHeader | None = None
    first_frame: int = 0


def scan(buf: bytes | bytearray, limits: Limits) -> Scan:
    """Look for the first HEADER packet in `buf` (see Scan)."""
    at = 0
    while True:
        i = buf.find(SYNC, at)
        if i < 0:  # keep a last byte that may start the sync bytes
            keep = 1 if buf.endswith(SYNC[:1]) and len(buf) > at else 0
            return Scan(max(at, len(buf) - keep))
        at = i
        if len(buf) - at < PACKET_HEAD_SIZE:
            return Scan(at)
        try:
            kind, first, _, length, _, _ = parse_packet_head(bytes(buf[at:at + PACKET_HEAD_SIZE]), 0, 0)
        except ContainerError:
            at += 1
            continue
        if kind is not PacketType.HEADER:  # a genuine packet: pass over it whole
            at += min(len(buf) - at, PACKET_HEAD_SIZE + length) if length <= limits.max_payload else 1
            continue
        if len(buf) - at < PACKET_HEAD_SIZE + length:
            return Scan(at)
        try:
            header = StreamHeader.from_bytes(bytes(buf[at + PACKET_HEAD_SIZE:at + PACKET_HEAD_SIZE + length]),
                                             limits)
        except ContainerError:
            at += 1
            continue
        return Scan(at, header, first)
