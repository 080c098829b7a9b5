"""The .vqv container, format v4: a self-describing stream header, then packets.

It frames opaque payloads and knows nothing of models. It is strict: malformed input
raises one specific, one-line ContainerError, and sizes read from the wire are checked
against Limits before anything is allocated. tests/expected/container_v{1,2,3}.vqv pin it.

Versions: versions.py says what each one means (v3 adds HEADER packets, copies of the
stream header before each INTRA packet but the first, for late join and resynchronisation;
v4 has v3's bytes and integer-prior payloads).

Little-endian. Header: 0 magic "VQVC", 4 u16 version, 6 u16 header_len, 8 u8 mode, 9 u8 pix_fmt,
10 u16 width, 12 u16 height, 14 u32 fps_num, 18 u32 fps_den, 22 u32 frame_count,
26 u16 gop, 28 u16 intra_period, 30 u8 quality, 31 32s weights sha256,
63 u8 name_len, 64 model name (utf-8), then u32 crc32 of all of the above.
Packet: a head (format/packet_heads.py: 25 bytes; 16 in format v14 and 6-11 in
v15, but for HEADER packets) with its type, first frame, frame count, payload
length and CRCs, then the payload.
"""
from __future__ import annotations

import enum
import functools
import io
import math
import struct
import zlib
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import BinaryIO, Iterator

from ..errors import (
    ContainerError,
    CorruptHeader,
    CorruptPacket,
    LimitExceeded,
    NotAVqvFile,
    PacketCrcError,
    TruncatedStream,
    UnsupportedVersion,
)
from . import packet_heads
from .versions import (FORMAT_VERSION, READABLE_VERSIONS, has_header_copies, has_lowlatency, has_motion,
                       lowlatency_predicted)

MAGIC = b"VQVC"
SYNC = packet_heads.SYNC
UNKNOWN_FRAMES = 0xFFFFFFFF  # frame_count on the wire when it is unknown (live streams)
_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF
_MAX_NAME = 64

_PREFIX = struct.Struct("<4sHH")  # magic, version, header_len: says how much more to read
_HEADER = struct.Struct("<4sHHBBHHIIIHHB32sB")  # the fixed 64 bytes before the model name
_CRC = struct.Struct("<I")
_END_RULE = "END packet must have no frames, no payload and tokens_crc 0"  # said twice below
_HEADER_RULE = "HEADER packet must have no frames and tokens_crc 0"
MAX_HEADER_SIZE = 64 + _MAX_NAME + 4  # bytes of the longest stream header (a HEADER packet's payload)
_CHUNK = 1 << 20  # read in pieces: a lying length costs only the bytes that exist


def crc32(data: bytes) -> int:  # unsigned, as stored in headers and packets
    return zlib.crc32(data) & _U32


class Mode(enum.IntEnum):
    FULL = 0
    LOWLATENCY = 1


class PixFmt(enum.IntEnum):
    RGB24 = 0


class PacketType(enum.IntEnum):
    INTRA = 1  # a GOP (low latency: a segment ending in a keyframe) whose prior context resets
    INTER = 2  # a GOP (segment) that continues the intra period
    END = 3  # end of stream: no frames, empty payload, first_frame = total frames
    PREDICTED = 4  # low-latency mode: frames predicted from the last keyframe (no keyframe)
    HEADER = 5  # v3: the stream header again (payload), first_frame = the INTRA packet's that follows


def _enum(cls: type[enum.IntEnum], value: int, field: str, error) -> enum.IntEnum:
    try:
        return cls(value)
    except ValueError:
        raise error(f"unknown {field} {value}") from None


def _check(field: str, value: int, lo: int, hi: int, error: type[ContainerError]) -> None:
    # Too big for its wire field is a limit; too small (or not an int) is invalid.
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(f"{field} must be an integer, got {type(value).__name__}")
    if value < lo:
        raise error(f"{field} must be at least {lo}, got {value}")
    if value > hi:
        raise LimitExceeded(field, value, hi)


def _read(f: BinaryIO, n: int) -> bytes:  # up to n bytes: short only at EOF, unlike f.read
    parts = []
    while n > 0 and (chunk := f.read(min(n, _CHUNK))):
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


