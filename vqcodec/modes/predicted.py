"""The full mode's predicted steps (format v6, a model with AutoencoderConfig.motion):
the packets. The steps inside an INTER packet: modes/steps.py.

An intra period starts with an INTRA packet: its first step (t = factor_t
frames; PredictedEncoder.INTRA_FRAMES) coded alone, as a GOP is in format v5.
Every later packet (INTER, up to config.gop frames, ending at the next intra
period) holds predicted steps of t frames each:

    ref     the last decoded frame (of the GOP or of the step before)
    field   one motion field for the step, searched by the encoder on the
            originals for its last frame (motion/prediction.py) and sent
    pred    ref warped by the field, scaled to each frame's distance: the
            prediction clip (t, H, W, 3)
    tokens  one latent frame, the autoencoder's code of the step given pred
            (the encoder and the decoder both see pred: conditional coding)

The packet's payload:

    step modes  u8 steps, u8 log2 of the motion block size, 2 bits per step
                (format/step_modes.py; `vqcodec info` reads them without a
                model): PREDICTED, SKIP or INTRA
    then ONE range-coded section; per step, in order:
    field       the step's field, unless INTRA (side_info's step_field: a
                still flag, then the vectors unless all are zero)
    tiles       a PREDICTED step's tile map (modes/tile_skip.py): which
                tiles keep the prediction (32 pixels; v8: 16 in packets with
                motion blocks under 64, tile_skip.tile_size)
    tokens      the fast prior's passes, unless SKIP (context: the latent
                frame before, carried across packets); from format v8 the
                kept tiles' positions are left out (known zero symbols)

A step is SKIP when every token of its prediction-coded latent frame is zero
(the zero symbol), when every tile keeps the prediction, or when the encoder
finds its tokens not worth their bits
(StepEncoder._skip_pays): it costs its two bits and its field, the prior runs no
pass, and the step decodes to its prediction clip itself (integer warping
only, no network: the same pixels on every machine). Decoding the all-zero
latent frame instead would not give the prediction back: the networks move a
still camera's frame by about 40 dB PSNR per step and drift. A
step is INTRA when the prediction fails (StepEncoder says when): its tokens
are coded without a reference, as the first step of a clip is in training.
The packet's CRC covers the modes, the fields and the tokens. Tokens depend on
tokens only (the prior never sees pixels), so they decode bit-exactly on every
machine; pixels may differ by a level across machines until the next INTRA
packet, as in every mode with a reference.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from ..codec import Codec, tokens_crc
from ..errors import CodecError, TokenMismatchError
from ..format import step_modes
from ..format.container import Mode, Packet, PacketType, StreamHeader
from ..format.versions import intra_quality_coded, short_packet_heads
from ..motion import compensation as motion
from .keyframes import AdaptiveKeyframes, FixedKeyframes, KeyframePolicy, keyframe_policy
from .steps import StepDecoder, StepEncoder, _mse


def held_steps(codec: Codec, header: StreamHeader) -> bool:
    """Whether a stream's steps are one frame each (format v14's low-latency mode at
    latency 0, steps.py's held steps): its header's gop is under the model's factor_t."""
    return header.gop < codec.factor_t


