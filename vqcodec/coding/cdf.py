"""Logits -> integer frequency tables: the ONE place where floats become ints.

Everything after this module is integer arithmetic, so an encoder and a
decoder that feed it the same logits code with the same tables on any machine.

Recipe (all steps after the first are exact integer operations):
  1. q = round((logit - max_logit) * LOG2_STEPS / ln 2), clamped to
     [-MAX_DEPTH, 0]: the log2-probability relative to the most likely symbol,
     in 1/LOG2_STEPS bit steps. The subtraction and multiplication are single
     IEEE float32 operations (correctly rounded everywhere).
  2. w = EXP2_TABLE[-q] = round(2^(32 + q/LOG2_STEPS)): a table built once
     with Python's software `decimal` arithmetic (not the platform's libm), so
     the same on every machine.
  3. freq = floor(w * (TOTAL - K) / sum(w)) + 1: every symbol gets at least
     frequency 1 (MIN_FREQ), so nothing is ever uncodable; the rounding
     remainder goes to the most probable symbol (lowest index on ties).
     Frequencies of a row sum to exactly TOTAL = 2^PRECISION.

Precision: PRECISION = 24 bits (constriction's default range-coder precision),
so the smallest probability is 2^-24 and the floor/min-frequency loss is far
below 0.1% of the rate for codebooks up to 4096 symbols. The 1/64-bit log
steps cost about 1e-4 bits per symbol.
"""
from __future__ import annotations

import decimal

import numpy as np

PRECISION = 24
TOTAL = 1 << PRECISION
MIN_FREQ = 1
LOG2_STEPS = 64  # logits are quantized to 1/64 of a bit
MAX_DEPTH = 26 * LOG2_STEPS  # below 2^-26 of the top symbol every weight is MIN_FREQ anyway
_LN2 = np.float32(0.6931471805599453)
_SCALE = np.float32(LOG2_STEPS) / _LN2  # one float32 constant, computed once


def _exp2_table() -> np.ndarray:
    """EXP2_TABLE[i] = round(2^32 * 2^(-i / LOG2_STEPS)) for i in 0..MAX_DEPTH."""
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    two = decimal.Decimal(2)
    step = ctx.power(two, ctx.divide(decimal.Decimal(-1), decimal.Decimal(LOG2_STEPS)))
    out = np.empty(MAX_DEPTH + 1, dtype=np.int64)
    v = decimal.Decimal(1 << 32)
    for i in range(MAX_DEPTH + 1):
        out[i] = int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN, context=ctx))
        v = ctx.multiply(v, step)
    return out


EXP2_TABLE = _exp2_table()


def quantize_logits(logits: np.ndarray) -> np.ndarray:
    """float (M, K) -> int64 (M, K) log2-probability steps in [-MAX_DEPTH, 0]."""
    lg = np.ascontiguousarray(logits, dtype=np.float32)
    rel = (lg - lg.max(axis=1, keepdims=True)) * _SCALE  # float32 ops, correctly rounded
    # clip in float before the cast: casting an out-of-range float to int is
    # platform-defined; a NaN (a broken model) becomes the minimum weight.
    rel = np.nan_to_num(np.clip(rel, -MAX_DEPTH, 0), nan=-MAX_DEPTH)
    return np.rint(rel).astype(np.int64)


def frequencies(logits: np.ndarray) -> np.ndarray:
    """float logits (M, K) -> int64 frequencies (M, K), each >= MIN_FREQ,
    each row summing to exactly TOTAL."""
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"expected logits of shape (M, K>=2), got {logits.shape}")
    M, K = logits.shape
    if K * MIN_FREQ >= TOTAL // 2:
        raise ValueError(f"alphabet of {K} symbols is too large for {PRECISION}-bit precision")
    return _to_total(EXP2_TABLE[-quantize_logits(logits)])  # weights (M, K), each <= 2^32


