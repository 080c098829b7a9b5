"""The fast prior's integer tables: 64 flag tables and 64 discretized Laplace
tables, built once.

Format v5 codes each token in two steps (models/laplace.py): a flag "equals
its base" under flag table k, then, for a token that does not, the residual
r = symbol - m, where the prior (models/fast_prior.py) gives the base, k, the
rounded mean m and a scale index j per symbol. Flag table k holds the
frequencies of (not equal, equal) with P(equal) = sigmoid((k - 32) / 4).
Laplace table j holds the frequencies of r in
-RADIUS..RADIUS (ALPHABET entries) under a zero-mean Laplace of scale_j:

    pmf(0) = 1 - e^(-1/2s),   pmf(+-k) = e^(-(k - 1/2)/s) (1 - e^(-1/s)) / 2,

normalised over the alphabet, then freq = floor(pmf * (TOTAL - ALPHABET)) + 1
with the rounding remainder on r = 0: every residual stays codable and each
row sums to exactly TOTAL = 2^24. The pmf is computed in decimal, so the
tables (and the constriction models made from them) are the same on every
machine; they depend on no weight, only on the scale grid.

Per coding pass all flags are coded first, then the residuals of the tokens
whose flag is 0; each set grouped by table (a stable sort by k, then by j):
one constriction call per table in use, so no per-symbol table is ever
built. The decoder knows every (base, k, m, j) before it decodes the pass,
decodes the flags, then the residuals in the same order, and scatters them
back.
"""
from __future__ import annotations

import decimal
from functools import lru_cache

import constriction
import numpy as np

from ..errors import EntropyCodingError
from ..models import laplace
from .cdf import TOTAL
from .range_coder import RangeDecoder, RangeEncoder

RADIUS = 127  # residuals -127..127: any symbol of a 128-symbol alphabet from any mean
ALPHABET = 2 * RADIUS + 1


def _row(j: int) -> np.ndarray:
    with decimal.localcontext(decimal.Context(prec=30, rounding=decimal.ROUND_HALF_EVEN)):
        s = laplace.scale_value(j)
        e1 = (-1 / s).exp()
        side = (decimal.Decimal("-0.5") / s).exp() * (1 - e1) / 2  # pmf(+-1)
        pmf = [1 - (decimal.Decimal("-0.5") / s).exp()]
        for _ in range(RADIUS):
            pmf.append(side)
            side = side * e1
        total = pmf[0] + 2 * sum(pmf[1:])
        spare = TOTAL - ALPHABET
        half = [int((p / total * spare).to_integral_value(rounding=decimal.ROUND_FLOOR)) + 1 for p in pmf]
    freq = np.array(half[:0:-1] + half, dtype=np.int64)  # r = -RADIUS .. RADIUS
    freq[RADIUS] += TOTAL - int(freq.sum())
    return freq


def _flag_row(k: int) -> np.ndarray:
    with decimal.localcontext(decimal.Context(prec=30, rounding=decimal.ROUND_HALF_EVEN)):
        p = 1 / (1 + (-laplace.flag_logit(k)).exp())  # P(equal)
        equal = int((p * (TOTAL - 2)).to_integral_value(rounding=decimal.ROUND_FLOOR)) + 1
    return np.array([TOTAL - equal, equal], dtype=np.int64)


@lru_cache(maxsize=1)
def flag_frequencies() -> np.ndarray:
    """(FLAGS, 2) int64: (not equal, equal), rows summing to TOTAL."""
    return np.stack([_flag_row(k) for k in range(laplace.FLAGS)])


@lru_cache(maxsize=1)
def frequencies() -> np.ndarray:
    """(SCALES, ALPHABET) int64, rows summing to TOTAL (built once, ~0.1 s)."""
    return np.stack([_row(j) for j in range(laplace.SCALES)])


def _categorical(freq: np.ndarray) -> list:
    # exact dyadic probabilities; constriction quantizes them deterministically
    return [constriction.stream.model.Categorical(f / float(TOTAL), perfect=False) for f in freq]


@lru_cache(maxsize=1)
def _models() -> list:
    return _categorical(frequencies())


@lru_cache(maxsize=1)
def _flag_models() -> list:
    return _categorical(flag_frequencies())


@lru_cache(maxsize=1)
def code_lengths() -> np.ndarray:
    """(SCALES, ALPHABET) float64 bits of each residual (reports and the encoder's RDO only)."""
    return 24.0 - np.log2(frequencies().astype(np.float64))


