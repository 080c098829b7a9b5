"""Streaming: frames in, packets out (StreamEncoder); bytes in, frames out (StreamDecoder).

For camera pipelines that push frames forever and send packets over a network:

    enc = StreamEncoder(352, 288, fps=30, quality=1, mode="lowlatency")
    for frame in camera:                                      # (H, W, 3) uint8
        for packet in enc.push(frame):
            sock.sendall(packet)
    for packet in enc.flush():
        sock.sendall(packet)

    dec = StreamDecoder()                                     # the model named in the stream
    while data := sock.recv(65536):
        for frame in dec.push(data):
            show(frame)
    dec.flush()

The first packet is the stream header, the last the END packet; in between, each
packet is self-delimiting (25-byte head with its length and CRCs), so packets can be
written back to back, and their concatenation is exactly the .vqv file `vqcodec
compress` writes to a pipe. The header says "frame count unknown".

Memory is constant: the encoder holds at most one GOP (or the frames its latency lets
it hold back), the decoder one packet and the keyframe or prior context it predicts
from; nothing grows with the length of the stream.

Joining late: every INTRA packet but the first is preceded by a HEADER packet (a copy of
the stream header). A StreamDecoder whose first bytes are not the start of a stream
skips to the next HEADER packet (format/sync.py) and decodes from that intra period on;
`first_frame` then says which frame it started at.

StreamDecoder is the one decode driver: the file API (api.decompress), the CLI
(files, pipes, --follow) and RecoveringDecoder all feed it bytes, through
`read_from` or `push`.
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np

from . import modes
from .codec import Codec
from .errors import CodecError, ContainerError, TruncatedStream
from .format import sync
from .format.container import (
    DEFAULT_LIMITS,
    MAGIC,
    MAX_HEADER_SIZE,
    Limits,
    Packet,
    PacketReader,
    PacketType,
    StreamHeader,
)
from .format.packet_heads import KIND_AT as PACKET_KIND_AT
from .format.versions import DEFAULT_ARITHMETIC, check_arithmetic
from .modes.keyframes import KeyframePolicy
from .modes.lowlatency import LowLatencySettings

READ_SIZE = 1 << 16  # bytes read_from asks its input for at a time


def _codec(model: str | Codec, device: str) -> Codec:
    if isinstance(model, Codec):
        return model
    from .zoo import load_codec

    return load_codec(model, device)


@dataclass(frozen=True)
class CompressStats:
    frames: int
    width: int
    height: int
    quality: int
    bytes: int  # whole stream, header included
    bits_per_pixel: float
    payload_bits: int  # range-coder output only
    ideal_bits: float  # sum of -log2 p of the coded tokens under the prior
    raw_index_bits: float  # tokens * log2(K): cost without a prior
    tokens: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class StreamEncoder:
    """Frames in, packets (bytes) out, in constant memory.

    mode "full" (the default, modes.DEFAULT_MODE: GOPs of the model's size, the better
    rate, one GOP of delay) or "lowlatency" (at most `latency` frames held back: what a
    camera pipeline that bounds its delay names; keyframes every `keyint` frames or
    where the content changes with keyframes="adaptive"; keyint None: 64 with a
    motion model such as the shipped default, whose low-latency frames are coded as
    predicted steps (format v14), 8 with other models, whose frames between
    keyframes are rebuilt by motion compensation). `model` is an installed
    model name, a path, or a loaded Codec. `quality` defaults to the model's middle one.
    `frame_count`, if known, goes into the header; left None, the header says unknown.
    `arithmetic` "integer" (default): the prior's tables are computed exactly and
    decode identically on any machine (format v5 with a fast-prior model such as
    the shipped default, v4 with a transformer-prior one); "float" (format v3,
    transformer-prior models only): bit-exact only where the decoder's float
    arithmetic is the encoder's.
    """

    def __init__(self, width: int, height: int, fps: float | Fraction, quality: int | None = None,
                 mode: str = modes.DEFAULT_MODE, model: str | Codec = "default", *, device: str = "cpu",
                 keyint: int | None = None, keyframes: str | KeyframePolicy = "fixed", latency: int = 0,
                 settings: LowLatencySettings | None = None, frame_count: int | None = None,
                 arithmetic: str = DEFAULT_ARITHMETIC):
        modes.mode_class(mode)  # an unknown mode fails before the model loads
        check_arithmetic(arithmetic)  # ... and so does an unknown arithmetic
        self.codec = codec = _codec(model, device)
        try:
            version = codec.version_for(arithmetic)
        except ValueError as e:
            raise CodecError(str(e)) from None
        q = codec.qualities[len(codec.qualities) // 2] if quality is None else quality
        if q not in codec.qualities:
            raise CodecError(f"quality {q} is not offered by model {codec.model_id.name!r} "
                             f"(choose {codec.qualities[0]}..{codec.qualities[-1]})")
        fps = Fraction(fps).limit_denominator(1001 * 1000) if isinstance(fps, float) else Fraction(fps)
        self.width, self.height, self.quality, self.mode = width, height, q, mode
        self._core = modes.encoder_for(mode, codec, width, height, fps, frame_count, q, version, keyint=keyint,
                                       keyframes=keyframes, latency=latency, settings=settings)
        self.header: StreamHeader = self._core.header
        self.frames_in = self.frames_out = self.bytes_out = self.payload_bits = 0
        self._started = self._ended = False
        self._seconds = 0.0

    # ----------------------------------------------------------------- pushing
    def push(self, frame: np.ndarray) -> list[bytes]:
        """Code one frame (H, W, 3) uint8 -> the packets now complete (maybe none).
        The first call's list starts with the stream header."""
        if self._ended:
            raise ValueError("push after flush: the stream has ended")
        if not isinstance(frame, np.ndarray) or frame.shape != (self.height, self.width, 3) \
                or frame.dtype != np.uint8:
            got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise CodecError(f"frame of shape {got}; expected ({self.height}, {self.width}, 3) uint8")
        start = time.perf_counter()
        self.frames_in += 1
        out = self._emit(self._core.push(frame))
        self._seconds += time.perf_counter() - start
        return out

    def flush(self) -> list[bytes]:
        """End the stream: the held-back frames' packets and the END packet."""
        if self._ended:
            return []
        count = self.header.frame_count
        if count is not None and count != self.frames_in:
            raise CodecError(f"expected {count} frames, got {self.frames_in}")
        start = time.perf_counter()
        packets = self._core.flush()
        self._ended = True
        out = self._emit(packets + [Packet(PacketType.END, self.frames_in, 0, b"", 0)])
        self._seconds += time.perf_counter() - start
        return out

    def _emit(self, packets: list[Packet]) -> list[bytes]:
        out = []
        if not self._started:
            out.append(self.header.to_bytes())
            self._started = True
        for p in packets:
            if p.kind is PacketType.INTRA and p.first_frame > 0:  # a place to join the stream
                out.append(Packet.header_copy(self.header, p.first_frame).to_bytes())
            out.append(p.to_bytes(self.header.version))
            self.frames_out += p.frame_count
            self.payload_bits += 8 * len(p.payload)
        self.bytes_out += sum(map(len, out))
        return out

    # ---------------------------------------------------------------- files
    def write(self, frames: Iterable[np.ndarray], out: BinaryIO,
              progress: Callable[[int], None] | None = None) -> CompressStats:
        """Push every frame, flush, and write the packets to `out`. A seekable `out`
        gets the real frame count in its header at the end (same header size)."""
        origin = out.tell() if out.seekable() else None
        for frame in frames:
            before = self.frames_out  # read before push, which counts the frames it emits
            self._write(out, self.push(frame), progress, before)
        before = self.frames_out
        self._write(out, self.flush(), progress, before)
        if self.header.frame_count is None and origin is not None:
            end = out.tell()
            out.seek(origin)
            out.write(replace(self.header, frame_count=self.frames_in).to_bytes())
            out.seek(end)
        return self.stats

    def _write(self, out: BinaryIO, chunks: list[bytes], progress, before: int) -> None:
        for chunk in chunks:
            out.write(chunk)
        if progress and self.frames_out > before:
            progress(self.frames_out - before)

    @property
    def stats(self) -> CompressStats:
        K = self.codec.config.quantizer.codebook_size
        return CompressStats(
            frames=self.frames_out, width=self.width, height=self.height, quality=self.quality,
            bytes=self.bytes_out, bits_per_pixel=8 * self.bytes_out / max(1, self.frames_out * self.width * self.height),
            payload_bits=self.payload_bits, ideal_bits=self._core.ideal_bits,
            raw_index_bits=self._core.tokens * float(np.log2(K)), tokens=self._core.tokens,
            seconds=self._seconds)


