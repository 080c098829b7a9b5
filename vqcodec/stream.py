"""Streaming: frames in, packets out (StreamEncoder); bytes in, frames out (StreamDecoder).

For camera pipelines that push frames forever and send packets over a network:

    enc = StreamEncoder(352, 288, fps=30, quality=1)          # low-latency mode by default
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
skips to the next HEADER packet and decodes from that intra period on; `first_frame`
then says which frame it started at.
"""
from __future__ import annotations

import io
import time
from dataclasses import replace
from fractions import Fraction
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np

from .codec import Codec, CodecError, CompressStats, arithmetic_version
from .container import (
    DEFAULT_LIMITS,
    MAGIC,
    MAX_HEADER_SIZE,
    PACKET_HEAD_SIZE,
    SYNC,
    ContainerError,
    Limits,
    Packet,
    PacketReader,
    PacketType,
    StreamHeader,
    TruncatedStream,
    parse_packet_head,
)
from .keyframes import AdaptiveKeyframes, FixedKeyframes, KeyframePolicy
from .lowlatency import LowLatencyEncoder, LowLatencySettings, header_for

MODES = ("full", "lowlatency")
_POLICIES = {"fixed": FixedKeyframes, "adaptive": AdaptiveKeyframes}


def _codec(model: str | Codec, device: str) -> Codec:
    if isinstance(model, Codec):
        return model
    from .zoo import load_codec

    return load_codec(model, device)


class StreamEncoder:
    """Frames in, packets (bytes) out, in constant memory.

    mode "lowlatency" (default; keyframes every `keyint` frames or where the content
    changes with keyframes="adaptive", at most `latency` frames held back) or "full"
    (GOPs of the model's size: better rate, one GOP of delay). `model` is an installed
    model name, a path, or a loaded Codec. `quality` defaults to the model's middle one.
    `frame_count`, if known, goes into the header; left None, the header says unknown.
    `arithmetic` "integer" (default, format v4): the prior's tables are computed in
    integers and decode identically on any machine; "float" (format v3): the float
    prior, several times faster, but bit-exact only where the decoder's float
    arithmetic is the encoder's (benchmarks/results/integer_prior).
    """

    def __init__(self, width: int, height: int, fps: float | Fraction, quality: int | None = None,
                 mode: str = "lowlatency", model: str | Codec = "default", *, device: str = "cpu",
                 keyint: int = 8, keyframes: str | KeyframePolicy = "fixed", latency: int = 0,
                 settings: LowLatencySettings | None = None, frame_count: int | None = None,
                 arithmetic: str = "integer"):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (choose {' or '.join(MODES)})")
        version = arithmetic_version(arithmetic)
        self.codec = codec = _codec(model, device)
        q = codec.qualities[len(codec.qualities) // 2] if quality is None else quality
        if q not in codec.qualities:
            raise CodecError(f"quality {q} is not offered by model {codec.model_id.name!r} "
                             f"(choose {codec.qualities[0]}..{codec.qualities[-1]})")
        fps = Fraction(fps).limit_denominator(1001 * 1000) if isinstance(fps, float) else Fraction(fps)
        self.width, self.height, self.quality, self.mode = width, height, q, mode
        if mode == "full":
            self.header = codec.make_header(width, height, fps, frame_count, q, version)
            self._core = codec.packet_encoder(width, height, q, version)
        else:
            if isinstance(keyframes, str):
                if keyframes not in _POLICIES:
                    raise ValueError(f"unknown keyframes {keyframes!r} (choose fixed or adaptive)")
                keyframes = _POLICIES[keyframes](keyint)
            if settings is None:
                settings = LowLatencySettings(latency=latency)
            elif latency != settings.latency and latency != 0:
                raise ValueError(f"latency {latency} and settings.latency {settings.latency} disagree")
            self.header = header_for(codec, width, height, fps, frame_count, q, keyframes, settings, version)
            self._core = LowLatencyEncoder(codec, width, height, q, keyframes, settings, version)
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
            out.append(p.to_bytes())
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
            self._write(out, self.push(frame), progress)
        self._write(out, self.flush(), progress)
        if self.header.frame_count is None and origin is not None:
            end = out.tell()
            out.seek(origin)
            out.write(replace(self.header, frame_count=self.frames_in).to_bytes())
            out.seek(end)
        return self.stats

    def _write(self, out: BinaryIO, chunks: list[bytes], progress) -> None:
        before = self.frames_out
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
                 limits: Limits = DEFAULT_LIMITS, join: bool | None = None):
        """join: True = start by scanning for a HEADER packet even if the bytes begin
        with a stream header; None = decide from the first bytes."""
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
        if len(self._buf) < PACKET_HEAD_SIZE:
            return False
        # The head is checked (order, length within the limits) before its payload is awaited.
        self.packet_offset = self._reader.offset
        size = PACKET_HEAD_SIZE + self._reader.check_head(bytes(self._buf[:PACKET_HEAD_SIZE]))
        if len(self._buf) < size:
            return False
        packet = self._reader.read_packet(io.BytesIO(bytes(self._buf[:size])))
        del self._buf[:size]
        if packet.kind is PacketType.END:
            self.ended = True
            if self._buf:
                raise ContainerError(f"{len(self._buf)} bytes after the END packet")
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
        # Late join: scan for a HEADER packet (sync, a valid head CRC, type HEADER, its payload).
        while True:
            i = self._buf.find(SYNC)
            if i < 0:
                keep = 1 if self._buf.endswith(SYNC[:1]) else 0
                self._skip(len(self._buf) - keep)
                return False
            self._skip(i)
            if len(self._buf) < PACKET_HEAD_SIZE:
                return False
            try:
                kind, first, _, length, _, _ = parse_packet_head(bytes(self._buf[:PACKET_HEAD_SIZE]), 0, 0)
            except ContainerError:
                self._skip(1)
                continue
            if kind is not PacketType.HEADER:  # a genuine packet: pass over it whole
                self._skip(min(len(self._buf), PACKET_HEAD_SIZE + length) if length <= self.limits.max_payload else 1)
                continue
            if len(self._buf) < PACKET_HEAD_SIZE + length:
                return False
            try:
                header = StreamHeader.from_bytes(bytes(self._buf[PACKET_HEAD_SIZE:PACKET_HEAD_SIZE + length]),
                                                 self.limits)
            except ContainerError:
                self._skip(1)
                continue
            self.packet_offset = self.skipped_bytes  # where the HEADER packet starts
            self._start(header, self.skipped_bytes, first)
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
        self._core = codec.packet_decoder(header)
        if self._late:
            self._reader.join(offset, frame)
            if hasattr(self._core, "join"):
                self._core.join()
