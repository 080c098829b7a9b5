"""Entropy coding of the low-latency mode's side information (frame modes,
motion fields, blend weights) with adaptive integer models and the range coder.

The models are counts that start flat and grow by _STEP for every symbol
coded, so they learn a clip's motion statistics as they go; they reset at
every packet (format v15's predicted steps: at every INTRA packet, carrying
on through the INTER packets of an intra period, next_packet).
All of it is integer arithmetic (cdf.frequencies_from_counts): the decoder's
tables equal the encoder's on any machine.

A field (by, bx, 2) is coded as residuals against a prediction, row of blocks
by row (one table per row: the coder is called once per row, not per block):
row 0 predicts each vector from its left neighbour, later rows from the median
of the three vectors above (up-left, up, up-right), as H.264 does.

The full mode's predicted steps (format v6) put a still flag before each field
(step_field): 1 when every vector is zero, and then no vectors follow. In
format v7 a second flag follows a moving field: 1 when its vectors are in
quarter pixels (their own model), 0 when in whole pixels. In format v8
the vector models start shaped around a zero residual (SHAPE_PEAK). A still
camera's steps then cost a fraction of a bit each for motion, where the
vectors of a zero field cost about 18 bytes per packet while the flat
adaptive model learns that they are zero.

Format v10 (contexts=True) lets a predicted step's side information lean on
the step before it in the same packet: a field's vectors are predicted by the
median of the left and upper neighbours and the previous step's vector of the
same block (motion goes on; a camera pan is the same from step to step), and
each bit of a tile map is coded with one of 9 models chosen by the bit above
it and the previous step's bit of the same tile (kept tiles stay kept: a
still background). "Previous" is the last step of the packet: none after an
intra step or at the packet's start; a skipped step's map is all kept. On
the shipped encoder's side information, held-out bikes: fields -6 to -9 %,
maps -3 to -13 %; synthetic:static: fields -29 to -36 %, maps -32 to -46 %
(docs/history.md, "Side information with context").
"""
from __future__ import annotations

import zlib

import numpy as np

from ..coding.cdf import TOTAL, frequencies_from_counts
from ..coding.range_coder import RangeDecoder, RangeEncoder

MAX_VECTOR = 15  # |dy|, |dx| of a coded vector in pixels (motion.estimate stays within it)
WEIGHTS = 5  # blend weights 0..4 (motion.WEIGHT_ONE = 4)
FRAME_MODES = 4
_STEP = 24  # count added per coded symbol
_LIMIT = 1 << 16  # counts are halved when their sum passes this
# format v8's predicted steps start their vector models shaped, not flat: a
# residual r symbols from zero starts with count max(1, SHAPE_PEAK >> |r|), so
# the few vectors of a packet do not pay to teach a 241-symbol model that
# residuals are small (held-out bikes: 25 % fewer field bytes at q2, 8 % at q5)
SHAPE_PEAK = 500


