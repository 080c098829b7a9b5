"""Exact fixed-point arithmetic for the integer prior (integer_prior.py).

Every function here maps int64 tensors to int64 tensors through operations
whose results are fixed bit for bit by their inputs: integer add, multiply,
shift and floor division, max and sum of integers (exact in any order), and
lookups in tables built with Python's `decimal` module (software arithmetic,
not the platform's libm). So a CPU, a GPU and any thread count agree; this is
the "integer networks" idea of Balle et al. (ICLR 2019), applied to a
transformer in the manner of I-BERT (integer LayerNorm, softmax and GELU).

Number format: a "value" tensor holds round(v * 2^FRAC) for a real v
(FRAC = 16 fractional bits, int64, so |v| up to 2^47 is representable).

Matrix products are the one place a float appears. Operands are first scaled
per row (per block) by a power of two to |x| <= 2^OPERAND_BITS (block
floating point, `to_operand`), so every product is below 2^30 and every
partial sum of a reduction shorter than 2^22 is below 2^52: float64 (53-bit
significand) holds each of them exactly, and the result is the same whatever
the summation order, blocking, FMA use or BLAS (`exact_matmul`).

Rounding is "half up" everywhere (round_shift); that choice is part of the
stream format (version 4): changing any constant or rounding here changes the
coded probabilities, so it needs a format version bump.
"""
from __future__ import annotations

import decimal
import functools
from fractions import Fraction

import numpy as np
import torch

FRAC = 16  # fractional bits of value tensors
OPERAND_BITS = 15  # |matmul operand| <= 2^15
MAX_REDUCTION = 1 << 22  # longest exact reduction: 2^15 * 2^15 * 2^22 < 2^53
EXP_STEPS = 1024  # softmax: e^x looked up in steps of 1/1024 nat
EXP_RANGE = 16  # ... down to e^-16 (below 2^-23 of the row's maximum)
EXP_BITS = 30  # EXP_TABLE[0] = 2^30
PROB_BITS = 15  # attention probabilities are multiples of 2^-15 (matmul operands)
GELU_RANGE = 8  # GELU tabulated on [-8, 8]; x above is x, below is 0
GELU_STEPS = 64  # ... every 1/64 in decimal, ...
GELU_FINE = 4096  # ... then every 1/4096 by linear interpolation in integers
_DEC = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)


# --------------------------------------------------------------- primitives
def round_shift(x: torch.Tensor, k: int | torch.Tensor) -> torch.Tensor:
    """round(x / 2^k), halves rounded up; k < 0 shifts left. x int64; k an int
    or an int64 tensor broadcastable to x with |k| < 62 (usually a per-row
    shift, much smaller than x: the branch on its sign is cheap)."""
    if isinstance(k, int):
        return (x + (1 << (k - 1))) >> k if k > 0 else x << -k
    if bool((k > 0).all()):  # the common case: two passes over x
        return (x + (torch.bitwise_left_shift(torch.ones_like(k), k - 1))) >> k
    right, left = k.clamp(min=0), (-k).clamp(min=0)
    half = torch.bitwise_left_shift(torch.ones_like(right), right) >> 1  # 2^(k-1), or 0 for k <= 0
    return torch.where(k > 0, (x + half) >> right, x << left)


def bit_length(m: torch.Tensor) -> torch.Tensor:
    """int64 m >= 0 -> number of bits of m (0 for 0). frexp of a float64 is exact
    (m < 2^53 converts exactly; above, the correctly rounded conversion is still
    the same on every IEEE machine)."""
    return torch.frexp(m.to(torch.float64)).exponent.to(torch.int64)


