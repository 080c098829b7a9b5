"""Mutators for .vqv streams: byte-level damage and structure-aware edits.

Almost every byte of a .vqv stream is under a CRC (header, packet header,
payload), so blind byte mutation mostly tests three CRC checks and never
reaches the range decoder, the prior or the motion code behind them. The
structure-aware mutators therefore parse a stream leniently (no check at all),
change a field, a payload or the packet list, and write it back with the
CRCs recomputed (most of the time: a stale CRC is a case too). Only the
tokens CRC, which needs a decoder to compute, is left to fuzz_decoder.py.

The wire layout is written out here from the format's description in the
docstrings of vqcodec/format/container.py and packet_heads.py (format v14's
short packet heads, v15's compact ones), not imported from them, so a slip in the container's own
constants is not copied into the fuzzer.

Every mutator takes a random.Random, so a case is reproducible from its seed.
"""
from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field

HEADER = struct.Struct("<4sHHBBHHIIIHHB32sB")  # the 64 bytes before the model name
HEADER_FIELDS = ("magic", "version", "header_len", "mode", "pix_fmt", "width", "height",
                 "fps_num", "fps_den", "frame_count", "gop", "intra_period", "quality",
                 "sha256", "name_len")
PACKET = struct.Struct("<2sBIHIII")  # followed by u32 crc32 of these 21 bytes, then the payload
PACKET_FIELDS = ("sync", "kind", "first_frame", "frame_count", "payload_len", "payload_crc",
                 "tokens_crc")
CRC = struct.Struct("<I")
# format v14: every packet but HEADER (type 5) has a short head, then a u16 check of it
SHORT = struct.Struct("<2sBHH3sI")  # sync, kind, first_frame mod 2^16, frame_count, u24 payload_len, tokens_crc
CHECK = struct.Struct("<H")
SHORT_FROM, HEADER_KIND = 14, 5
# format v15: every packet but HEADER has a compact head: a lead byte (bit 7 set, bits 0-2
# the kind, bits 3-4 the length's bytes, bits 5-6 the count's: none means 1, or 0 for END),
# the count, the length, u32 tokens_crc, then a u8 check (crc32 mod 256) of them
COMPACT_FROM, END_KIND = 15, 3

# Boundary values per field width: the ones off-by-one and overflow bugs live at.
_INTERESTING = {
    1: (0, 1, 2, 3, 4, 5, 0x7F, 0x80, 0xFE, 0xFF),
    2: (0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 8191, 8192, 8193, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF),
    4: (0, 1, 2, 4, 8, 12, 0xFF, 0xFFFF, 1 << 20, (256 << 20) + 1, 100_000_001,
        0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF),
}
_WIDTH = {"B": 1, "H": 2, "I": 4}


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass
class RawPacket:
    fields: dict
    payload: bytes
    short: bool = False  # a v14 short head (fields that do not fit are cut to their width)
    compact: bool = False  # a v15 compact head (likewise)

    def to_bytes(self, fix_crcs: bool = True, fix_len: bool = True) -> bytes:
        f = dict(self.fields)
        if fix_len:
            f["payload_len"] = len(self.payload)
        if fix_crcs:
            f["payload_crc"] = crc32(self.payload)
        if self.compact:
            count, length = f["frame_count"] & 0xFFFF, f["payload_len"] & 0xFFFFFF
            c = 0 if count == (f["kind"] != END_KIND) else (count.bit_length() + 7) // 8
            n = (length.bit_length() + 7) // 8
            head = bytes([0x80 | c << 5 | n << 3 | (f["kind"] & 7)]) + (count.to_bytes(c, "little") if c else b"")
            head += length.to_bytes(n, "little") + CRC.pack(f["tokens_crc"])
            check = crc32(head) & 0xFF if fix_crcs else f.get("head_crc", 0) & 0xFF
            return head + bytes([check]) + self.payload
        if self.short:
            head = SHORT.pack(f["sync"], f["kind"], f["first_frame"] & 0xFFFF, f["frame_count"],
                              (f["payload_len"] & 0xFFFFFF).to_bytes(3, "little"), f["tokens_crc"])
            check = crc32(head) & 0xFFFF if fix_crcs else f.get("head_crc", 0) & 0xFFFF
            return head + CHECK.pack(check) + self.payload
        head = PACKET.pack(*(f[k] for k in PACKET_FIELDS))
        crc = crc32(head) if fix_crcs else f.get("head_crc", 0)
        return head + CRC.pack(crc) + self.payload


