"""The steps of one INTER packet of the full mode (format v6+, a model with
AutoencoderConfig.motion): StepEncoder codes them, StepDecoder reads them
(modes/predicted.py puts the packets together).

Each step of factor_t frames is predicted from the last decoded frame by a
motion field the encoder searches and sends (motion/prediction.py, sampled
between pixels by the stream's filter, motion/interpolation.py; v13: a bit
per step may overlap the blocks' predictions), and its tokens code what the
prediction misses, conditionally: the autoencoder's encoder and decoder both
see the prediction. The encoder chooses per step PREDICTED, SKIP (the step is
its prediction) or INTRA (coded alone, at a scene cut), and per tile whether
it keeps the prediction (modes/tile_skip.py), by SSE + lambda x bits.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from ..codec import Codec, range_decoder, range_encoder
from ..coding.range_coder import RangeEncoder
from ..errors import CodecError
from ..format import step_modes
from ..format.step_modes import INTRA, PREDICTED, SKIP
from ..format.versions import (kept_tiles_uncoded, motion_precision, overlap_flagged, short_packet_heads,
                               side_contexts, side_info_carried, subpel_filter)
from ..motion import compensation as motion
from ..motion.interpolation import FILTERS, FOUR_TAP_OVERLAPPED
from ..motion.prediction import overlap, predict, refine, search
from ..motion.side_info import SideReader, SideWriter
from .tile_skip import choose_tiles, kept_positions, paste_tiles, tile_bits, tile_grid, tile_size, zero_tiles

class _Steps:
    """What the encoder and the decoder of one stream share: the geometry and the
    zero latent frame."""

    def __init__(self, codec: Codec, height: int, width: int, quality: int, version: int, held: bool = False):
        self.codec, self.quality, self.version = codec, quality, version
        # one-frame steps (format v14, the low-latency mode at latency 0): the frame is
        # repeated to fill factor_t frames, and every frame of its prediction clip takes
        # the whole field (a t-frame step's frame i takes (i + 1) / t of it)
        self.held = held
        self.precision = motion_precision(version)  # vectors in 1/precision pixels (v7: quarter pixels)
        self.interp = FILTERS[subpel_filter(version)]  # how a field moves pixels (v11: 4-tap; v12: block vectors)
        self.overlaps = overlap_flagged(version)  # v13: a step's bit may choose FOUR_TAP_OVERLAPPED instead
        # v8: the kept tiles' tokens are not coded, the vector models start shaped
        self.skips_kept = kept_tiles_uncoded(version)
        self.side_contexts = side_contexts(version)  # v10: side information leans on the step before
        self.short_heads = short_packet_heads(version)  # v14: the packet's CRC covers the modes head
        self.carried = side_info_carried(version)  # v15: side information carries on through an intra period
        self.side = None  # the side information's models (SideWriter or SideReader), carried where v15 allows
        self._side_block: int | None = None  # the motion block size they were made for
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

    def reset(self) -> None:
        """An INTRA packet: the next INTER packet's side information starts afresh."""
        self.side = None

    def _carries(self, block: int) -> bool:
        """Whether the next packet goes on with the side information so far (v15, within
        an intra period, the same motion blocks; else it starts afresh)."""
        carries = self.carried and self.side is not None and self._side_block == block
        self._side_block = block
        return carries

    def use_block(self, block: int) -> None:
        """A packet's motion block size sets its tiles' (tile_skip.tile_size)."""
        self.tile = tile_size(self.version, block, self.codec.factor_s)  # pixels per tile side
        self.tiles = tile_grid(*self.padded, self.tile)  # (ty, tx) of a step's tile map

    def crc(self, head: bytes, side_crc: int) -> int:
        """An INTER packet's CRC: of what its steps decode to (modes, fields, maps,
        tokens), and from v14 (no payload CRC) of its step modes head too."""
        return zlib.crc32(head, side_crc & 0xFFFFFFFF) if self.short_heads else side_crc & 0xFFFFFFFF

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

    def prediction(self, ref: np.ndarray, field: np.ndarray, block: int, precision: int, interp) -> np.ndarray:
        """The step's prediction clip (t, H', W', 3): ref warped by the field."""
        if self.held:
            return np.repeat(predict(ref, field, 1, block, precision, interp), self.t, 0)
        return predict(ref, field, self.t, block, precision, interp)

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
    # the motion block size by quality: 64x64 below quality 3, 32x32 below 6,
    # 16x16 above. Finer fields buy better predictions that only pay at higher
    # rates (format v6, carphone, 120 frames: at q1 64x64 blocks need 40 % fewer
    # bytes than 16x16 at the same PSNR; at q8 16x16 needs 3 % fewer than 32x32;
    # benchmarks/results/predictive/motion2/blocks_carphone.md). Under v13, 32x32
    # from quality 3 instead of 4: held-out bikes -0.68 %, synthetic:static -3.89 %
    # (q1-q7); from 2 static gains 1.6 % more and bikes loses 0.8 %
    # (benchmarks/block_table.py, benchmarks/results/block_table/)
    BLOCKS_BELOW = ((3, 64), (6, 32))
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
    # TILE_LAMBDA None: by quality, the scale of the first TILE_LAMBDA_BELOW pair
    # whose quality is above the stream's, else TILE_LAMBDA_TOP. Under v13, 4.5
    # against 3 below quality 8 needs 1.0 % fewer bits on held-out bikes and
    # 0.9 % on synthetic:static; from 8 up it costs 0.1-0.2 dB of the top
    # quality for as many bits (docs/history.md)
    TILE_LAMBDA: float | None = None
    TILE_LAMBDA_BELOW, TILE_LAMBDA_TOP = ((8, 4.5),), 3.0  # (as BLOCKS_BELOW)
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

    # a held (one-frame) step's two copies both count in its squared error, so its
    # bits are weighed this many times more in the tile, skip and precision choices,
    # below quality HELD_WEIGHT_BELOW. At latency 0 (q2-q8) 2 against 1 needs 1.40 %
    # fewer bits on held-out bikes (64 frames) and 0.59 % on synthetic:static (48);
    # 1.5 -1.03 % on bikes, 3 +0.51 % and -0.18 %; but at q7-q10 2 costs bikes 1.96 %
    # (q10 0.9 dB lower), so from quality 8 the weight is 1: q2-q10 -0.99 % on bikes,
    # -0.14 % on static (docs/history.md)
    HELD_WEIGHT, HELD_WEIGHT_BELOW = 2.0, 8

    def tile_lambda(self) -> float:
        """The scale of the token bits in the tile choice at this stream's quality."""
        w = self._weight()
        if self.TILE_LAMBDA is not None:
            return w * self.TILE_LAMBDA
        return w * next((s for below, s in self.TILE_LAMBDA_BELOW if self.quality < below), self.TILE_LAMBDA_TOP)

    def _weight(self) -> float:
        return self.HELD_WEIGHT if self.held and self.quality < self.HELD_WEIGHT_BELOW else 1.0

    def block_for(self, quality: int) -> int:
        return self.block or next((b for below, b in self.BLOCKS_BELOW if quality < below), 16)

    def begin(self) -> None:
        self.packet_block = self.block_for(self.quality)
        self.use_block(self.packet_block)
        self.enc = range_encoder(self.version)
        if self._carries(self.packet_block):
            self.side.next_packet(self.enc)
        else:
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
                                    self.tile, self.tile_lambda(), map_bits,
                                    self._weight() * (self.MAP_LAMBDA or 0.0))
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
            weighed = bits * self.SKIP_LAMBDA * self._weight()
            if mode == SKIP or (mode == PREDICTED and self.rd_skip
                                and self._skip_pays(frames.size, coded_mse, mse, weighed)):
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
            n = 1 if self.held else self.t  # (pred: its own hypotheses; a held step's copies are one)
            over = overlap(ref, field, n, self.packet_block, precision, pred[:n])
            if self.held:
                over = np.repeat(over, self.t, 0)
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
        pred = self.prediction(ref, whole, self.packet_block, 1, self.interp)
        mse = _mse(pred, frames)
        if self.precision == 1 or self.quality < self.FINE_FROM:
            return whole, 1, pred, mse, None
        fine = refine(source, frames[-1], whole, self.packet_block, self.precision, self.interp)
        if np.array_equal(fine, whole * self.precision):  # no block moved off its whole pixel
            return whole, 1, pred, mse, None
        pred_fine = self.prediction(ref, fine, self.packet_block, self.precision, self.interp)
        mse_fine = _mse(pred_fine, frames)
        lam = self._weight() * self.FINE_LAMBDA * 2 * np.log(2) * (mse if self.coded_mse is None else self.coded_mse)
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
        head = step_modes.write_for(self.version, self.step_modes, self.packet_block)
        return head + self.enc.finish(), self.crc(head, self.side.crc)


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
        modes, block, head = step_modes.read_for(self.version, payload)
        if len(modes) != steps:
            raise CodecError(f"the packet holds {len(modes)} steps; its frame count needs {steps}")
        dec = range_decoder(payload[head:], self.version)
        if self._carries(block):
            side = self.side
            side.next_packet(dec)
        else:
            side = self.side = SideReader(dec, self.precision, shaped=self.skips_kept, contexts=self.side_contexts)
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
                pred = self.prediction(ref, field, block, precision, interp)
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
        return out, prev, self.crc(payload[:head], side.crc)