def _grown(counts: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """The adaptive models' one rule: counts (n, K) of n models, symbols (m,) as
    model * K + symbol -> the counts after _STEP per symbol, each model halved
    (rounding up) once its sum passes _LIMIT."""
    n, k = counts.shape
    counts = counts + _STEP * np.bincount(symbols, minlength=n * k).reshape(n, k)
    over = counts.sum(axis=1) > _LIMIT
    counts[over] = (counts[over] + 1) // 2
    return counts


class AdaptiveModel:
    """Counts over K symbols -> the frequency table the coder uses."""

    def __init__(self, symbols: int, shaped: bool = False):
        self.counts = np.ones(symbols, dtype=np.int64)
        if shaped:  # two-sided geometric around the centre symbol (a zero residual)
            self.counts = np.maximum(1, SHAPE_PEAK >> np.abs(np.arange(symbols) - symbols // 2))

    def table(self, rows: int) -> np.ndarray:
        return np.broadcast_to(frequencies_from_counts(self.counts), (rows, self.counts.size))

    def copy(self) -> AdaptiveModel:
        other = AdaptiveModel(self.counts.size)
        other.counts = self.counts.copy()
        return other

    def bits(self, symbols: np.ndarray) -> float:
        f = frequencies_from_counts(self.counts)[symbols]
        return float(-(np.log2(f) - np.log2(TOTAL)).sum())

    def update(self, symbols: np.ndarray) -> None:
        self.counts = _grown(self.counts[None], symbols)[0]


class ModelBank:
    """n adaptive models over K symbols (AdaptiveModel's rule, _grown), chosen per
    symbol by a context: one table lookup and one update for a whole row."""

    def __init__(self, n: int, symbols: int):
        self.counts = np.ones((n, symbols), dtype=np.int64)

    def tables(self, ctx: np.ndarray) -> np.ndarray:
        """Contexts (m,) -> their models' frequency tables (m, K)."""
        return frequencies_from_counts(self.counts)[ctx]

    def update(self, ctx: np.ndarray, symbols: np.ndarray) -> None:
        self.counts = _grown(self.counts, ctx * self.counts.shape[1] + symbols)


def _median3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _predict_row(above: np.ndarray) -> np.ndarray:
    """Median of up-left, up, up-right (edges repeated): (bx, 2) -> (bx, 2)."""
    left = np.concatenate([above[:1], above[:-1]])
    right = np.concatenate([above[1:], above[-1:]])
    return _median3(left, above, right)


def _unpredict_row(res: np.ndarray, up: np.ndarray, last: np.ndarray, limit: int) -> np.ndarray:
    """v10's decoder, one row (bx, 2): each vector = median(left, up, last) + its
    residual, left to right (plain ints: a 1280x720 field has 3,600 vectors)."""
    out, res, up, last = [], res.tolist(), up.tolist(), last.tolist()
    left = last[0]
    for r, u, p in zip(res, up, last):
        left = [max(-limit, min(limit, sorted((a, b, c))[1] + d)) for a, b, c, d in zip(left, u, p, r)]
        out.append(left)
    return np.array(out, np.int32).reshape(-1, 2)


def _field_rows(field: np.ndarray, max_vector: int = MAX_VECTOR, last: np.ndarray | None = None
                ) -> list[np.ndarray]:
    """Field (by, bx, 2) -> per row the residual symbols (bx*2,) in [0, 4 max_vector + 1).
    last: the previous step's field at the same precision (format v10), or None.
    With it each vector is predicted by the median of its left neighbour, its
    upper one and last's vector of its block (last's own where the frame ends)."""
    rows = []
    for r in range(field.shape[0]):
        if last is not None:
            left = np.concatenate([last[r, :1], field[r, :-1]])
            pred = _median3(left, field[r - 1] if r else last[r], last[r])
        elif r == 0:
            pred = np.concatenate([np.zeros((1, 2), np.int32), field[0, :-1]])
        else:
            pred = _predict_row(field[r - 1])
        rows.append((field[r] - pred).reshape(-1) + 2 * max_vector)
    return rows


def _rows_bits(model: AdaptiveModel, rows: list[np.ndarray]) -> float:
    """Bits of coding `rows` one after the other, on a copy of `model`."""
    probe, bits = model.copy(), 0.0
    for row in rows:
        bits += probe.bits(row)
        probe.update(row)
    return bits


def map_contexts(mask: np.ndarray, r: int, last: np.ndarray | None) -> np.ndarray:
    """v10: the model (0..8) of each bit of row r of a tile map (ty, tx) bool: 3 x
    the bit above (2 in the first row) + the previous step's map's bit (last,
    (ty, tx) bool; 2 with none). The encoder's tile choice prices bits by it too."""
    tx = mask.shape[1]
    up = mask[r - 1].astype(np.int64) if r else np.full(tx, 2)
    prev = np.full(tx, 2) if last is None else last[r].astype(np.int64)
    return 3 * up + prev


class SideInfo:
    """The models of one packet, shared by its writer or reader. A field's vectors
    are in whole pixels, or (format v7's steps, precision 4) in 1/precision
    pixels when its step says so; each has its own model. Up to MAX_VECTOR pixels."""

    def __init__(self, precision: int = 1, shaped: bool = False, contexts: bool = False) -> None:
        self.precision = precision  # the finest a field may be (step_field's flag chooses)
        self.contexts = contexts  # format v10: fields and tile maps lean on the step before
        self.last_field: tuple[np.ndarray, int] | None = None  # (field, its precision), v10
        self.last_mask: np.ndarray | None = None  # the previous step's tile map (ty, tx), v10
        self.map_models = ModelBank(9, 2)  # v10: by 3 x the bit above + the previous map's bit
        self.mode_model = AdaptiveModel(FRAME_MODES)
        self.vector_models = {p: AdaptiveModel(4 * MAX_VECTOR * p + 1, shaped)  # residuals in [-2 max, 2 max]
                              for p in sorted({1, precision})}
        self.weight_model = AdaptiveModel(WEIGHTS)
        self.still_model = AdaptiveModel(2)  # step_field's flag: 1 = every vector zero
        self.fine_model = AdaptiveModel(2)  # step_field's second flag (precision > 1): 1 = 1/precision pixels
        self.tiles_model = AdaptiveModel(2)  # tile_map's flag: 1 = some tile keeps the prediction
        self.tile_model = AdaptiveModel(2)  # tile_map's bit per tile: 1 = the prediction kept
        self.overlap_model = AdaptiveModel(2)  # v13: overlap's bit, 1 = the blocks' predictions overlap
        self.crc = 0  # CRC32 of every value coded, in order: the packet's check

    def check(self, values: np.ndarray) -> None:
        """Fold values both sides know (coded or not) into the packet's CRC."""
        self.crc = zlib.crc32(np.ascontiguousarray(values, dtype="<i2").tobytes(), self.crc)

    def step_begins(self, intra: bool, skipped: bool, tiles: tuple[int, int]) -> None:
        """A step's mode is known, before its side information (v10: what the next
        step leans on). An intra step leaves nothing to lean on; a skipped step
        keeps every tile of its map (tiles: (ty, tx)) and codes none."""
        if intra:
            self.last_field = self.last_mask = None
        elif skipped:
            self.last_mask = np.ones(tiles, bool)

    def _last_at(self, precision: int) -> np.ndarray | None:
        """The previous step's field in 1/precision pixels (v10; rounded down), or None."""
        if not self.contexts or self.last_field is None:
            return None
        field, p = self.last_field
        return field * precision // p

    def _map_contexts(self, mask: np.ndarray, r: int) -> np.ndarray:
        return map_contexts(mask, r, self.last_mask)

    def map_code_lengths(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """v10: what the next tile map's bits would cost now, for the encoder's tile
        choice -> (bits (9, 2) float64: per context (_map_contexts) and bit, the
        previous step's map or None), or None before v10 (maps without context)."""
        if not self.contexts:
            return None
        f = frequencies_from_counts(self.map_models.counts)  # (9, 2)
        return np.log2(TOTAL) - np.log2(f), self.last_mask

    def field_bits(self, field: np.ndarray, precision: int = 1, last: np.ndarray | None = None) -> float:
        """What coding `field` (in 1/precision pixels) now would cost, in bits (the models are not changed)."""
        return _rows_bits(self.vector_models[precision], _field_rows(field, MAX_VECTOR * precision, last))

    def step_field_bits(self, field: np.ndarray, precision: int = 1) -> float:
        """What step_field(field, precision) would cost now, in bits."""
        still = not field.any()
        bits = self.still_model.bits(np.array([int(still)]))
        if still:
            return bits
        if self.precision > 1:
            bits += self.fine_model.bits(np.array([int(precision > 1)]))
        return bits + self.field_bits(field, precision, self._last_at(precision))

    def weights_bits(self, weights: np.ndarray) -> float:
        return _rows_bits(self.weight_model, list(weights))

    def mode_bits(self, mode: int) -> float:
        return self.mode_model.bits(np.array([mode]))


class SideWriter(SideInfo):
    def __init__(self, enc: RangeEncoder | None = None, precision: int = 1, shaped: bool = False,
                 contexts: bool = False) -> None:
        """enc: a range encoder shared with other sections (the predicted steps'
        tokens), or None for one of its own (finish() gives its bytes); shaped:
        the vector models start shaped (format v8's steps), not flat."""
        super().__init__(precision, shaped, contexts)
        self.enc = RangeEncoder() if enc is None else enc

    def _put(self, model: AdaptiveModel, symbols: np.ndarray) -> None:
        self.enc.encode(symbols, model.table(symbols.size))
        model.update(symbols)

    def mode(self, mode: int) -> None:
        self._put(self.mode_model, np.array([mode]))
        self.check(np.array([mode]))

    def field(self, field: np.ndarray, precision: int = 1, last: np.ndarray | None = None) -> None:
        """A field (by, bx, 2) in 1/precision pixels (last: _field_rows')."""
        limit = MAX_VECTOR * precision
        if np.abs(field).max(initial=0) > limit:
            raise ValueError(f"motion vector beyond +-{limit}")
        for row in _field_rows(field, limit, last):
            self._put(self.vector_models[precision], row)
        self.check(field)

    def step_field(self, field: np.ndarray, precision: int = 1) -> None:
        """A predicted step's field in 1/precision pixels (1, or the packet's
        precision): the still flag, then unless every vector is zero the
        precision flag (only where the packet allows finer than whole pixels)
        and the vectors."""
        if precision not in self.vector_models:
            raise ValueError(f"this packet codes vectors in 1/{self.precision} or whole pixels, not 1/{precision}")
        still = not field.any()
        self._put(self.still_model, np.array([int(still)]))
        if still:
            self.check(field)
        else:
            if self.precision > 1:
                self._put(self.fine_model, np.array([int(precision > 1)]))
            self.field(field, precision, self._last_at(precision))
        self.last_field = (np.asarray(field, np.int32), precision if not still else 1)

    def overlap(self, overlapped: bool) -> None:
        """v13: after a field whose vectors are not all equal, whether its prediction
        overlaps the blocks' (the caller knows when it is coded)."""
        self._put(self.overlap_model, np.array([int(overlapped)]))
        self.check(np.array([int(overlapped)]))

    def tile_map(self, mask: np.ndarray) -> None:
        """A predicted step's skipped tiles (ty, tx) bool: a flag, then a bit per tile if any."""
        self._put(self.tiles_model, np.array([int(mask.any())]))
        if mask.any() and self.contexts:  # v10: row by row, each bit by its context
            for r in range(mask.shape[0]):
                ctx, bits = self._map_contexts(mask, r), mask[r].astype(np.int64)
                self.enc.encode(bits, self.map_models.tables(ctx))
                self.map_models.update(ctx, bits)
        elif mask.any():
            self._put(self.tile_model, mask.reshape(-1).astype(np.int64))
        self.check(mask.astype(np.int16))
        self.last_mask = mask

    def weights(self, weights: np.ndarray) -> None:
        for row in weights:
            self._put(self.weight_model, row)
        self.check(weights)

    def next_packet(self, enc: RangeEncoder) -> None:
        """Format v15: the next packet of the intra period goes on with these models
        and the last step's field and map, into its own range encoder and CRC."""
        self.enc, self.crc = enc, 0

    def finish(self) -> bytes:
        return self.enc.finish()


class SideReader(SideInfo):
    def __init__(self, data: bytes | RangeDecoder, precision: int = 1, shaped: bool = False,
                 contexts: bool = False) -> None:
        """data: the section's bytes, or a range decoder shared with other sections."""
        super().__init__(precision, shaped, contexts)
        self.dec = data if isinstance(data, RangeDecoder) else RangeDecoder(data)

    def next_packet(self, dec: RangeDecoder) -> None:
        """SideWriter.next_packet's reader."""
        self.dec, self.crc = dec, 0

    def _get(self, model: AdaptiveModel, count: int) -> np.ndarray:
        symbols = self.dec.decode(model.table(count))
        model.update(symbols)
        return symbols

    def mode(self) -> int:
        mode = int(self._get(self.mode_model, 1)[0])
        self.check(np.array([mode]))
        return mode

    def field(self, by: int, bx: int, precision: int = 1, last: np.ndarray | None = None) -> np.ndarray:
        limit = MAX_VECTOR * precision
        field = np.zeros((by, bx, 2), np.int32)
        for r in range(by):
            res = self._get(self.vector_models[precision], 2 * bx).reshape(bx, 2).astype(np.int32) - 2 * limit
            if last is not None:  # v10: each vector's prediction needs its left neighbour's value
                field[r] = _unpredict_row(res, field[r - 1] if r else last[r], last[r], limit)
                continue
            if r == 0:
                field[0] = np.cumsum(res, axis=0)
            else:
                field[r] = _predict_row(field[r - 1]) + res
            # a damaged stream could wander off; a valid one never needs this clip
            field[r] = np.clip(field[r], -limit, limit)
        self.check(field)
        return field

    def step_field(self, by: int, bx: int) -> tuple[np.ndarray, int]:
        """The field SideWriter.step_field wrote -> (field, its precision)."""
        if self._get(self.still_model, 1)[0]:
            field = np.zeros((by, bx, 2), np.int32)
            self.check(field)
            self.last_field = (field, 1)
            return field, 1
        fine = self.precision > 1 and bool(self._get(self.fine_model, 1)[0])
        precision = self.precision if fine else 1
        field = self.field(by, bx, precision, self._last_at(precision))
        self.last_field = (field, precision)
        return field, precision

    def overlap(self) -> bool:
        """The bit SideWriter.overlap wrote."""
        overlapped = int(self._get(self.overlap_model, 1)[0])
        self.check(np.array([overlapped]))
        return bool(overlapped)

    def tile_map(self, ty: int, tx: int) -> np.ndarray:
        """The mask SideWriter.tile_map wrote, (ty, tx) bool."""
        mask = np.zeros((ty, tx), bool)
        if self._get(self.tiles_model, 1)[0]:
            if self.contexts:  # v10: row by row, each bit by its context
                for r in range(ty):
                    ctx = self._map_contexts(mask, r)
                    bits = self.dec.decode(self.map_models.tables(ctx))
                    self.map_models.update(ctx, bits)
                    mask[r] = bits.astype(bool)
            else:
                mask = self._get(self.tile_model, ty * tx).reshape(ty, tx).astype(bool)
        self.check(mask.astype(np.int16))
        self.last_mask = mask
        return mask

    def weights(self, by: int, bx: int) -> np.ndarray:
        w = np.stack([self._get(self.weight_model, bx) for _ in range(by)]).astype(np.int32)
        self.check(w)
        return w