@dataclass
class RawStream:
    """A stream split into fields, with no check made; `tail` is what did not parse."""
    header: dict
    name: bytes
    packets: list = field(default_factory=list)
    tail: bytes = b""

    def to_bytes(self, rng: random.Random | None = None, stale: float = 0.0) -> bytes:
        """Serialise; each CRC or length is recomputed unless rng draws under `stale`."""
        keep = (lambda: rng is not None and rng.random() < stale)
        h = dict(self.header)
        if not keep():
            h["name_len"] = len(self.name) & 0xFF
            h["header_len"] = (HEADER.size + len(self.name) + CRC.size) & 0xFFFF
        body = HEADER.pack(*(h[k] for k in HEADER_FIELDS)) + self.name
        out = [body, CRC.pack(h.get("crc", 0) if keep() else crc32(body))]
        for p in self.packets:
            out.append(p.to_bytes(fix_crcs=not keep(), fix_len=not keep()))
        return b"".join(out) + self.tail


def parse(data: bytes) -> RawStream | None:
    """Split `data` by the layout alone; None if not even a header's worth is there."""
    if len(data) < HEADER.size:
        return None
    header = dict(zip(HEADER_FIELDS, HEADER.unpack_from(data)))
    name = data[HEADER.size: HEADER.size + header["name_len"]]
    pos = HEADER.size + len(name)
    header["crc"] = CRC.unpack_from(data, pos)[0] if pos + 4 <= len(data) else 0
    pos += 4
    packets = []
    while pos + 6 <= len(data):
        if header["version"] >= COMPACT_FROM and data[pos] != ord("P"):
            lead = data[pos]
            c, n = lead >> 5 & 3, lead >> 3 & 3
            at = pos + 1
            count = int.from_bytes(data[at: at + c], "little") if c else int(lead & 7 != END_KIND)
            length = int.from_bytes(data[at + c: at + c + n], "little")
            at += c + n
            if at + 5 > len(data):
                break
            fields = {"sync": b"", "kind": lead & 7, "first_frame": 0, "frame_count": count, "payload_len": length,
                      "payload_crc": 0, "tokens_crc": CRC.unpack_from(data, at)[0], "head_crc": data[at + 4]}
            payload = data[at + 5: at + 5 + length]
            packets.append(RawPacket(fields, payload, compact=True))
            pos = at + 5 + len(payload)
            continue
        if pos + SHORT.size + CHECK.size > len(data):
            break
        if header["version"] >= SHORT_FROM and data[pos + 2] != HEADER_KIND:
            sync, kind, first, count, length, tokens = SHORT.unpack_from(data, pos)
            fields = {"sync": sync, "kind": kind, "first_frame": first, "frame_count": count,
                      "payload_len": int.from_bytes(length, "little"), "payload_crc": 0, "tokens_crc": tokens,
                      "head_crc": CHECK.unpack_from(data, pos + SHORT.size)[0]}
            start = pos + SHORT.size + CHECK.size
            payload = data[start: start + fields["payload_len"]]
            packets.append(RawPacket(fields, payload, short=True))
            pos = start + len(payload)
            continue
        if pos + PACKET.size + 4 > len(data):
            break
        fields = dict(zip(PACKET_FIELDS, PACKET.unpack_from(data, pos)))
        fields["head_crc"] = CRC.unpack_from(data, pos + PACKET.size)[0]
        start = pos + PACKET.size + 4
        payload = data[start: start + fields["payload_len"]]
        packets.append(RawPacket(fields, payload))
        pos = start + len(payload)
    return RawStream(header, name, packets, data[pos:] if pos < len(data) else b"")


def model_name(data: bytes) -> bytes:
    """The model name a stream's header gives, unchecked (b"" if there is none)."""
    raw = parse(data)
    return raw.name if raw is not None else b""


def _value(rng: random.Random, width: int, old: int) -> int:
    """An interesting, nearby or random value for a field `width` bytes wide."""
    top = (1 << (8 * width)) - 1
    r = rng.random()
    if r < 0.45:
        return rng.choice(_INTERESTING[width])
    if r < 0.8:
        return (old + rng.choice((-2, -1, 1, 2, rng.randint(-64, 64)))) & top
    return rng.randint(0, top)


# Byte widths of the integer fields (the struct codes above, bytes fields left out).
_HEADER_WIDTH = {n: _WIDTH[c] for n, c in zip(HEADER_FIELDS[1:13] + HEADER_FIELDS[14:], "HHBBHHIIIHHBB")}
_PACKET_WIDTH = {n: _WIDTH[c] for n, c in zip(PACKET_FIELDS[1:], "BIHIII")}


# ----------------------------------------------------------- byte-level damage
def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randint(0, max(0, len(data) - 1))]


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def set_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.choice((1, 2, 8))):
        b[rng.randrange(len(b))] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return bytes(b)


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + rng.randbytes(rng.choice((1, 2, 4, 25, rng.randint(1, 300)))) + data[i:]


def delete_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, min(64, len(data) - i)):]