def _to_total(w: np.ndarray) -> np.ndarray:
    """Step 3: int64 weights (M, K), each in 1..2^32 -> frequencies (M, K), each
    >= MIN_FREQ, rows summing to TOTAL; the remainder goes to the first maximum."""
    M, K = w.shape
    budget = TOTAL - K * MIN_FREQ
    # w * budget < 2^32 * 2^24 = 2^56: fits in int64 exactly
    freq = (w * budget) // w.sum(axis=1, keepdims=True) + MIN_FREQ
    short = TOTAL - freq.sum(axis=1)  # (M,) in [0, K)
    top = np.argmax(w, axis=1)  # first maximum: lowest index on ties
    freq[np.arange(M), top] += short
    return freq


def _log2e_steps() -> int:
    """round(LOG2_STEPS / ln 2 * 2^24): nats -> 1/LOG2_STEPS-bit steps, in fixed point."""
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    v = ctx.multiply(ctx.divide(LOG2_STEPS, ctx.ln(decimal.Decimal(2))), 1 << 24)
    return int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


_LOG2E_STEPS = _log2e_steps()


def steps_from_fixed(logits: np.ndarray, frac: int) -> np.ndarray:
    """int64 logits (M, K) * 2^frac (the integer prior's output) -> int64 (M, K)
    log2-probability steps in [-MAX_DEPTH, 0], as quantize_logits gives for
    floats but with integer operations only (halves round up)."""
    if not 0 <= frac <= 20:
        raise ValueError(f"fixed-point logits need 0..20 fractional bits, got {frac}")
    lg = np.asarray(logits, dtype=np.int64)
    # beyond 20 nats (28.9 bits > MAX_DEPTH) every weight is the minimum: clamp
    # first so the product stays below 2^20 * 2^(frac) * 2^31 < 2^63
    rel = np.minimum(lg.max(axis=1, keepdims=True) - lg, 20 << frac)  # >= 0
    shift = frac + 24
    q = (rel * _LOG2E_STEPS + (1 << (shift - 1))) >> shift
    return -np.minimum(q, MAX_DEPTH)


def frequencies_from_fixed(logits: np.ndarray, frac: int) -> np.ndarray:
    """int64 fixed-point logits (M, K) -> int64 frequencies (M, K): integers in,
    integers out, the tables of format version 4."""
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"expected logits of shape (M, K>=2), got {logits.shape}")
    if logits.shape[1] * MIN_FREQ >= TOTAL // 2:
        raise ValueError(f"alphabet of {logits.shape[1]} symbols is too large for {PRECISION}-bit precision")
    return _to_total(EXP2_TABLE[-steps_from_fixed(logits, frac)])


def ideal_bits(logits: np.ndarray, symbols: np.ndarray) -> float:
    """Sum of -log2 p(symbol) under the float softmax of `logits` (M, K): what
    a perfect coder with the model's own probabilities would spend."""
    lg = np.asarray(logits, dtype=np.float64)
    lg = lg - lg.max(axis=1, keepdims=True)
    logz = np.log(np.exp(lg).sum(axis=1))
    lp = lg[np.arange(lg.shape[0]), symbols] - logz
    return float(-lp.sum() / np.log(2.0))


def coded_bits(freq: np.ndarray, symbols: np.ndarray) -> float:
    """Sum of -log2(freq/TOTAL) of the symbols: the integer model's cost."""
    f = freq[np.arange(freq.shape[0]), symbols].astype(np.float64)
    return float(-(np.log2(f) - PRECISION).sum())


def frequencies_from_counts(counts: np.ndarray) -> np.ndarray:
    """int counts (K,), each in 1..2^32, of an adaptive model -> int64
    frequencies (K,), each >= MIN_FREQ, summing to exactly TOTAL: step 3 above,
    integers in, integers out."""
    c = np.asarray(counts, dtype=np.int64)  # (..., K): each row its own model
    return _to_total(c.reshape(-1, c.shape[-1])).reshape(c.shape)
