"""The full mode's predicted steps (format v6, a model with AutoencoderConfig.motion).

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

import numpy as np
import torch

from ..codec import Codec, tokens_crc
from ..coding.range_coder import RangeDecoder, RangeEncoder
from ..errors import CodecError, TokenMismatchError
from ..format import step_modes
from ..format.container import Packet, PacketType, StreamHeader
from ..format.step_modes import INTRA, PREDICTED, SKIP
from ..format.versions import (intra_quality_coded, kept_tiles_uncoded, motion_precision, overlap_flagged,
                               side_contexts, subpel_filter)
from ..motion import compensation as motion
from ..motion.interpolation import FILTERS, FOUR_TAP_OVERLAPPED
from ..motion.prediction import predict, refine, search
from ..motion.side_info import SideReader, SideWriter
from .tile_skip import choose_tiles, kept_positions, paste_tiles, tile_bits, tile_grid, tile_size, zero_tiles


class _Steps:
    """What the encoder and the decoder of one stream share: the geometry and the
    zero latent frame."""

    def __init__(self, codec: Codec, height: int, width: int, quality: int, version: int):
        self.codec, self.quality, self.version = codec, quality, version
        self.precision = motion_precision(version)  # vectors in 1/precision pixels (v7: quarter pixels)
        self.interp = FILTERS[subpel_filter(version)]  # how a field moves pixels (v11: 4-tap; v12: block vectors)
        self.overlaps = overlap_flagged(version)  # v13: a step's bit may choose FOUR_TAP_OVERLAPPED instead
        # v8: the kept tiles' tokens are not coded, the vector models start shaped
        self.skips_kept = kept_tiles_uncoded(version)
        self.side_contexts = side_contexts(version)  # v10: side information leans on the step before
        s, self.t = codec.factor_s, codec.factor_t
        self.h, self.w = -(-height // s), -(-width // s)  # latent grid
        self.padded = (self.h * s, self.w * s)  # the frames' padded (H', W')
        self.use_block(64)
        planes = codec.planes_at(quality)
        self.zero = np.full((planes, self.h, self.w), codec.config.quantizer.codebook_size // 2, np.int64)

    def _kept(self, mask: np.ndarray) -> np.ndarray | None:
        """The latent positions (h, w) of the kept tiles of mask (ty, tx) that the
        range coder leaves out (format v8), or None (none, or an older version)."""
        if not (self.skips_kept and mask.any()):
            return None
        return kept_positions(mask, self.codec.factor_s, self.tile, self.h, self.w)

    def use_block(self, block: int) -> None:
        """A packet's motion block size sets its tiles' (tile_skip.tile_size)."""
        self.tile = tile_size(self.version, block, self.codec.factor_s)  # pixels per tile side
        self.tiles = tile_grid(*self.padded, self.tile)  # (ty, tx) of a step's tile map

    def flags_overlap(self, field: np.ndarray) -> bool:
        """Whether a step with this field (by, bx, 2) carries the overlap bit (v13):
        unless all its vectors are equal (then the overlapped prediction is the
        blocks' own)."""
        return self.overlaps and not (field == field[:1, :1]).all()

    def zero_context(self) -> torch.Tensor:
        """The prior context after a skipped step: its all-zero tokens."""
        ctx = self.codec.empty_context(self.h, self.w)
        ctx[: self.zero.shape[0]] = torch.from_numpy(self.zero).to(ctx.device)
        return ctx

    def reconstruct(self, tokens: np.ndarray, pred: np.ndarray | None, cond: tuple | None = None) -> np.ndarray:
        """tokens (planes, h, w), pred (t, H', W', 3) or None (intra) -> decoded step
        (t, H', W', 3) uint8; cond: the codec's decoder_condition(pred), if computed."""
        return self.codec.decode_tokens(tokens[None], self.quality, pred, cond)


class StepEncoder(_Steps):
    """Codes the steps of one INTER packet after another into one range-coded section.

    Each step's mode: PREDICTED, or SKIP when every token of the predicted step
    is the zero symbol or when its tokens cost more than they correct (the
    step skipped, which decodes to its prediction, is cheaper by SSE + lambda x
    bits, lambda as below: a still camera's steps stop costing tokens once its
    prediction is as good as coding can make it); INTRA when the prediction fails (a scene cut): when the
    prediction's error is more than CUT_RATIO x the last step's and above
    CUT_MSE, the step is also coded alone, and the cheaper of the two by SSE +
    lambda x bits is kept, lambda = 2 ln 2 x SSE / samples of the predicted
    candidate (the slope of D ~ 2^(-2R/N) at its rate)."""

    CUT_RATIO, CUT_MSE = 4.0, 60.0
    # the motion block size by quality: 64x64 below quality 4, 32x32 below 6,
    # 16x16 above. Finer fields buy better predictions that only pay at higher
    # rates (carphone, 120 frames: at q1 64x64 blocks need 40 % fewer bytes than
    # 16x16 at the same PSNR; at q8 16x16 needs 3 % fewer than 32x32;
    # benchmarks/results/predictive/motion2/blocks_carphone.md)
    BLOCKS_BELOW = ((4, 64), (6, 32))
    motion_bits = 0.0  # what the fields cost (all packets; the adaptive models' estimate)
    last_mse: float | None = None  # the last predicted step's prediction error (None after intra)
    block: int | None = None  # a fixed motion block size (benchmarks), else block_for(quality)
    rd_skip = True  # also skip a step whose tokens do not pay for what they correct (_skip_pays)
    rd_tiles = True  # and keep the prediction in tiles where it beats the tokens (tile_skip.py)
    tiles_kept = 0  # tiles that kept the prediction (all packets; reports)
    fine_fields = 0  # moving fields sent in quarter pixels (all packets; reports)
    coded_mse: float | None = None  # the last step's decoded MSE (None: none yet)
    FINE_LAMBDA = 1.0
    # quarter-pixel fields from this quality up: at quality 1 whole pixels need
    # 1.4 % fewer bytes on held-out bikes (+0.04 dB) and 3.0 % on synthetic:static
    # (-0.02 dB); at quality 2 the clips disagree, from 3 up bikes gains 4-7 %
    # (docs/history.md, "Faster encoding, same streams")
    FINE_FROM = 2
    # scales of the bits in the tile choice and the skip decision (SSE + lambda x
    # scale x bits; benchmarks/step_lambdas.py measures them on held-out footage).
    # Since format v8 a kept tile costs no token bits: on held-out bikes and
    # synthetic:static a scale of 3 needs 1.6-1.8 % fewer bits than 1 (5: 1.95 %,
    # but 0.5 dB off the top quality; benchmarks/results/tiles_v8/README.md).
    # TILE_LAMBDA None: by quality, TILE_LAMBDA_BELOW's scale below its quality,
    # else TILE_LAMBDA_TOP. Under v13, 4.5 against 3 below quality 8 needs 1.0 % fewer
    # bits on held-out bikes and 0.9 % on synthetic:static; from 8 up it costs
    # 0.1-0.2 dB of the top quality for as many bits (docs/history.md)
    TILE_LAMBDA: float | None = None
    TILE_LAMBDA_BELOW, TILE_LAMBDA_TOP = (8, 4.5), 3.0
    SKIP_LAMBDA = 1.0
    # format v10: the tile choice also prices each tile's own bit in the map (its
    # context model's code length, SideInfo.map_code_lengths) at this scale, the
    # tokens' own; None: not priced. synthetic:static -1.14 %, held-out bikes
    # +0.03 % (benchmarks/results/predictive/map_bits/README.md)
    MAP_LAMBDA: float | None = 3.0
    # format v13: a step's prediction overlaps the blocks' when that cuts its error
    # below this share of the blocks' (held-out bikes: 0.98 -2.4 %, 0.965 -1.8 %,
    # whenever lower -3.1 % but synthetic:static +2.7 %; docs/history.md)
    OVERLAP_GAIN = 0.98
    overlapped = 0  # steps sent with overlapped predictions (all packets; reports)

    def tile_lambda(self) -> float:
        """The scale of the token bits in the tile choice at this stream's quality."""
        if self.TILE_LAMBDA is not None:
            return self.TILE_LAMBDA
        below, scale = self.TILE_LAMBDA_BELOW
        return scale if self.quality < below else self.TILE_LAMBDA_TOP

    def block_for(self, quality: int) -> int:
        return self.block or next((b for below, b in self.BLOCKS_BELOW if quality < below), 16)

    def begin(self) -> None:
        self.packet_block = self.block_for(self.quality)
        self.use_block(self.packet_block)
        self.enc = RangeEncoder()
        self.side = SideWriter(self.enc, self.precision, shaped=self.skips_kept,  # v8: shaped vector models
                               contexts=self.side_contexts)
        self.step_modes: list[int] = []  # per step of this packet

    def code(self, frames: np.ndarray, ref: np.ndarray, source: np.ndarray, prev: torch.Tensor
             ) -> tuple[np.ndarray, torch.Tensor, float]:
        """frames (t, H', W', 3) padded, ref (H', W', 3) the last decoded frame, source
        (H', W') int32 the luma of that frame before coding, prev the prior context
        -> (the decoded step (t, H', W', 3), the next context, ideal token bits)."""
        field, precision, pred, mse, field_bits, overlapped = self._motion(frames, ref, source)
        tokens, latents = self.codec.quantize(frames, self.quality, pred)  # (1, planes, h, w)
        mode = SKIP if np.array_equal(tokens[0], self.zero) else PREDICTED
        if mse > self.CUT_MSE and self.last_mse is not None and mse > self.CUT_RATIO * self.last_mse:
            intra = self.codec.quantize(frames, self.quality)
            if self._intra_pays(frames, (pred, tokens, latents), (None, *intra), prev):
                mode, pred, (tokens, latents) = INTRA, None, intra
        self.last_mse = mse if mode != INTRA else None
        bits, decoded, mask = 0.0, None, np.zeros(self.tiles, bool)
        if mode != SKIP:  # code the tokens on trial: the field goes first in the stream
            trial, frame = _Recorder(), np.array(tokens[0])  # writable: the rounding writes its choices back
            where = np.zeros(frame.shape[1:], np.float64)  # (h, w) each position's token bits
            bits, coded_prev = self.codec.encode_frame(trial, frame, prev, self.version, self.quality,
                                                       None if latents is None else latents[0], position_bits=where)
            # the decoder's features of the prediction, whatever the tokens: once for both candidates
            cond = None if pred is None else self.codec.decoder_condition(pred, self.quality)
            decoded = self.reconstruct(frame, pred, cond)
            if mode == PREDICTED and self.rd_tiles:  # keep the prediction where it beats the tokens
                map_bits = None if self.MAP_LAMBDA is None else self.side.map_code_lengths()
                mask = choose_tiles(frames, pred, decoded, tile_bits(where, self.codec.factor_s, self.tile),
                                    self.tile, self.tile_lambda(), map_bits, self.MAP_LAMBDA or 0.0)
                kept = zero_tiles(frame, self.zero, mask, self.codec.factor_s, self.tile) if mask.any() else frame
                changed, left_out = not np.array_equal(kept, frame), self._kept(mask)
                if mask.all():  # every tile keeps the prediction: the skipped step, without the map
                    mode = SKIP  # (the same pixels, and the same context: all-zero tokens)
                # code again without the kept tiles' tokens (v8: not coded at all; before: coded as zeros)
                elif changed or left_out is not None:
                    trial, frame = _Recorder(), kept
                    bits, coded_prev = self.codec.encode_frame(trial, frame, prev, self.version, self.quality,
                                                               skip=left_out)
                    if changed:
                        decoded = self.reconstruct(frame, pred, cond)
                if mask.any():  # (kept tiles whose tokens were all zero already change nothing coded)
                    decoded = paste_tiles(decoded, pred, mask, self.tile)
            coded_mse = _mse(decoded, frames)  # for the skip decision and the next step's motion
            if mode == SKIP or (mode == PREDICTED and self.rd_skip
                                and self._skip_pays(frames.size, coded_mse, mse, bits * self.SKIP_LAMBDA)):
                mode, bits = SKIP, 0.0
        self.step_modes.append(mode)
        self.side.check(np.array([mode]))
        self.side.step_begins(mode == INTRA, mode == SKIP, self.tiles)
        if mode != INTRA:
            # (the models have not moved since _motion priced the field, when it did)
            self.motion_bits += self.side.step_field_bits(field, precision) if field_bits is None else field_bits
            self.side.step_field(field, precision)
            if self.flags_overlap(field):
                self.side.overlap(overlapped)
                self.overlapped += overlapped
            self.fine_fields += precision > 1 and field.any()
        if mode == PREDICTED:
            self.side.tile_map(mask)
            self.tiles_kept += int(mask.sum())  # (not those of steps sent as skipped)
        if mode == SKIP:  # the step IS its prediction: no tokens, no network
            frame, prev, decoded = self.zero.copy(), self.zero_context(), pred
        else:
            trial.replay(self.enc)
            prev = coded_prev
        self.side.check(frame.reshape(-1))
        # what _motion prices the next field's bits against (a skipped step is its prediction)
        self.coded_mse = mse if mode == SKIP else coded_mse
        return decoded, prev, bits

    def _motion(self, frames: np.ndarray, ref: np.ndarray, source: np.ndarray
                ) -> tuple[np.ndarray, int, np.ndarray, float, float | None, bool]:
        """The step's field, its precision, its prediction clip, that clip's MSE,
        the field's bits (step_field_bits; None where the choice did not price it)
        and whether the prediction overlaps the blocks' (v13). The overlapped
        clip is taken when its error is under OVERLAP_GAIN x the blocks': it
        lowers the error at nearly every step, but where the gain is small a
        sharp prediction serves the networks better."""
        field, precision, pred, mse, bits = self._field(frames, ref, source)
        if self.flags_overlap(field):
            over = predict(ref, field, self.t, self.packet_block, precision, FOUR_TAP_OVERLAPPED)
            mse_over = _mse(over, frames)
            if mse_over < self.OVERLAP_GAIN * mse:
                return field, precision, over, mse_over, bits, True
        return field, precision, pred, mse, bits, False

    def _field(self, frames: np.ndarray, ref: np.ndarray, source: np.ndarray
               ) -> tuple[np.ndarray, int, np.ndarray, float, float | None]:
        """_motion's field, precision, blocks' prediction, its MSE and the field's bits.
        Where the packet allows quarter pixels (v7), the refined field is taken when its
        better prediction is worth its extra bits: SSE + lambda x bits, lambda =
        FINE_LAMBDA x 2 ln 2 x the last step's coded MSE (the prediction's SSE is a
        stand-in for what coding the step will cost, which FINE_LAMBDA scales)."""
        whole = search(source, frames[-1], self.packet_block)  # (by, bx, 2)
        pred = predict(ref, whole, self.t, self.packet_block, 1, self.interp)
        mse = _mse(pred, frames)
        if self.precision == 1 or self.quality < self.FINE_FROM:
            return whole, 1, pred, mse, None
        fine = refine(source, frames[-1], whole, self.packet_block, self.precision, self.interp)
        if np.array_equal(fine, whole * self.precision):  # no block moved off its whole pixel
            return whole, 1, pred, mse, None
        pred_fine = predict(ref, fine, self.t, self.packet_block, self.precision, self.interp)
        mse_fine = _mse(pred_fine, frames)
        lam = self.FINE_LAMBDA * 2 * np.log(2) * (mse if self.coded_mse is None else self.coded_mse)
        bits_whole, bits_fine = self.side.step_field_bits(whole), self.side.step_field_bits(fine, self.precision)
        if mse_fine * frames.size + lam * bits_fine < mse * frames.size + lam * bits_whole:
            return fine, self.precision, pred_fine, mse_fine, bits_fine
        return whole, 1, pred, mse, bits_whole

    @staticmethod
    def _skip_pays(samples: int, coded_mse: float, pred_mse: float, bits: float) -> bool:
        """A coded step against the same step skipped, which decodes to its
        prediction (the field is sent either way): skip when SSE + lambda x bits
        is lower, lambda = 2 ln 2 x SSE / samples of the coded step. samples:
        the step's (t H' W' 3); the MSEs: of the coded step and of its prediction."""
        d_coded = coded_mse * samples
        return pred_mse * samples < d_coded + 2 * np.log(2) * d_coded / samples * bits

    def _intra_pays(self, frames, predicted, intra, prev) -> bool:
        """predicted, intra: (reference, tokens, latents) of the two candidates. Code
        both (trial range coders) and compare SSE + lambda x bits."""
        costs = []
        for ref, tok, lat in (predicted, intra):
            frame = np.array(tok[0])
            bits, _ = self.codec.encode_frame(RangeEncoder(), frame, prev, self.version, self.quality,
                                              None if lat is None else lat[0])
            costs.append((_mse(self.reconstruct(frame, ref), frames) * frames.size, bits))
        (d_p, r_p), (d_i, r_i) = costs
        lam = 2 * np.log(2) * d_p / frames.size
        return d_i + lam * r_i < d_p + lam * r_p

    def finish(self) -> tuple[bytes, int]:
        """-> (the packet's payload, its CRC)."""
        head = step_modes.write(self.step_modes, self.packet_block)
        return head + self.enc.finish(), self.side.crc & 0xFFFFFFFF


class _Recorder:
    """Stands in for the packet's range encoder while a step's tokens are coded on
    trial: keeps each call (symbols and the shared constriction model or table)
    and replays them into the real encoder if the step is kept as coded, so the
    prior runs once per step whatever the encoder decides."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, np.ndarray, object]] = []

    def encode(self, symbols: np.ndarray, freq: np.ndarray) -> None:
        self.calls.append(("encode", np.array(symbols), np.array(freq)))

    def encode_with(self, symbols: np.ndarray, model) -> None:
        self.calls.append(("encode_with", np.array(symbols), model))

    def replay(self, enc: RangeEncoder) -> None:
        for name, symbols, table in self.calls:
            getattr(enc, name)(symbols, table)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two uint8 clips, from the exact integer sum. (Not a
    BLAS dot: it leaves OpenBLAS threads spinning, which halved the speed of the
    torch work after it on 2 cores.)"""
    return int(motion.squared_error(a, b).sum(dtype=np.int64)) / a.size


class StepDecoder(_Steps):
    def decode(self, payload: bytes, steps: int, ref: np.ndarray, prev: torch.Tensor
               ) -> tuple[list[np.ndarray], torch.Tensor, int]:
        """An INTER packet of `steps` steps -> (decoded steps, each (t, H', W', 3),
        the next context, the CRC of what was read)."""
        modes, block, head = step_modes.read(payload)
        if len(modes) != steps:
            raise CodecError(f"the packet holds {len(modes)} steps; its frame count needs {steps}")
        side = SideReader(RangeDecoder(payload[head:]), self.precision, shaped=self.skips_kept,
                          contexts=self.side_contexts)
        by, bx = motion.grid_shape(*self.padded, block)
        self.use_block(block)
        out = []
        for mode in modes:
            side.check(np.array([mode]))
            side.step_begins(mode == INTRA, mode == SKIP, self.tiles)
            pred = None
            if mode != INTRA:
                field, precision = side.step_field(by, bx)
                interp = FOUR_TAP_OVERLAPPED if self.flags_overlap(field) and side.overlap() else self.interp
                pred = predict(ref, field, self.t, block, precision, interp)
            if mode == SKIP:  # the step is its prediction
                tokens, prev, step = self.zero.copy(), self.zero_context(), pred
            else:
                mask = side.tile_map(*self.tiles) if mode == PREDICTED else None
                skip = None if mask is None else self._kept(mask)
                tokens, prev = self.codec.decode_frame(side.dec, prev, self.quality, self.version, skip=skip)
                step = self.reconstruct(tokens, pred)
                if mask is not None and mask.any():
                    step = paste_tiles(step, pred, mask, self.tile)
            side.check(tokens.reshape(-1))
            out.append(step)
            ref = step[-1]
        return out, prev, side.crc & 0xFFFFFFFF


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

    def __init__(self, codec: Codec, header: StreamHeader):
        self.codec, self.header = codec, header
        self.quality, self.version = header.quality, header.version
        # the intra steps' quality (v9: written at the head of each INTRA packet)
        self.intra_quality = (min(max(codec.qualities), self.quality + self.INTRA_BOOST)
                              if intra_quality_coded(self.version) else self.quality)
        self.steps = StepEncoder(codec, header.height, header.width, header.quality, header.version)
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

    @property
    def _intra(self) -> bool:
        return self._done % self.header.intra_period == 0

    def push(self, frame: np.ndarray) -> list[Packet]:
        self._frames.append(frame)
        if not self._intra:
            if len(self._frames) == 1:
                self.steps.begin()
            self._pending.append(frame)
            if len(self._pending) == self.codec.factor_t:
                self._code_step()
        return [self._packet()] if len(self._frames) == self._packet_frames() else []

    def _packet_frames(self) -> int:
        """Frames of the packet being filled: INTRA_FRAMES (None: one step) at an
        intra period's start, else up to a GOP, ending at the next intra period."""
        if self._intra:
            return self.INTRA_FRAMES or self.codec.factor_t
        return min(self.codec.config.gop, self.header.intra_period - self._done % self.header.intra_period)

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
        self._decoded.append(step)
        self._ref, self._source = step[-1], motion.luma(frames[-1])

    def _packet(self) -> Packet:
        codec, n, first = self.codec, len(self._frames), self._done
        if self._intra:  # a GOP coded alone: random access starts here
            gop, q = codec.padded(np.stack(self._frames)), self.intra_quality
            tokens, latents = codec.quantize(gop, q)
            self._prev = codec.empty_context(tokens.shape[2], tokens.shape[3])
            payload, bits, self._prev = codec.encode_payload(tokens, self._prev, self.version, q, latents)
            if intra_quality_coded(self.version):
                payload = step_modes.write_intra(q) + payload
            self.ideal_bits += bits
            self.intra_bits += bits
            self.intra_bytes += len(payload)
            self.tokens += tokens.size
            self._last = codec.decode_tokens(tokens, q)
            packet = Packet(PacketType.INTRA, first, n, payload, tokens_crc(tokens))
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

    def reconstruction(self) -> np.ndarray:
        """Decoded frames (T, H', W', 3) uint8 of the last packet, padded: what
        PredictedDecoder outputs before cropping."""
        if self._last is None:
            raise ValueError("no packet coded yet")
        return self._last


class PredictedDecoder:
    """Packets of a format v6 full-mode stream in, frames out."""

    def __init__(self, codec: Codec, header: StreamHeader):
        self.codec, self.header = codec, header
        self.steps = StepDecoder(codec, header.height, header.width, header.quality, header.version)
        self._prev: torch.Tensor | None = None
        self._ref: np.ndarray | None = None

    def push(self, packet: Packet) -> np.ndarray:
        """-> frames (n, H, W, 3) uint8 of the packet."""
        h, codec, n = self.header, self.codec, packet.frame_count
        last = packet.first_frame + n - 1
        if packet.kind == PacketType.INTRA:
            prev = codec.empty_context(self.steps.h, self.steps.w)
            payload, q = packet.payload, h.quality
            if intra_quality_coded(h.version):  # v9: the packet's own quality first
                try:
                    q, head = step_modes.read_intra(payload, max(codec.qualities))
                except ValueError as e:
                    raise CodecError(f"frame {packet.first_frame}: {e}") from None
                payload = payload[head:]
            tokens, self._prev = codec.decode_payload(payload, -(-n // codec.factor_t), q, prev, h.version)
            if tokens_crc(tokens) != packet.tokens_crc:
                raise TokenMismatchError(f"decoded tokens of frames {packet.first_frame}-{last} do not match "
                                         f"their CRC: the prior's probabilities differ from the encoder's")
            frames = codec.decode_tokens(tokens, q)
        elif self._prev is None:
            raise CodecError(f"stream starts with an inter packet at frame {packet.first_frame}")
        else:
            try:
                steps, self._prev, crc = self.steps.decode(packet.payload, -(-n // codec.factor_t), self._ref,
                                                           self._prev)
            except ValueError as e:
                raise e if isinstance(e, CodecError) else CodecError(str(e)) from None
            if crc != packet.tokens_crc:
                raise TokenMismatchError(f"decoded steps (modes, motion and tokens) of frames "
                                         f"{packet.first_frame}-{last} do not match their CRC")
            frames = np.concatenate(steps)
        self._ref = frames[n - 1]
        return frames[:n, : h.height, : h.width]