def to_operand(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Block floating point: x (int64) -> (x', s) with x' = round_shift(x, s),
    |x'| <= 2^OPERAND_BITS, one shift s >= 0 per block (the max over `dims`,
    kept as size-1 dimensions). x ~= x' * 2^s."""
    lo, hi = torch.aminmax(x, dim=dims[0], keepdim=True) if len(dims) == 1 else \
        (x.amin(dim=dims, keepdim=True), x.amax(dim=dims, keepdim=True))
    m = torch.maximum(hi, -lo)
    s = (bit_length(m) - OPERAND_BITS).clamp(min=0)
    if not bool(s.any()):
        return x, s
    return round_shift(x, s), s


def _matmul_float64(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.matmul(a.to(torch.float64), b.to(torch.float64)).to(torch.int64)


# The engine is swappable so tests can check that another summation (int64
# matmul, reversed order) gives the same integers.
MATMUL_ENGINE = _matmul_float64


def exact_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Integer matrix product a (..., M, K) @ b (..., K, N) -> int64 (..., M, N),
    exact. Both operands must be bounded by 2^OPERAND_BITS: outputs of
    to_operand, quantize_tensor or softmax (not re-checked here: that would
    cost a pass over each operand; check_operand is for tests)."""
    if a.shape[-1] >= MAX_REDUCTION:
        raise ValueError(f"reduction of length {a.shape[-1]} is too long to be exact")
    return MATMUL_ENGINE(a, b)


def check_operand(a: torch.Tensor) -> None:
    if a.numel() and int(a.abs().max()) > 1 << OPERAND_BITS:
        raise ValueError("matmul operand exceeds 2^15: the product would not be exact")


def isqrt(v: torch.Tensor) -> torch.Tensor:
    """floor(sqrt(v)) of int64 0 <= v < 2^62, exactly: a float64 guess (off by at most
    one even where v > 2^53 rounds), then integer corrections."""
    r = torch.sqrt(v.to(torch.float64)).floor().to(torch.int64)
    for _ in range(2):
        r = torch.where(r * r > v, r - 1, r)
    for _ in range(2):
        r = torch.where((r + 1) * (r + 1) <= v, r + 1, r)
    return r


def quantize_tensor(w: torch.Tensor, bits: int = OPERAND_BITS) -> tuple[torch.Tensor, int]:
    """float weights -> (int64 w_q, e) with w ~= w_q * 2^-e and max |w_q| in
    [2^(bits-1), 2^bits]. Multiplying by a power of two and rounding to the
    nearest integer are exact float operations, so this is the same everywhere."""
    w64 = w.detach().to("cpu", torch.float64)
    m = float(w64.abs().max()) if w64.numel() else 0.0
    e = bits - int(np.frexp(m)[1]) if m > 0 else 0  # 2^(bits-1) <= m * 2^e < 2^bits
    return torch.round(w64 * 2.0 ** e).to(torch.int64), e  # round half even, exact


def quantize_value(w: torch.Tensor, frac: int = FRAC) -> torch.Tensor:
    """float -> int64 round(w * 2^frac) (biases, embeddings, LayerNorm offsets)."""
    return torch.round(w.detach().to("cpu", torch.float64) * 2.0 ** frac).to(torch.int64)


def fixed_constant(value: Fraction | decimal.Decimal, bits: int) -> int:
    """round(value * 2^bits) as a Python int, exactly."""
    if isinstance(value, Fraction):
        value = _DEC.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))
    scaled = _DEC.multiply(value, decimal.Decimal(1 << bits))
    return int(scaled.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


# ------------------------------------------------------------------- tables
@functools.cache
def exp_table() -> torch.Tensor:
    """EXP_TABLE[i] = round(2^EXP_BITS * e^(-i / EXP_STEPS)), i in 0..EXP_RANGE*EXP_STEPS."""
    step = _DEC.exp(decimal.Decimal(-1) / decimal.Decimal(EXP_STEPS))
    v, out = decimal.Decimal(1 << EXP_BITS), []
    for _ in range(EXP_RANGE * EXP_STEPS + 1):
        out.append(int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
        v = _DEC.multiply(v, step)
    return torch.tensor(out, dtype=torch.int64)


def _erf(z: decimal.Decimal) -> decimal.Decimal:
    """erf by its Taylor series in 36-digit decimal arithmetic (|z| <= 6 here:
    the largest term is below 10^15, so 20 digits survive the cancellation)."""
    ctx = decimal.Context(prec=36, rounding=decimal.ROUND_HALF_EVEN)
    total, term, n, z2 = decimal.Decimal(0), z, 0, ctx.multiply(z, z)
    tiny = decimal.Decimal("1e-24")
    while True:
        add = ctx.divide(term, 2 * n + 1)
        total = ctx.add(total, add)
        if abs(add) < tiny:
            break
        n += 1
        term = ctx.divide(ctx.multiply(-term, z2), n)
    return _DEC.multiply(total, _two_over_root_pi())


@functools.cache
def _two_over_root_pi() -> decimal.Decimal:
    return _DEC.divide(2, _DEC.sqrt(_pi()))


def _pi() -> decimal.Decimal:
    # Machin: pi = 16 atan(1/5) - 4 atan(1/239)
    def atan_inv(n: int) -> decimal.Decimal:
        x, total, k = _DEC.divide(1, n), decimal.Decimal(0), 0
        power = x
        while power > decimal.Decimal("1e-55"):
            total = _DEC.add(total, _DEC.divide(power if k % 2 == 0 else -power, 2 * k + 1))
            power, k = _DEC.divide(power, n * n), k + 1
        return total
    return _DEC.subtract(_DEC.multiply(16, atan_inv(5)), _DEC.multiply(4, atan_inv(239)))


@functools.cache
def gelu_table() -> torch.Tensor:
    """GELU_TABLE[i] = round(2^FRAC * gelu(x_i)), x_i = -GELU_RANGE + i / GELU_STEPS,
    gelu(x) = x/2 (1 + erf(x / sqrt 2)); one extra entry past the end for interpolation."""
    root2 = _DEC.sqrt(decimal.Decimal(2))
    half = {}  # x * erf(x / sqrt 2) / 2 for x >= 0: even in x, so computed once per |x|
    out = []
    for i in range(2 * GELU_RANGE * GELU_STEPS + 2):
        j = i - GELU_RANGE * GELU_STEPS
        x = _DEC.divide(decimal.Decimal(j), GELU_STEPS)
        if abs(j) not in half:
            half[abs(j)] = _DEC.multiply(_DEC.divide(abs(x), 2), _erf(_DEC.divide(abs(x), root2)))
        g = _DEC.add(_DEC.divide(x, 2), half[abs(j)])  # gelu(x) = x/2 + x erf(x / sqrt 2) / 2
        out.append(int(_DEC.multiply(g, 1 << FRAC).to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    return torch.tensor(out, dtype=torch.int64)


@functools.cache
def _on_device(table, device: torch.device) -> torch.Tensor:
    """A table (exp_table, gelu_fine_table) copied to `device` once, not on every call."""
    return table().to(device)


# ---------------------------------------------------------- nonlinearities
@functools.cache
def gelu_fine_table() -> torch.Tensor:
    """gelu_table linearly interpolated to steps of 1/GELU_FINE (integer
    arithmetic, halves up): 2 * GELU_RANGE * GELU_FINE + 1 entries."""
    coarse, per = gelu_table(), GELU_FINE // GELU_STEPS
    r = torch.arange(per, dtype=torch.int64)  # (per,) position inside a coarse step
    lo, hi = coarse[:-2, None], coarse[1:-1, None]  # (2 R S, 1)
    shift = per.bit_length() - 1
    fine = lo + (((hi - lo) * r + (1 << (shift - 1))) >> shift)  # (2 R S, per)
    return torch.cat([fine.reshape(-1), coarse[-2:-1]])


def gelu(u: torch.Tensor) -> torch.Tensor:
    """Values (FRAC bits) -> GELU values: one lookup at the nearest 1/4096."""
    table = _on_device(gelu_fine_table, u.device)
    span, sub = GELU_RANGE << FRAC, FRAC - (GELU_FINE.bit_length() - 1)
    i = ((u + (span + (1 << (sub - 1)))) >> sub).clamp_(0, table.shape[0] - 1)  # nearest entry
    return torch.where(u >= span, u, table[i])  # beyond the table: gelu(x) = x (above), 0 (below)


def softmax(z: torch.Tensor) -> torch.Tensor:
    """Values (FRAC bits, natural-log units) (..., S) -> probabilities (..., S)
    in units of 2^-PROB_BITS, from the exp table."""
    return softmax_depths(round_shift(z.amax(dim=-1, keepdim=True) - z, FRAC - EXP_SHIFT))


EXP_SHIFT = EXP_STEPS.bit_length() - 1  # log2(EXP_STEPS)


def softmax_depths(depth: torch.Tensor) -> torch.Tensor:
    """int64 depths >= 0 below each row's maximum, in 1/EXP_STEPS nat (..., S) ->
    probabilities (..., S) in units of 2^-PROB_BITS."""
    table = _on_device(exp_table, depth.device)
    e = table[depth.clamp_(max=EXP_RANGE * EXP_STEPS)]  # (..., S), e <= 2^30
    total = e.sum(dim=-1, keepdim=True)  # (..., 1), 2^30 <= total <= S * 2^30
    # one division per row, then a multiply: e * inv <= 2^52, p <= 2^15
    inv = torch.div(torch.full_like(total, 1 << 52), total, rounding_mode="floor")
    shift = 52 - PROB_BITS
    return (e * inv + (1 << (shift - 1))) >> shift


@functools.cache
def _eps_fixed(eps: float, C: int) -> int:
    """eps * C^2 * 2^(2 FRAC): LayerNorm's eps in the units of layer_norm's C^2 * variance
    (decimal arithmetic: computed once per (eps, C), not on every call)."""
    return fixed_constant(Fraction(eps) * C * C, 2 * FRAC)


def layer_norm(x: torch.Tensor, gamma_q: torch.Tensor, gamma_e: int, beta_q: torch.Tensor,
               eps: float) -> torch.Tensor:
    """Values (..., C) -> LayerNorm values (FRAC bits). gamma ~= gamma_q * 2^-gamma_e,
    beta_q = round(beta * 2^FRAC). LayerNorm ignores the scale of its input, so
    each row is first brought to 15 bits; eps follows that shift."""
    C = x.shape[-1]
    if C > 512:  # sum of d^2 below 2^32 * C^3 must stay below 2^63
        raise ValueError("integer LayerNorm supports at most 512 channels")
    x, s = to_operand(x, (-1,))  # (..., C), (..., 1)
    d = C * x - x.sum(dim=-1, keepdim=True)  # C * (x - mean), |d| <= 2^(15+10)
    eps_q = round_shift(torch.full_like(s, _eps_fixed(eps, C)), (2 * s).clamp(max=62))
    r = isqrt(torch.div((d * d).sum(dim=-1, keepdim=True), C, rounding_mode="floor") + eps_q)
    n = torch.div(d << FRAC, r.clamp(min=1), rounding_mode="floor")  # (x - mean) / std, FRAC bits
    return round_shift(n * gamma_q, gamma_e) + beta_q