def duplicate_chunk(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    j = rng.randint(i, min(len(data), i + 200))
    k = rng.randint(0, len(data))
    return data[:k] + data[i:j] + data[k:]


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    """Noise, sometimes behind the magic so the parser gets past its first check."""
    noise = rng.randbytes(rng.choice((0, 1, 4, 8, 64, rng.randint(0, 2000))))
    return (b"VQVC" + rng.choice((b"\x01\x00", b"\x02\x00", b"")) + noise) if rng.random() < 0.5 else noise


BYTE_MUTATORS = (truncate, flip_bits, set_bytes, insert_bytes, delete_bytes, duplicate_chunk,
                 random_bytes)


# --------------------------------------------------------- structure-aware edits
def _header_field(rng: random.Random, s: RawStream) -> None:
    name = rng.choice(tuple(_HEADER_WIDTH))
    s.header[name] = _value(rng, _HEADER_WIDTH[name], s.header[name])


def _model_name(rng: random.Random, s: RawStream) -> None:
    s.name = rng.choice((b"", b"\xff\xfe", s.name[:-1], s.name + b"x", rng.randbytes(64),
                         rng.randbytes(65), "é".encode() * 3, b"default"))


def _packet_field(rng: random.Random, s: RawStream) -> None:
    if s.packets:
        p = rng.choice(s.packets)
        name = rng.choice(tuple(_PACKET_WIDTH))
        p.fields[name] = _value(rng, _PACKET_WIDTH[name], p.fields[name])


def _payload(rng: random.Random, s: RawStream) -> None:
    """Damage one payload: what the range decoder and the motion code then read."""
    filled = [p for p in s.packets if p.payload] or s.packets
    if not filled:
        return
    p = rng.choice(filled)
    op = rng.randrange(7)
    if op == 0:
        p.payload = flip_bits(rng, p.payload)
    elif op == 1:
        p.payload = p.payload[: rng.randint(0, len(p.payload))]
    elif op == 2:
        p.payload = p.payload + rng.randbytes(rng.choice((1, 3, 4, 16, 400)))
    elif op == 3:
        p.payload = rng.randbytes(len(p.payload))
    elif op == 4:
        p.payload = bytes(rng.choice((0, 4, 8, len(p.payload), 4096)))  # zeros: a valid-looking code
    elif op == 5:
        p.payload = set_bytes(rng, p.payload)
    else:  # the keyframe length word of a low-latency payload
        p.payload = struct.pack("<I", _value(rng, 4, len(p.payload))) + p.payload[4:]


def _packet_list(rng: random.Random, s: RawStream) -> None:
    ps = s.packets
    if not ps:
        return
    op = rng.randrange(6)
    i = rng.randrange(len(ps))
    if op == 0:
        del ps[i]
    elif op == 1:
        ps.insert(i, RawPacket(dict(ps[i].fields), ps[i].payload, ps[i].short, ps[i].compact))
    elif op == 2:
        j = rng.randrange(len(ps))
        ps[i], ps[j] = ps[j], ps[i]
    elif op == 3:
        del ps[i:]  # cut on a packet boundary: no END
    elif op == 4:
        s.tail = rng.randbytes(rng.choice((1, 25, 100)))  # garbage after the stream
    else:  # swap payloads between packets of the same stream
        j = rng.randrange(len(ps))
        ps[i].payload, ps[j].payload = ps[j].payload, ps[i].payload


def _resize(rng: random.Random, s: RawStream) -> None:
    """A coherent size change: dimensions within limits, payloads untouched, and the
    header copies of v3 HEADER packets changed alike (so the stream stays self-consistent)."""
    size = {key: rng.choice((1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 63, 65, 100, 127, 256, 1000))
            for key in ("width", "height") if rng.random() < 0.7}
    s.header.update(size)
    for p in s.packets:
        inner = parse(p.payload) if p.payload[:4] == b"VQVC" else None
        if inner is not None:
            inner.header.update(size)
            p.payload = inner.to_bytes()


def _inner_header(rng: random.Random, s: RawStream) -> None:
    """Edit the stream header that a v3 HEADER packet carries as its payload."""
    inner = [p for p in s.packets if p.payload[:4] == b"VQVC"]
    if not inner:
        return _header_field(rng, s)
    p = rng.choice(inner)
    raw = parse(p.payload)
    if raw is not None:
        rng.choice((_header_field, _model_name, _resize))(rng, raw)
        p.payload = raw.to_bytes(rng, stale=0.1)


STRUCT_MUTATORS = (_header_field, _model_name, _packet_field, _payload, _payload, _payload,
                   _packet_list, _resize, _inner_header)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One fuzz case from `data`: a stack of 1-3 edits, structure-aware two times in three."""
    if rng.random() < 0.05 and seeds:  # splice: the head of one stream, the tail of another
        other = rng.choice(seeds)
        return data[: rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]
    raw = parse(data) if rng.random() < 0.67 else None
    if raw is None:
        for _ in range(rng.choice((1, 1, 2, 3))):
            data = rng.choice(BYTE_MUTATORS)(rng, data)
        return data
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        rng.choice(STRUCT_MUTATORS)(rng, raw)
    out = raw.to_bytes(rng, stale=0.05)
    return truncate(rng, out) if rng.random() < 0.1 else out