@dataclass(frozen=True)
class Limits:
    """What a reader accepts, checked before allocating; lower them for untrusted input."""
    max_width: int = 8192
    max_height: int = 8192
    max_gop: int = 256
    max_frames: int = 100_000_000
    max_payload: int = 256 << 20  # absolute cap on one packet's payload
    # Decoding memory grows with the frame area (a GOP's activations: ~1.4 GB at 1280x720 on
    # the shipped model), so a 100 kB stream claiming 8192x8192 could ask for tens of GB:
    # the default admits 4K UHD; lower it for untrusted input.
    max_pixels: int = 3840 * 2160

    def check_header(self, h: StreamHeader) -> None:
        for field, value, limit in (
                ("width", h.width, self.max_width), ("height", h.height, self.max_height),
                ("frame area", h.width * h.height, self.max_pixels),
                ("gop", h.gop, self.max_gop), ("frame_count", h.frame_count or 0, self.max_frames)):
            if value > limit:
                raise LimitExceeded(field, value, limit)

    def payload_limit(self, h: StreamHeader, frame_count: int) -> int:
        # A GOP never needs more than 4 bytes per pixel (raw RGB is 3); 64 covers tiny GOPs.
        return min(self.max_payload, 64 + 4 * h.width * h.height * frame_count)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class StreamHeader:
    model_name: str
    weights_sha256: bytes  # raw 32 bytes: the exact weights the stream needs
    mode: Mode
    width: int
    height: int
    fps: Fraction
    frame_count: int | None  # None: unknown (live)
    gop: int  # frames per GOP (one packet)
    intra_period: int  # frames; a multiple of gop
    quality: int  # residual VQ levels used
    pix_fmt: PixFmt = PixFmt.RGB24
    version: int = FORMAT_VERSION  # the format version read (streams are written as FORMAT_VERSION)

    def __post_init__(self):
        # Validated here so that a header that cannot be written can't even be built.
        # Plain ints become enums, so headers read from bytes and built in code compare equal.
        object.__setattr__(self, "mode", _enum(Mode, self.mode, "mode", CorruptHeader))
        object.__setattr__(self, "pix_fmt", _enum(PixFmt, self.pix_fmt, "pix_fmt", CorruptHeader))
        try:
            n = len(self.model_name.encode("utf-8"))
        except (AttributeError, UnicodeEncodeError):
            raise CorruptHeader("model name must be a str encodable as UTF-8") from None
        if not 1 <= n <= _MAX_NAME:
            raise CorruptHeader(f"model name must be 1..{_MAX_NAME} bytes of UTF-8, got {n}")
        if not isinstance(self.weights_sha256, bytes) or len(self.weights_sha256) != 32:
            raise CorruptHeader("weights_sha256 must be 32 raw bytes")
        for field, hi in (("width", _U16), ("height", _U16), ("gop", _U16),
                          ("intra_period", _U16), ("quality", _U8)):
            _check(field, getattr(self, field), 1, hi, CorruptHeader)
        if not isinstance(self.fps, Fraction) or self.fps <= 0:
            raise CorruptHeader(f"fps must be a positive Fraction, got {self.fps}")
        for part in ("numerator", "denominator"):
            _check(f"fps {part}", getattr(self.fps, part), 1, _U32, CorruptHeader)
        if self.frame_count is not None:
            _check("frame_count", self.frame_count, 0, UNKNOWN_FRAMES - 1, CorruptHeader)
        if self.version not in READABLE_VERSIONS:
            raise UnsupportedVersion(self.version, READABLE_VERSIONS)
        if not has_lowlatency(self.version) and self.mode is not Mode.FULL:
            raise CorruptHeader(f"mode {self.mode.name} needs format version 2, the stream says 1")
        if self.intra_period % self.gop:
            raise CorruptHeader(
                f"intra_period {self.intra_period} is not a multiple of gop {self.gop}")

    @property
    def size(self) -> int:
        """Bytes of the header on the wire (header_len); the first packet starts here."""
        return _HEADER.size + len(self.model_name.encode("utf-8")) + _CRC.size

    def to_bytes(self) -> bytes:
        name = self.model_name.encode("utf-8")
        frames = UNKNOWN_FRAMES if self.frame_count is None else self.frame_count
        body = _HEADER.pack(MAGIC, self.version, self.size, self.mode, self.pix_fmt, self.width,
                            self.height, self.fps.numerator, self.fps.denominator, frames, self.gop,
                            self.intra_period, self.quality, self.weights_sha256, len(name)) + name
        return body + _CRC.pack(crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> StreamHeader:
        f = io.BytesIO(data)
        header = cls.read(f, limits)
        if f.tell() != len(data):
            raise CorruptHeader(f"{len(data) - f.tell()} unexpected bytes after the header")
        return header

    @classmethod
    def read(cls, f: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> StreamHeader:
        """Read exactly one header from f (no read-ahead, so pipes work)."""
        raw = _read(f, _PREFIX.size)
        if not raw or not MAGIC.startswith(raw[:4]):  # a cut inside the magic is a truncation
            raise NotAVqvFile("not a .vqv file (it does not start with VQVC)")
        # The version decides the layout, so it is checked before anything else is trusted.
        version = int.from_bytes(raw[4:6], "little") if len(raw) >= 6 else FORMAT_VERSION
        if version not in READABLE_VERSIONS:
            raise UnsupportedVersion(version, READABLE_VERSIONS)
        if len(raw) < _PREFIX.size:
            raise TruncatedStream(len(raw), 0)
        header_len = _PREFIX.unpack(raw)[2]
        lo, hi = _HEADER.size + 1 + _CRC.size, _HEADER.size + _MAX_NAME + _CRC.size
        if not lo <= header_len <= hi:
            raise CorruptHeader(f"header_len {header_len} is outside {lo}..{hi}")
        raw += _read(f, header_len - len(raw))
        if len(raw) < header_len:
            raise TruncatedStream(len(raw), 0)
        if crc32(raw[:-4]) != _CRC.unpack_from(raw, header_len - 4)[0]:
            raise CorruptHeader("header CRC mismatch")
        (_, _, _, mode, pix_fmt, width, height, fps_num, fps_den, frames, gop, intra_period,
         quality, sha, name_len) = _HEADER.unpack_from(raw)
        if _HEADER.size + name_len + _CRC.size != header_len:
            raise CorruptHeader(f"header_len {header_len} does not match name_len {name_len}")
        try:
            name = raw[_HEADER.size: _HEADER.size + name_len].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptHeader("model name is not valid UTF-8") from None
        if fps_num == 0 or fps_den == 0 or math.gcd(fps_num, fps_den) != 1:  # one encoding only
            raise CorruptHeader(f"fps {fps_num}/{fps_den} must be positive and in lowest terms")
        count = None if frames == UNKNOWN_FRAMES else frames
        header = cls(name, sha, mode, width, height, Fraction(fps_num, fps_den), count, gop,
                     intra_period, quality, pix_fmt, version)
        limits.check_header(header)
        return header


@dataclass(frozen=True)
class Packet:
    kind: PacketType
    first_frame: int
    frame_count: int
    payload: bytes
    tokens_crc: int  # CRC32 of the decoded tokens: computed by the codec, carried as is

    def __post_init__(self):
        object.__setattr__(self, "kind", _enum(PacketType, self.kind, "type", CorruptPacket))
        if not isinstance(self.payload, bytes):
            raise CorruptPacket(f"payload must be bytes, got {type(self.payload).__name__}")
        _check("first_frame", self.first_frame, 0, _U32, CorruptPacket)
        _check("tokens_crc", self.tokens_crc, 0, _U32, CorruptPacket)
        _check("payload_len", len(self.payload), 0, _U32, CorruptPacket)
        if self.kind is PacketType.END:
            if self.frame_count != 0 or self.payload or self.tokens_crc:
                raise CorruptPacket(_END_RULE)
        elif self.kind is PacketType.HEADER:
            if self.frame_count != 0 or self.tokens_crc:
                raise CorruptPacket(_HEADER_RULE)
        else:
            _check("frame_count", self.frame_count, 1, _U16, CorruptPacket)

    def to_bytes(self, version: int | None = None) -> bytes:
        """The packet on the wire in a stream of `version` (None: the long head of v1-v13)."""
        heads = packet_heads.LONG if version is None else packet_heads.heads_of(version)
        return packet_heads.pack(self.kind, self.first_frame, self.frame_count, self.payload, self.tokens_crc,
                                 heads)

    @classmethod
    def header_copy(cls, header: StreamHeader, first_frame: int) -> Packet:
        """The HEADER packet placed before the INTRA packet at `first_frame` (v3 streams)."""
        return cls(PacketType.HEADER, first_frame, 0, replace(header, frame_count=None).to_bytes(), 0)


def same_stream(a: StreamHeader, b: StreamHeader) -> bool:
    """True if a and b describe the same stream; a HEADER copy does not know the frame count."""
    return replace(a, frame_count=None) == replace(b, frame_count=None)


def parse_packet_head(raw: bytes, offset: int, frame: int, heads: str = packet_heads.LONG
                      ) -> tuple[PacketType, int, int, int, int | None, int]:
    """Check the head of a packet at byte `offset` (sync, head CRC, type) -> (type,
    first_frame, frame_count, payload_len, payload_crc (None: short and compact
    heads have none), tokens_crc). `frame` is the frame expected there; heads: the
    head of the stream's packets but HEADER ones (packet_heads.heads_of)."""
    kind, *fields = packet_heads.parse(raw, offset, frame, heads)
    kind = _enum(PacketType, kind, "packet type", functools.partial(CorruptPacket, offset=offset, frame=frame))
    return (kind, *fields)


PACKET_HEAD_SIZE = packet_heads.LONG_SIZE  # bytes of a long head (every HEADER packet's)


class PacketReader:
    """Reads and checks the packets after a header (f positioned just after it).

    Offsets count from the header's first byte. Iteration skips HEADER packets (after
    checking that they repeat the header) and ends after END (nothing beyond is read: a
    pipe may carry more) or at EOF on a packet boundary if the header's frame count is
    unknown or reached; a stream cut short raises TruncatedStream after yielding every
    complete packet. read_packet returns HEADER packets too.
    """

    def __init__(self, f: BinaryIO | None, header: StreamHeader, limits: Limits = DEFAULT_LIMITS):
        self.header, self.limits, self._f = header, limits, f
        self.offset, self.next_frame = header.size, 0  # where the next packet starts: byte, frame
        self.ended = False
        self._started = False  # an INTRA packet was read: the packets from here on decode
        self._need_intra = False  # a HEADER packet was read: an INTRA packet must follow
        self.heads = packet_heads.heads_of(header.version)  # v14: short heads but on HEADER packets; v15 compact

    def join(self, offset: int, frame: int) -> None:
        """Start mid-stream at the packet at byte `offset` for `frame` (a late join: the
        next packet read must be a HEADER or INTRA packet)."""
        self.offset, self.next_frame, self._started = offset, frame, False

    def __iter__(self) -> Iterator[Packet]:
        return (p for p in iter(self.read_packet, None) if p.kind is not PacketType.HEADER)

    def read_packet(self, f: BinaryIO | None = None) -> Packet | None:
        """The next packet from f (default: the reader's file), or None at its end."""
        f = self._f if f is None else f
        if self.ended:
            return None
        start, frame, h = self.offset, self.next_frame, self.header
        raw = _read(f, packet_heads.KIND_AT + 1)  # as far as the type, which says the head's size
        if not raw and (h.frame_count is None or frame == h.frame_count) and not self._need_intra:
            self.ended = True
            return None
        raw += _read(f, self.head_size(raw) - len(raw))
        kind, first, count, payload_len, payload_crc, tokens_crc = self._checked_head(raw)
        bad = functools.partial(CorruptPacket, offset=start, frame=frame)
        payload = _read(f, payload_len)
        if len(payload) < payload_len:
            raise TruncatedStream(start + len(raw) + len(payload), first)
        if payload_crc is not None and crc32(payload) != payload_crc:
            raise PacketCrcError(start, first)
        if kind is PacketType.HEADER:
            self._check_copy(payload, bad)
        self.offset = start + len(raw) + payload_len
        self.next_frame = first + count
        self.ended = kind is PacketType.END
        self._need_intra = kind is PacketType.HEADER
        self._started |= kind is PacketType.INTRA
        return Packet(kind, first, count, payload, tokens_crc)

    def head_size(self, start: bytes) -> int:
        """The size of the head of the next packet, from its first bytes (at least up to
        its type byte, packet_heads.KIND_AT; fewer: the long head's size, to wait for)."""
        return packet_heads.head_size(self.heads, start) if start else PACKET_HEAD_SIZE

    def check_head(self, raw: bytes) -> int:
        """Check the head of the next packet (head_size bytes) against the stream so far
        (its order, and its length against the limits, before anything is allocated)
        -> payload length. Nothing is consumed."""
        return self._checked_head(raw)[3]

    def _checked_head(self, raw: bytes) -> tuple[PacketType, int, int, int, int, int]:
        """parse_packet_head, then the order and length checks -> its fields."""
        start, frame = self.offset, self.next_frame
        fields = parse_packet_head(raw, start, frame, self.heads)
        kind, first, count, payload_len, _, tokens_crc = fields
        bad = functools.partial(CorruptPacket, offset=start, frame=frame)
        self._check_order(kind, first, count, bool(payload_len or tokens_crc), bad)
        cap = MAX_HEADER_SIZE if kind is PacketType.HEADER else self.limits.payload_limit(self.header, count)
        if payload_len > cap:  # before reading: the length is not trusted yet
            raise LimitExceeded("payload_len", payload_len, cap, f" (packet at byte {start}, frame {first})")
        return fields

    def _check_copy(self, payload: bytes, bad) -> None:
        try:
            copy = StreamHeader.from_bytes(payload, self.limits)
        except ContainerError as e:
            raise bad(f"HEADER packet: {e}") from None
        if not same_stream(copy, self.header):
            raise bad("HEADER packet does not repeat the stream header")

    def _check_order(self, kind: PacketType, first: int, count: int, filled: bool, bad) -> None:
        h = self.header
        if first != self.next_frame:
            raise bad(f"{kind.name} packet starts at frame {first}, expected {self.next_frame}")
        if self._need_intra and kind is not PacketType.INTRA:
            raise bad(f"{kind.name} packet after a HEADER packet (expected INTRA)")
        if kind is PacketType.HEADER:
            if not has_header_copies(h.version):
                raise bad(f"HEADER packet in a version {h.version} stream")
            if count or not filled:  # a HEADER packet has a payload
                raise bad(_HEADER_RULE)
            return
        if kind is PacketType.END:
            if count or filled:
                raise bad(_END_RULE)
            if h.frame_count is not None and first != h.frame_count:
                raise bad(f"stream ends at frame {first}, the header says {h.frame_count} frames")
            return
        if not self._started and kind is not PacketType.INTRA:
            raise bad(f"stream starts with a {kind.name} packet at frame {first}")
        if h.mode is Mode.LOWLATENCY:
            # Segments of 1..gop frames.
            if not 1 <= count <= h.gop:
                raise bad(f"segment of {count} frames at frame {first} (gop is {h.gop})")
            if kind is PacketType.PREDICTED and lowlatency_predicted(h.version):  # v14: steps only
                raise bad(f"PREDICTED packet in a version {h.version} low-latency stream")
        else:
            # Contiguous GOPs of 1..gop frames that start on multiples of gop: only the last is
            # short (v6: any packet may be short; none crosses an intra period).
            if kind is PacketType.PREDICTED:
                raise bad("PREDICTED packet in a full-mode stream")
            if has_motion(h.version):  # v6: packets of 1..gop frames inside one intra period
                if not 1 <= count <= h.gop or first // h.intra_period != (first + count - 1) // h.intra_period:
                    raise bad(f"packet of {count} frames at frame {first} is longer than a GOP or crosses an "
                              f"intra period (gop {h.gop}, intra_period {h.intra_period})")
            elif first % h.gop or not 1 <= count <= h.gop:
                raise bad(f"GOP of {count} frames at frame {first} (gop is {h.gop})")
            if (kind is PacketType.INTRA) != (first % h.intra_period == 0):
                raise bad(f"{kind.name} packet at frame {first} (intra_period is {h.intra_period})")
        if h.frame_count is not None and first + count > h.frame_count:
            raise bad(f"GOP ends at frame {first + count}, past the header's {h.frame_count}")
        if first + count > self.limits.max_frames:
            raise LimitExceeded("frame count", first + count, self.limits.max_frames)


def iter_packets(f: BinaryIO, header: StreamHeader,
                 limits: Limits = DEFAULT_LIMITS) -> Iterator[Packet]:
    """Packets after `header` in f; see PacketReader for what is checked."""
    return iter(PacketReader(f, header, limits))