@lru_cache(maxsize=1)
def flag_lengths() -> np.ndarray:
    """(FLAGS, 2) float64 bits of (not equal, equal)."""
    return 24.0 - np.log2(flag_frequencies().astype(np.float64))


def _runs(index: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """A stable order by table index and its runs [(start, stop, table)].
    Indices below 256 (the 64 flag and scale tables) sort as uint8, which numpy
    radix-sorts: the same stable order, in linear time."""
    if len(index) and 0 <= index.min() and index.max() < 256:
        order = np.argsort(index.astype(np.uint8), kind="stable")
    else:
        order = np.argsort(index, kind="stable")
    js = index[order]
    if not len(js):
        return order, []
    cuts = np.flatnonzero(np.diff(js)) + 1
    starts, stops = np.r_[0, cuts], np.r_[cuts, len(js)]
    return order, list(zip(starts.tolist(), stops.tolist(), js[starts].tolist()))


class LaplaceRows:
    """The tables of one coding pass, (N,) each, position-major like the
    symbols: bases (tokens), flag indices k, means m, scale indices j. Tokens
    are symbols 0..K-1 whose value is symbol - K/2; the residual index is
    symbol - K/2 - m + RADIUS."""

    def __init__(self, bases: np.ndarray, flags: np.ndarray, means: np.ndarray, scales: np.ndarray, K: int):
        self.base, self.k = bases.reshape(-1), flags.reshape(-1)
        self.m, self.j, self.K = means.reshape(-1), scales.reshape(-1), K
        self.shift = RADIUS - K // 2 - self.m  # residual index = symbol + shift
        self.flag_order, self.flag_runs = _runs(self.k)

    def __len__(self) -> int:
        return len(self.m)

    def encode(self, enc: RangeEncoder, symbols: np.ndarray) -> None:
        equal = symbols == self.base
        flags, models = equal[self.flag_order].astype(np.int32), _flag_models()
        for a, b, k in self.flag_runs:
            enc.encode_with(flags[a:b], models[k])
        rest = np.flatnonzero(~equal)
        order, runs = _runs(self.j[rest])
        r, models = (symbols[rest] + self.shift[rest])[order].astype(np.int32), _models()
        for a, b, j in runs:
            enc.encode_with(r[a:b], models[j])

    def decode(self, dec: RangeDecoder) -> np.ndarray:
        flags, models = np.empty(len(self.m), dtype=np.int64), _flag_models()
        for a, b, k in self.flag_runs:
            flags[a:b] = dec.decode_with(models[k], b - a)
        equal = np.empty_like(flags)
        equal[self.flag_order] = flags
        rest = np.flatnonzero(equal == 0)
        order, runs = _runs(self.j[rest])
        r, models = np.empty(len(rest), dtype=np.int64), _models()
        for a, b, j in runs:
            r[a:b] = dec.decode_with(models[j], b - a)
        sym = self.base.copy()
        sym[rest[order]] = r - self.shift[rest[order]]
        if len(rest) and (sym[rest].min() < 0 or sym[rest].max() >= self.K):
            raise EntropyCodingError("payload decodes to a symbol outside the alphabet")
        return sym

    def bits(self, symbols: np.ndarray) -> np.ndarray:
        """symbols (N, c) candidates -> (N, c) code lengths (the encoder's RDO)."""
        equal = symbols == self.base[:, None]
        idx = np.clip(symbols + self.shift[:, None], 0, ALPHABET - 1)
        flag = flag_lengths()[self.k[:, None], equal.astype(np.int64)]
        return flag + np.where(equal, 0.0, code_lengths()[self.j[:, None], idx])

    def ideal_bits(self, symbols: np.ndarray) -> float:
        """The code length of symbols (N,): the sum of symbol_bits."""
        return float(self.symbol_bits(symbols).sum())

    def symbol_bits(self, symbols: np.ndarray) -> np.ndarray:
        """symbols (N,) -> (N,) code lengths: bits() of one candidate each, priced
        without looking up a residual for the tokens that equal their base (most
        of them)."""
        equal = symbols == self.base
        out = flag_lengths()[self.k, equal.astype(np.int64)]  # (N,) float64, a new array
        rest = np.flatnonzero(~equal)
        if len(rest):
            idx = np.clip(symbols[rest] + self.shift[rest], 0, ALPHABET - 1)
            out[rest] += code_lengths()[self.j[rest], idx]
        return out