class StreamDecoder:
    """Bytes in (any split: whole packets, single bytes, a file's chunks), frames out.

    `model` defaults to the one the stream names. A decoder whose first bytes are not a
    stream's start joins late: it skips to the next HEADER packet (the next intra
    period) and decodes from there. After the END packet, `ended` is True.
    """

    def __init__(self, model: str | Codec | None = None, *, device: str = "cpu",
                 limits: Limits = DEFAULT_LIMITS, join: bool | None = None,
                 header: StreamHeader | None = None):
        """join: True = start by scanning for a HEADER packet even if the bytes begin
        with a stream header; None = decide from the first bytes. header: the stream's
        header, already read from the input (StreamHeader.read): the bytes pushed then
        start right after it."""
        self.model, self.device, self.limits = model, device, limits
        self.header: StreamHeader | None = None
        self.first_frame: int | None = None  # index of the first frame returned
        self.next_frame = 0  # index of the next frame to be returned
        self.skipped_bytes = 0  # bytes passed over before the stream (late join)
        self.ended = False
        self.packet_offset = 0  # byte (from the first one pushed) where the packet being read starts
        self._buf = bytearray()
        self._late = join  # None: undecided; False: starts at the header; True: joins late
        self._reader: PacketReader | None = None
        self._core = None
        if header is not None:
            limits.check_header(header)
            self._late = False
            self._start(header, header.size, 0)

    def read_from(self, f: BinaryIO, size: int = READ_SIZE) -> Iterator[tuple[int, np.ndarray]]:
        """Decode the stream `f` holds to its END packet -> (frame index, frame (H, W, 3)
        uint8), each as soon as its packet is decoded. Reads what is there (read1, where
        `f` has it: a pipe or a file still being written is not waited on for a whole
        chunk) and stops at the END packet without reading further. Raises
        TruncatedStream if the input ends first."""
        read = getattr(f, "read1", f.read)
        while not self.ended:
            chunk = read(size)
            if not chunk:
                self.flush()
            yield from self.indexed_frames(chunk)

    def push(self, data: bytes) -> list[np.ndarray]:
        """Feed bytes -> the frames (H, W, 3) uint8 they complete, in order."""
        return [frame for _, frame in self.indexed_frames(data)]

    def indexed_frames(self, data: bytes) -> Iterator[tuple[int, np.ndarray]]:
        """Like push, but yields (frame index, frame) as each packet is decoded, so
        the frames before an error are out before it is raised."""
        if self.ended:
            if data:
                raise ContainerError(f"{len(data)} bytes after the END packet")
            return
        self._buf += data
        frames: list[np.ndarray] = []
        while self._step(frames):
            start = self.next_frame - len(frames)
            yield from enumerate(frames, start)
            frames = []

    def flush(self) -> list[np.ndarray]:
        """End of input. Raises TruncatedStream if the stream stopped before its END packet."""
        if not self.ended:
            frame = self._reader.next_frame if self._reader else 0
            offset = self._reader.offset + len(self._buf) if self._reader else len(self._buf)
            raise TruncatedStream(offset, frame)
        return []

    # One step of the parser; False when it needs more bytes (or the stream ended).
    def _step(self, frames: list[np.ndarray]) -> bool:
        if self.ended:
            return False
        if self._late is None:
            if len(self._buf) < len(MAGIC) and MAGIC.startswith(bytes(self._buf)):
                return False
            self._late = not self._buf.startswith(MAGIC)
        if self.header is None:
            return self._find_header()
        if len(self._buf) <= PACKET_KIND_AT:  # the type byte says how long the head is (format v14)
            return False
        head = self._reader.head_size(bytes(self._buf[:PACKET_KIND_AT + 1]))
        if len(self._buf) < head:
            return False
        # The head is checked (order, length within the limits) before its payload is awaited.
        self.packet_offset = self._reader.offset
        size = head + self._reader.check_head(bytes(self._buf[:head]))
        if len(self._buf) < size:
            return False
        packet = self._reader.read_packet(io.BytesIO(bytes(self._buf[:size])))
        del self._buf[:size]
        if packet.kind is PacketType.END:
            self.ended = True
            if self._buf:
                raise ContainerError(f"{len(self._buf)} bytes after the END packet")
            count = self.header.frame_count
            if not self._late and count is not None and packet.first_frame != count:
                raise CodecError(f"stream holds {packet.first_frame} frames; its header says {count}")
        elif packet.kind is not PacketType.HEADER:
            out = self._core.push(packet)  # (n, H, W, 3): the packet's last n frames
            if self.first_frame is None:
                self.first_frame = packet.first_frame + packet.frame_count - len(out)
            frames.extend(out)
            self.next_frame = packet.first_frame + packet.frame_count
        return True

    def _find_header(self) -> bool:
        if not self._late:  # the stream's own header
            try:  # read() checks the version and header_len as soon as their bytes are in
                header = StreamHeader.read(io.BytesIO(bytes(self._buf[:MAX_HEADER_SIZE])), self.limits)
            except TruncatedStream:
                return False
            del self._buf[:header.size]
            self._start(header, header.size, 0)
            return True
        found = sync.scan(self._buf, self.limits)  # late join: the next HEADER packet
        self._skip(found.skip)
        if found.header is None:
            return False
        self.packet_offset = self.skipped_bytes  # where the HEADER packet starts
        self._start(found.header, self.skipped_bytes, found.first_frame)
        return True

    def _skip(self, n: int) -> None:
        del self._buf[:n]
        self.skipped_bytes += n

    def _start(self, header: StreamHeader, offset: int, frame: int) -> None:
        if isinstance(self.model, Codec):
            codec = self.model
            codec.check_header(header)
        else:
            from .zoo import codec_for

            codec = codec_for(header, self.model, self.device)
        self.header, self.next_frame = header, frame
        self._reader = PacketReader(None, header, self.limits)
        self._core = modes.decoder_for(codec, header)
        if self._late:
            self._reader.join(offset, frame)
            if hasattr(self._core, "join"):
                self._core.join()
