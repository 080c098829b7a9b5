"""The low-latency mode: at most `latency` frames held back by the encoder.

A motion model (the shipped default) writing format v14 codes it as the full
mode does, with predicted steps (modes/predicted.py, modes/steps.py): each step
predicted from the last decoded frame by a sent motion field and corrected by
tokens, or skipped, or coded alone at a scene cut; only the packets are
shorter (predicted.lowlatency_encoder): at latency 0 a packet per frame, each frame a
one-frame step; from latency 1 steps of two frames, in packets of up to
latency + 1 frames. Keyframes (INTRA packets: where a late joiner starts, the
prior's context resets) come every `keyint` frames (default 64), and with
keyframes="adaptive" also at scene cuts. On held-out bikes this path reaches
the full mode's qualities; the keyframe path below never passed 21 dB there.

The keyframe path (models without motion, and streams of v2-v13): VQ-coded
keyframes, motion-compensated frames between.

Packets ("segments") cover contiguous frames, at most `gop` (the maximum
keyframe interval) each:

    INTRA / INTER  frames a..k, k a keyframe: the keyframe's tokens (prior context
                   reset for INTRA, else the previous keyframe's tokens), then
                   frames a..k-1, each rebuilt from the keyframes before and at k
    PREDICTED      frames a..b after the last keyframe, rebuilt from it alone

Payload: u32 length of the keyframe section, the keyframe section (the prior's
range-coded tokens), then the side information of every in-between frame
(motion_coding: one range-coded section). Each in-between frame picks one of

    COPY       the previous keyframe as it is                (0 motion bits)
    FORWARD    the previous keyframe warped by a sent field
    BILATERAL  both keyframes, motion estimated by the decoder (0 motion bits)
    BIDIRECTIONAL  both keyframes warped by two sent fields, with sent per-block
               blend weights (occlusions: a block may take one side only)

by rate-distortion cost SSE + lambda * bits, lambda = lambda_scale * (the
keyframe's MSE): the encoder only spends motion bits where they buy more than
the keyframes' own rate would. The sent fields are searched against the
keyframes as they were before coding (the encoder has them): searched against
the decoded ones, a field at a coarse quality followed the keyframe's coding
error, noise that cost more bits the coarser the keyframe (issue 31). They
still warp the decoded keyframes, as the decoder does.

Latency: after frame t is pushed every frame up to t - latency is out. A frame
is interpolated from the next keyframe only if that keyframe comes at most
`latency` frames later; otherwise it is predicted forward. Keyframes are single
frames coded by the model's own path: the frame is repeated to fill the
autoencoder's temporal factor and the decoded copies are averaged.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from ..errors import CodecError, TokenMismatchError
from ..format.container import Mode, Packet, PacketType, StreamHeader
from ..format.versions import lowlatency_predicted
from ..motion import compensation as motion
from ..motion.side_info import SideReader, SideWriter
from .keyframes import KeyframePolicy, keyframe_policy

COPY, FORWARD, BILATERAL, BIDIRECTIONAL = range(4)
_KEYLEN = struct.Struct("<I")


@dataclass(frozen=True)
class LowLatencySettings:
    latency: int = 0  # frames the encoder may hold back; 0 = forward prediction only
    intra_period: int = 64  # frames after which the next keyframe resets the prior's context
    # lambda = lambda_scale * keyframe MSE (SSE per bit). A keyframe's bits improve every
    # frame predicted from it, so a motion bit must buy what a keyframe bit buys across its
    # interval: the keyframe path's own slope is 10-50 x its MSE per frame at qualities 1-4,
    # times 8 frames a key. 128 was the best of 4..512 on bikes' held-out half (keyint 8 and
    # adaptive 32; benchmarks/quality_ladder.py); 4 spent more bits at lower qualities.
    lambda_scale: float = 128.0

    def __post_init__(self) -> None:
        if not 0 <= self.latency <= 255:
            raise ValueError(f"latency must be 0..255 frames, got {self.latency}")
        if self.intra_period < 1:
            raise ValueError("intra_period must be at least 1")


@dataclass
class _Key:
    """A decoded keyframe: where it is, its pixels and luma, the prior context after it."""
    index: int
    frame: np.ndarray  # (H, W, 3) uint8, decoded
    luma: np.ndarray  # (H, W) int32
    context: torch.Tensor  # (N, h, w) tokens: the next keyframe's prior context
    # (H, W) int32 luma of the frame before it was coded (encoder only; the decoder never
    # has it): motion is searched against it, so a field follows what moved, not the
    # keyframe's coding error
    source_luma: np.ndarray | None = None


class LowLatencyMode:
    """The registry's entry for header mode LOWLATENCY (modes/__init__.py). The header's
    `gop` field holds the maximum keyframe interval, its intra_period the prior's
    context-reset interval rounded up to a multiple of it."""

    name = "lowlatency"
    wire = Mode.LOWLATENCY

    # the predicted path's (format v14) default keyframe interval: an INTRA packet (where
    # a late joiner starts) every 64 frames, about 2 s at 30 fps. Its frames between
    # are coded, not rebuilt, so they need no keyframe to bridge them.
    PREDICTED_KEYINT = 64
    KEYINT = 8  # the keyframe path's (v2-v13, and models without motion)

    @staticmethod
    def encoder(codec, width: int, height: int, fps: Fraction, frame_count: int | None, quality: int,
                version: int | None = None, *, keyint: int | None = None, keyframes: str | KeyframePolicy = "fixed",
                latency: int = 0, settings: LowLatencySettings | None = None):
        """keyframes: "fixed" (every `keyint` frames), "adaptive" (where the content changes,
        at most `keyint` apart) or a KeyframePolicy; keyint None: the path's default;
        latency: frames the encoder may hold back (settings.latency, if settings are given).
        A motion model writing format v14 codes with predicted steps (predicted.lowlatency_encoder)."""
        if settings is None:
            settings = LowLatencySettings(latency=latency)
        elif latency != settings.latency and latency != 0:
            raise ValueError(f"latency {latency} and settings.latency {settings.latency} disagree")
        version = codec.version_for() if version is None else version
        if codec.uses_motion and lowlatency_predicted(version):
            from .predicted import lowlatency_encoder
            return lowlatency_encoder(codec, width, height, fps, frame_count, quality, version,
                                      keyint or LowLatencyMode.PREDICTED_KEYINT, keyframes, settings.latency)
        policy = keyframe_policy(keyframes, keyint or LowLatencyMode.KEYINT)
        interval = policy.max_interval
        header = codec.stream_header(Mode.LOWLATENCY, width, height, fps, frame_count, quality, interval,
                                     -(-settings.intra_period // interval) * interval, version)
        return LowLatencyEncoder(codec, header, policy, settings)

    @staticmethod
    def decoder(codec, header: StreamHeader):
        if codec.uses_motion and lowlatency_predicted(header.version):
            from .predicted import PredictedDecoder
            return PredictedDecoder(codec, header)
        return LowLatencyDecoder(codec, header)


class _KeyframeCoder:
    """The VQ path for single frames, shared by encoder and decoder."""

    def __init__(self, codec, width: int, height: int, quality: int, version: int | None = None):
        self.codec, self.width, self.height, self.quality = codec, width, height, quality
        self.version = version  # of the stream: picks the prior's arithmetic
        s = codec.factor_s
        self.h, self.w = -(-height // s), -(-width // s)

    def empty_context(self) -> torch.Tensor:
        return self.codec.empty_context(self.h, self.w)

    def reconstruct(self, tokens: np.ndarray) -> np.ndarray:
        """tokens (1, L, h, w) -> (H, W, 3) uint8: the mean of the decoded copies."""
        pair = self.codec.decode_tokens(tokens, self.quality)[:, : self.height, : self.width].astype(np.uint16)
        return ((pair.sum(axis=0) + len(pair) // 2) // len(pair)).astype(np.uint8)

    def encode(self, frame: np.ndarray, context: torch.Tensor):
        """-> (payload, ideal bits, tokens (1, L, h, w), next context)."""
        tokens, latents = self.codec.quantize(self.codec.padded(frame[None]), self.quality)
        payload, ideal, nxt = self.codec.encode_payload(tokens, context, self.version, self.quality, latents)
        return payload, ideal, tokens, nxt

    def decode(self, payload: bytes, context: torch.Tensor):
        """-> (tokens (1, L, h, w), next context)."""
        return self.codec.decode_payload(payload, 1, self.quality, context, self.version)


def _tokens_check(tokens: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(tokens, dtype=np.int64).reshape(-1)


class LowLatencyEncoder:
    """Push frames, get packets; see the module docstring for the layout."""

    def __init__(self, codec, header: StreamHeader, policy: KeyframePolicy,
                 settings: LowLatencySettings = LowLatencySettings()):
        self.header, self.policy, self.settings = header, policy, settings
        self.width, self.height = header.width, header.height
        self.keys = _KeyframeCoder(codec, header.width, header.height, header.quality, header.version)
        self.grid = motion.grid_shape(header.height, header.width)
        self._key: _Key | None = None
        self._last_intra = None
        self._pending: list[tuple[int, np.ndarray]] = []  # frames after the key, not yet out
        self._next = 0
        self._lambda = 0.0
        self.ideal_bits = 0.0
        self.tokens = 0
        self.modes = [0, 0, 0, 0]  # in-between frames per mode, for reports

    def push(self, frame: np.ndarray) -> list[Packet]:
        t = self._next
        self._next += 1
        if self.policy.is_keyframe(t, frame) or self._key is None:
            return [self._key_segment(t, frame)]
        self._pending.append((t, frame))
        due = [p for p in self._pending if p[0] <= t - self.settings.latency]
        if not due:
            return []
        self._pending = self._pending[len(due):]
        return [self._predicted_segment(due)]

    def flush(self) -> list[Packet]:
        """End of stream: the last held-back frame becomes a keyframe, so the
        frames before it are still interpolated."""
        if not self._pending:
            return []
        t, frame = self._pending.pop()
        return [self._key_segment(t, frame)]

    def _key_segment(self, t: int, frame: np.ndarray) -> Packet:
        intra = self._key is None or t - self._last_intra >= self.settings.intra_period
        context = self.keys.empty_context() if intra else self._key.context
        key_payload, ideal, tokens, nxt = self.keys.encode(frame, context)
        self.ideal_bits += ideal
        self.tokens += tokens.size
        decoded = self.keys.reconstruct(tokens)
        err = decoded.astype(np.float64) - frame
        self._lambda = self.settings.lambda_scale * max(float(np.mean(err * err)), 1.0)
        side = SideWriter()
        side.check(_tokens_check(tokens))
        new = _Key(t, decoded, motion.luma(decoded), nxt, source_luma=motion.luma(frame))
        for j, f in self._pending:
            self._code_between(side, f, self._key, new, j)
        first = self._pending[0][0] if self._pending else t
        self._pending = []
        self._key = new
        if intra:
            self._last_intra = t
        payload = _KEYLEN.pack(len(key_payload)) + key_payload + side.finish()
        kind = PacketType.INTRA if intra else PacketType.INTER
        return Packet(kind, first, t - first + 1, payload, side.crc & 0xFFFFFFFF)

    def _predicted_segment(self, frames: list[tuple[int, np.ndarray]]) -> Packet:
        side = SideWriter()
        for j, f in frames:
            self._code_between(side, f, self._key, None, j)
        return Packet(PacketType.PREDICTED, frames[0][0], len(frames), side.finish(),
                      side.crc & 0xFFFFFFFF)

    def _code_between(self, side: SideWriter, frame: np.ndarray, k0: _Key, k1: _Key | None, j: int) -> None:
        """Pick the cheapest mode for frame j by SSE + lambda * bits, and code it."""
        target = motion.luma(frame)
        options = []  # (cost, mode, payload to write)
        if k1 is None:
            options.append((_sse(k0.frame, frame), COPY, ()))
            f0 = motion.estimate(target, k0.source_luma)
            pred = motion.warp(k0.frame, f0)
            options.append((_sse(pred, frame) + self._lambda * side.field_bits(f0), FORWARD, (f0,)))
        else:
            num, den = j - k0.index, k1.index - k0.index
            u0, u1 = motion.bilateral(k0.luma, k1.luma, num, den)
            by, bx = self.grid
            tw = np.full((by, bx), motion.time_weight(num, den), np.int32)
            pred = motion.blend(motion.warp(k0.frame, u0), motion.warp(k1.frame, u1), tw)
            options.append((_sse(pred, frame), BILATERAL, ()))
            f0, f1 = motion.estimate(target, k0.source_luma), motion.estimate(target, k1.source_luma)
            p0, p1 = motion.warp(k0.frame, f0), motion.warp(k1.frame, f1)
            weights = _best_weights(p0, p1, frame, tw[0, 0])
            pred = motion.blend(p0, p1, weights)
            bits = side.field_bits(f0) + side.field_bits(f1) + side.weights_bits(weights)
            options.append((_sse(pred, frame) + self._lambda * bits, BIDIRECTIONAL, (f0, f1, weights)))
        cost, mode, data = min(options, key=lambda o: (o[0] + self._lambda * side.mode_bits(o[1]), o[1]))
        self.modes[mode] += 1
        side.mode(mode)
        if mode == FORWARD:
            side.field(data[0])
        elif mode == BIDIRECTIONAL:
            side.field(data[0])
            side.field(data[1])
            side.weights(data[2])


def _sse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.int64) - b.astype(np.int64)
    return float((d * d).sum())


def _best_weights(p0: np.ndarray, p1: np.ndarray, frame: np.ndarray, mid: int) -> np.ndarray:
    """Per block the weight of p1 among {0, mid, WEIGHT_ONE} with the least SSE."""
    one = motion.WEIGHT_ONE
    choices = [0, mid, one] if 0 < mid < one else [0, one]
    sse = [motion.block_sse(motion.blend(p0, p1, np.full(motion.grid_shape(*frame.shape[:2]), w, np.int32)), frame)
           for w in choices]
    return np.array(choices, np.int32)[np.argmin(np.stack(sse), axis=0)]


class LowLatencyDecoder:
    """Push packets, get frames."""

    def __init__(self, codec, header: StreamHeader):
        self.header = header
        self.keys = _KeyframeCoder(codec, header.width, header.height, header.quality, header.version)
        self.grid = motion.grid_shape(header.height, header.width)
        self._key: _Key | None = None
        self._joining = False

    def join(self) -> None:
        """The stream is joined mid-way: the first INTRA packet's leading frames (which
        need the keyframe before it) are read and checked, but not returned."""
        self._joining = True

    def push(self, packet: Packet) -> np.ndarray:
        """-> the packet's decoded frames (n, H, W, 3) uint8, in order; after join(), the
        first packet gives its keyframe only (its last frame)."""
        try:
            frames, crc = self._decode(packet)
        except ValueError as e:
            raise e if isinstance(e, CodecError) else CodecError(str(e)) from None
        if crc & 0xFFFFFFFF != packet.tokens_crc:
            last = packet.first_frame + packet.frame_count - 1
            raise TokenMismatchError(f"decoded tokens and motion of frames {packet.first_frame}-{last} "
                                     f"do not match their CRC")
        return np.stack(frames)

    def _decode(self, packet: Packet) -> tuple[list[np.ndarray], int]:
        """-> (decoded frames in order, CRC of the side information read)."""
        if packet.kind == PacketType.PREDICTED:
            if self._key is None:
                raise ValueError(f"predicted frames at frame {packet.first_frame} before any keyframe")
            side = SideReader(packet.payload)
            frames = [self._render(self._read(side, False), self._key, None, packet.first_frame + i)
                      for i in range(packet.frame_count)]
            return frames, side.crc
        n = _KEYLEN.unpack_from(packet.payload)[0] if len(packet.payload) >= _KEYLEN.size else None
        if n is None or _KEYLEN.size + n > len(packet.payload):
            raise ValueError(f"keyframe section of the packet at frame {packet.first_frame} is cut short")
        if packet.kind == PacketType.INTRA:
            context = self.keys.empty_context()
        elif self._key is None:
            raise ValueError(f"stream starts with an inter packet at frame {packet.first_frame}")
        else:
            context = self._key.context
        tokens, nxt = self.keys.decode(packet.payload[4: 4 + n], context)
        side = SideReader(packet.payload[4 + n:])
        side.check(_tokens_check(tokens))
        k = packet.first_frame + packet.frame_count - 1
        decoded = self.keys.reconstruct(tokens)
        new = _Key(k, decoded, motion.luma(decoded), nxt)
        between = [self._read(side, True) for _ in range(packet.first_frame, k)]
        if self._key is None and between and not self._joining:
            raise ValueError(f"frames {packet.first_frame}-{k - 1} need a keyframe before them")
        frames = [] if self._key is None else [
            self._render(b, self._key, new, j) for j, b in zip(range(packet.first_frame, k), between)]
        self._key, self._joining = new, False
        return frames + [decoded], side.crc

    def _read(self, side: SideReader, two_keys: bool) -> tuple:
        """One in-between frame's side information -> (mode, fields...)."""
        mode = side.mode()
        by, bx = self.grid
        if mode == FORWARD and not two_keys:
            return mode, side.field(by, bx)
        if mode == BIDIRECTIONAL and two_keys:
            f0, f1 = side.field(by, bx), side.field(by, bx)
            return mode, f0, f1, np.clip(side.weights(by, bx), 0, motion.WEIGHT_ONE)
        if (mode == COPY and not two_keys) or (mode == BILATERAL and two_keys):
            return (mode,)
        need = "a later keyframe" if not two_keys else "no later keyframe"
        raise ValueError(f"mode {mode} needs {need}")

    def _render(self, data: tuple, k0: _Key, k1: _Key | None, j: int) -> np.ndarray:
        mode = data[0]
        if mode == COPY:
            return k0.frame.copy()
        if mode == FORWARD:
            return motion.warp(k0.frame, data[1])
        num, den = j - k0.index, k1.index - k0.index
        if mode == BILATERAL:
            by, bx = self.grid
            u0, u1 = motion.bilateral(k0.luma, k1.luma, num, den)
            tw = np.full((by, bx), motion.time_weight(num, den), np.int32)
            return motion.blend(motion.warp(k0.frame, u0), motion.warp(k1.frame, u1), tw)
        _, f0, f1, weights = data
        return motion.blend(motion.warp(k0.frame, f0), motion.warp(k1.frame, f1), weights)