class PredictedEncoder:
    """The full mode of a motion-compensated model, frame by frame: an INTRA
    packet (one step coded alone) at each intra period's start, then INTER
    packets of predicted steps, up to config.gop frames each. Closed loop: every step is
    predicted from what the decoder will have decoded."""

    # frames coded alone at an intra period's start (None: one step, factor_t
    # frames). One step, then predicted steps, beat a whole 16-frame GOP coded
    # alone by 5-20 % of the bytes on carphone at q2-q8, with higher PSNR
    # (benchmarks/results/predictive/motion2/README.md)
    INTRA_FRAMES: int | None = None
    # format v9: the intra step is coded this many qualities finer than the stream's
    # (at most the model's finest), since every predicted step of its intra period
    # starts from it. Against the stream's own quality: synthetic:static (352x288,
    # 48 frames) needs 6.3 % fewer bits for the same PSNR at +1, 9.6 % at +2, 9.4 %
    # at +3, 2.7 % at +4; held-out bikes (176x144, 125 frames) -0.1 % at +1, +0.7 %
    # at +2, +1.8 % at +3 (benchmarks/intra_boost.py; docs/history.md). +1 is the
    # step that costs moving footage nothing; +2 cost carphone 1.0 % (docs/history.md)
    INTRA_BOOST = 1
    # and STILL_BOOST qualities finer again when the intra step looks like a still
    # camera: at least STILL_SHARE of its textured 16x16 luma blocks (variance over
    # TEXTURE_VAR) change between its frames by less than STILL_NOISE x the error
    # of its coding at the boosted quality (what stays still keeps the intra
    # step's pixels for the whole period: the predicted steps keep the
    # prediction there). Without a look at later frames, the intra step's own
    # two frames are the evidence. synthetic:static -6.1 % at q2-q8 (-2.5 % at
    # q1-q9, whose q9 intra step is already the finest; with 2 / 4 levels of
    # sensor noise added -3.9 / -5.0 % at q1-q7), held-out bikes and a moving
    # bigbuckbunny view unchanged (their intra steps move; benchmarks/intra_boost.py
    # --still-share, docs/history.md)
    STILL_SHARE: float | None = 0.7
    STILL_NOISE, TEXTURE_VAR, STILL_BOOST = 0.25, 50.0, 1

    def __init__(self, codec: Codec, header: StreamHeader, policy=None):
        """policy: the low-latency mode's KeyframePolicy (format v14), asked at each
        packet's first frame whether an INTRA packet starts there; None (the full
        mode): one starts every header.intra_period frames."""
        self.codec, self.header, self.policy = codec, header, policy
        self.quality, self.version = header.quality, header.version
        self.held = held_steps(codec, header)
        self.step_frames = 1 if self.held else codec.factor_t
        self._packet_intra = True  # whether the packet being filled is INTRA
        # the intra steps' quality (v9: written at the head of each INTRA packet)
        self.intra_quality = (min(max(codec.qualities), self.quality + self.INTRA_BOOST)
                              if intra_quality_coded(self.version) else self.quality)
        self.steps = StepEncoder(codec, header.height, header.width, header.quality, header.version, self.held)
        self._frames: list[np.ndarray] = []  # frames of the packet being filled
        self._pending: list[np.ndarray] = []  # frames of the step being filled (INTER)
        self._decoded: list[np.ndarray] = []  # decoded steps of the packet being filled
        self._done = 0  # frames already in packets
        self._prev: torch.Tensor | None = None  # prior context
        self._ref: np.ndarray | None = None  # (H', W', 3) last decoded frame, padded
        self._source: np.ndarray | None = None  # (H', W') its luma before coding
        self._last: np.ndarray | None = None  # decoded frames of the last packet
        self.ideal_bits, self.tokens = 0.0, 0
        # where the bits go: intra GOPs' and predicted steps' token bits (ideal), and
        # the packets' bytes of each kind (the steps' motion: self.steps.motion_bits)
        self.intra_bits = self.step_bits = 0.0
        self.intra_bytes = self.inter_bytes = 0
        self.step_modes = [0, 0, 0]  # steps predicted, skipped, intra (step_modes.py; reports)

    def _starts_intra(self, frame: np.ndarray) -> bool:
        """Whether the packet that starts with `frame` is INTRA (random access)."""
        if self.policy is None:
            return self._done % self.header.intra_period == 0
        key = self.policy.is_keyframe(self._done, frame)  # (asked every packet: policies keep state)
        return key or self._prev is None

    def push(self, frame: np.ndarray) -> list[Packet]:
        if not self._frames:  # a packet starts
            self._packet_intra = self._starts_intra(frame)
            if self._packet_intra:
                self.steps.reset()  # (v15: the side information starts afresh with the intra period)
            else:
                self.steps.begin()
        self._frames.append(frame)
        if not self._packet_intra:
            self._pending.append(frame)
            if len(self._pending) == self.step_frames:
                self._code_step()
        return [self._packet()] if len(self._frames) == self._packet_frames() else []

    def _packet_frames(self) -> int:
        """Frames of the packet being filled: INTRA_FRAMES (None: one step) at an
        intra period's start, else up to a GOP (the header's: the low-latency mode's
        packets are shorter), ending at the next intra period."""
        if self._packet_intra:
            return min(self.INTRA_FRAMES or self.step_frames, self.header.gop)
        return min(self.header.gop, self.header.intra_period - self._done % self.header.intra_period)

    def flush(self) -> list[Packet]:
        if self._pending:
            self._code_step()
        return [self._packet()] if self._frames else []

    def _code_step(self) -> None:
        frames = self.codec.padded(np.stack(self._pending))  # (t, H', W', 3)
        self._pending = []
        step, self._prev, bits = self.steps.code(frames, self._ref, self._source, self._prev)
        self.ideal_bits += bits
        self.step_bits += bits
        self._decoded.append(step[-1:] if self.held else step)  # (a held step: its frame, repeated)
        self._ref, self._source = step[-1], motion.luma(frames[-1])

    def _packet(self) -> Packet:
        codec, n, first = self.codec, len(self._frames), self._done
        if self._packet_intra:  # a GOP coded alone: random access starts here
            gop, q = codec.padded(np.stack(self._frames)), self.intra_quality
            tokens, latents = codec.quantize(gop, q)
            if self._looks_still(gop, tokens, q):
                q = min(max(codec.qualities), q + self.STILL_BOOST)
                tokens, latents = codec.quantize(gop, q)
            self._prev = codec.empty_context(tokens.shape[2], tokens.shape[3])
            payload, bits, self._prev = codec.encode_payload(tokens, self._prev, self.version, q, latents)
            head = step_modes.write_intra(q) if intra_quality_coded(self.version) else b""
            payload = head + payload
            self.ideal_bits += bits
            self.intra_bits += bits
            self.intra_bytes += len(payload)
            self.tokens += tokens.size
            self._last = codec.decode_tokens(tokens, q)
            if self.held:  # the frame repeated: its last copy is shown (their rounded
                self._last = self._last[-1:]  # mean measured no better: docs/history.md)
            # v14: the CRC covers the quality byte too (short packet heads have no payload CRC)
            packet = Packet(PacketType.INTRA, first, n, payload,
                            tokens_crc(tokens, head if short_packet_heads(self.version) else b""))
            self._ref, self._source = self._last[n - 1], motion.luma(gop[n - 1])
            self.steps.last_mse = None
        else:
            payload, crc = self.steps.finish()
            self.inter_bytes += len(payload)
            self._last = np.concatenate(self._decoded)
            self.tokens += len(self._decoded) * self.steps.zero.size
            for m in self.steps.step_modes:
                self.step_modes[m] += 1
            packet = Packet(PacketType.INTER, first, n, payload, crc)
            self._ref = self._last[n - 1]  # what the decoder keeps (a padded last step: its real frame)
            self._source = motion.luma(codec.padded(self._frames[-1][None])[0])
        self._frames, self._decoded = [], []
        self._done += n
        return packet

    def _looks_still(self, gop: np.ndarray, tokens: np.ndarray, q: int) -> bool:
        """Whether the intra step gop (t, H', W', 3), its tokens (nearest symbols)
        at quality q, is a still camera's (see STILL_SHARE): then it is coded finer."""
        if (self.STILL_SHARE is None or self.held or not intra_quality_coded(self.version)
                or q >= max(self.codec.qualities)):  # (a held step's two frames are one)
            return False
        error = _mse(self.codec.decode_tokens(tokens, q), gop)
        b, n = 16, 256  # 16x16 luma blocks, whole ones only (a ragged edge left out)
        H, W = (gop.shape[1] // b) * b, (gop.shape[2] // b) * b
        first, last = (motion.luma(f[:H, :W]).astype(np.int64) for f in (gop[0], gop[-1]))
        s1, s2 = motion._block_sums(first, b), motion._block_sums(first * first, b)  # (H/b, W/b)
        textured = s2 * n - s1 * s1 > self.TEXTURE_VAR * n * n  # the block's variance, in integers
        still = motion._block_sums((last - first) ** 2, b) < self.STILL_NOISE * error * n
        return bool((still & textured).sum() >= self.STILL_SHARE * max(int(textured.sum()), 1))

    def reconstruction(self) -> np.ndarray:
        """Decoded frames (T, H', W', 3) uint8 of the last packet, padded: what
        PredictedDecoder outputs before cropping."""
        if self._last is None:
            raise ValueError("no packet coded yet")
        return self._last


def lowlatency_encoder(codec, width: int, height: int, fps: Fraction, frame_count: int | None, quality: int,
                       version: int, keyint: int, keyframes: str | KeyframePolicy, latency: int
                       ) -> PredictedEncoder:
    """The low-latency mode of format v14: the full mode's predicted steps in packets
    the latency allows. Latency 0: packets of one frame, each a one-frame step
    (held: the header's gop 1). Latency L >= factor_t - 1: packets of
    factor_t x floor((L + 1) / factor_t) frames (at most the model's GOP), steps of
    factor_t frames; a packet's first frame waits for its last, so at most L frames.
    An INTRA packet starts where the keyframe policy says (asked at each packet's
    first frame; "fixed": every keyint frames, rounded down to whole packets;
    "adaptive": also at a scene cut, without the keyframe path's drift rule);
    every other packet chooses per step predicted, skipped or intra (a scene
    cut), as the full mode does."""
    t = codec.factor_t
    packet = 1 if latency < t - 1 else min(codec.config.gop, t * ((latency + 1) // t))
    fixed = max(packet, keyint // packet * packet)  # whole packets, at most keyint apart
    if isinstance(keyframes, str):  # by name: fixed ones on whole packets, adaptive ones at cuts only
        policy = (FixedKeyframes(fixed) if keyframes == "fixed"
                  else AdaptiveKeyframes(keyint, drift=None) if keyframes == "adaptive"
                  else keyframe_policy(keyframes, keyint))
    else:
        policy = keyframes
    period = -(-policy.max_interval // packet) * packet
    header = codec.stream_header(Mode.LOWLATENCY, width, height, fps, frame_count, quality, packet, period, version)
    return PredictedEncoder(codec, header, policy)


class PredictedDecoder:
    """Packets of a format v6 full-mode stream (or a v14 low-latency one) in, frames out."""

    def __init__(self, codec: Codec, header: StreamHeader):
        self.codec, self.header = codec, header
        self.held = held_steps(codec, header)
        self.steps = StepDecoder(codec, header.height, header.width, header.quality, header.version, self.held)
        self._prev: torch.Tensor | None = None
        self._ref: np.ndarray | None = None

    def push(self, packet: Packet) -> np.ndarray:
        """-> frames (n, H, W, 3) uint8 of the packet."""
        h, codec, n = self.header, self.codec, packet.frame_count
        last = packet.first_frame + n - 1
        if packet.kind == PacketType.INTRA:
            self.steps.reset()  # (v15: the side information starts afresh with the intra period)
            prev = codec.empty_context(self.steps.h, self.steps.w)
            payload, q, head = packet.payload, h.quality, 0
            if intra_quality_coded(h.version):  # v9: the packet's own quality first
                try:
                    q, head = step_modes.read_intra(payload, max(codec.qualities))
                except ValueError as e:
                    raise CodecError(f"frame {packet.first_frame}: {e}") from None
                payload = payload[head:]
            tokens, self._prev = codec.decode_payload(payload, -(-n // codec.factor_t), q, prev, h.version)
            covered = packet.payload[:head] if short_packet_heads(h.version) else b""
            if tokens_crc(tokens, covered) != packet.tokens_crc:
                raise TokenMismatchError(f"decoded tokens of frames {packet.first_frame}-{last} do not match "
                                         f"their CRC: the prior's probabilities differ from the encoder's")
            frames = codec.decode_tokens(tokens, q)
            if self.held:  # the frame repeated: its last copy
                frames = frames[-1:]
        elif self._prev is None:
            raise CodecError(f"stream starts with an inter packet at frame {packet.first_frame}")
        else:
            try:
                count = n if self.held else -(-n // codec.factor_t)
                steps, self._prev, crc = self.steps.decode(packet.payload, count, self._ref, self._prev)
            except ValueError as e:
                raise e if isinstance(e, CodecError) else CodecError(str(e)) from None
            if crc != packet.tokens_crc:
                raise TokenMismatchError(f"decoded steps (modes, motion and tokens) of frames "
                                         f"{packet.first_frame}-{last} do not match their CRC")
            frames = np.concatenate([s[-1:] for s in steps] if self.held else steps)
        self._ref = frames[n - 1]
        return frames[:n, : h.height, : h.width]
