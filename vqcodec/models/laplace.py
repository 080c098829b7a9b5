"""The fast prior's output distribution: "as before", else a discretized Laplace.

For each token the prior predicts three things: a flag logit f, a mean mu
(in symbols, zero-centred) and a log-scale l. The token is coded in two
steps:

1. a flag: is the token equal to its base (the previous latent frame's token
   at the same place, or the zero symbol where there is none)? Its
   probability sigmoid(f) is quantized to one of FLAGS binary tables,
   k = clamp(round(4 f) + FLAGS / 2, 0, FLAGS - 1). On video most tokens
   repeat (a still background, an unchanged channel): a single Laplace cannot
   put most of its mass on one symbol and still spread the rest, the flag can.
2. if not: the residual r = symbol - round(mu), with one of SCALES fixed
   tables, as CompressAI's GaussianConditional does, picked by

    j = clamp(round((l - LOG_MIN) / LOG_STEP), 0, SCALES - 1),
    scale_j = exp(LOG_MIN + j * LOG_STEP),      0.04 .. 64 symbols,

and P(r) = F(r + 1/2) - F(r - 1/2) under a zero-mean Laplace of scale_j. So
no table is built per symbol: coding/laplace_tables.py builds the SCALES
integer tables once, in decimal arithmetic, the same on every machine.

Training (FastPrior.training_loss) uses `bits` below with the same rounding
of f, mu and the scale (straight-through), so it optimises the code length
the coder will produce.
"""
from __future__ import annotations

import decimal
import math

import numpy as np
import torch
import torch.nn.functional as F

SCALES = 64
_DEC = decimal.Context(prec=30, rounding=decimal.ROUND_HALF_EVEN)
LOG_MIN_DEC = _DEC.ln(decimal.Decimal("0.04"))
LOG_STEP_DEC = _DEC.divide(_DEC.ln(decimal.Decimal(64)) - LOG_MIN_DEC, decimal.Decimal(SCALES - 1))
# float32 constants of the index computation (float(Decimal) is correctly rounded)
LOG_MIN = float(np.float32(float(LOG_MIN_DEC)))
INV_LOG_STEP = float(np.float32(float(1 / LOG_STEP_DEC)))
LOG_STEP = float(LOG_STEP_DEC)
MIN_PROB = 2.0 ** -20  # training's floor (the coder's is 2^-24 a symbol)
FLAGS = 64  # flag tables: P(token = base) = sigmoid((k - FLAGS / 2) / FLAG_STEPS)
FLAG_STEPS = 4


def scale_index(l: torch.Tensor) -> torch.Tensor:
    """log-scales (float32) -> table indices 0..SCALES-1 (float32 integers):
    one subtract, one multiply, a round, a clamp; the same on every machine."""
    return torch.clamp(torch.round((l - LOG_MIN) * INV_LOG_STEP), 0, SCALES - 1)


def flag_index(f: torch.Tensor) -> torch.Tensor:
    """flag logits (float32) -> flag table indices 0..FLAGS-1 (float32 integers)."""
    return torch.clamp(torch.round(f * FLAG_STEPS) + FLAGS // 2, 0, FLAGS - 1)


def flag_logit(k: int) -> decimal.Decimal:
    return decimal.Decimal(k - FLAGS // 2) / FLAG_STEPS


def scale_value(j: int) -> decimal.Decimal:
    """scale_j in decimal, for the integer tables."""
    return _DEC.exp(LOG_MIN_DEC + j * LOG_STEP_DEC)


def _ste(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + (y - x).detach()


def bits(v: torch.Tensor, base: torch.Tensor, f: torch.Tensor, mu: torch.Tensor, l: torch.Tensor,
         half: int) -> torch.Tensor:
    """Code length in bits of symbols v (zero-centred integers) with their
    bases (zero-centred), under the quantized flag, rounded mean and quantized
    scale; differentiable in f, mu and l (straight-through)."""
    same = v == base
    flag = flag_bits(same, f)
    return flag + torch.where(same, torch.zeros_like(flag), laplace_bits(v, mu, l, half))


def flag_bits(same: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Code length in bits of the flags `same` (token equals its base) under the
    quantized flag logits f; differentiable in f (straight-through)."""
    k = torch.clamp(_ste(f * FLAG_STEPS, torch.round(f * FLAG_STEPS)), -(FLAGS // 2), FLAGS // 2 - 1)
    logit = k / FLAG_STEPS
    return torch.where(same, F.logsigmoid(logit), F.logsigmoid(-logit)) / -math.log(2)


def laplace_bits(v: torch.Tensor, mu: torch.Tensor, l: torch.Tensor, half: int) -> torch.Tensor:
    """Code length in bits of v under the rounded mean and quantized scale alone."""
    m = torch.clamp(_ste(mu, torch.round(mu)), -half, half - 1)
    j = torch.clamp(_ste((l - LOG_MIN) * INV_LOG_STEP, torch.round((l - LOG_MIN) * INV_LOG_STEP)), 0, SCALES - 1)
    s = torch.exp(LOG_MIN + j * LOG_STEP)
    r = (v - m).abs()
    p0 = -torch.expm1(-0.5 / s)  # P(r = 0) = 1 - e^(-1/(2s))
    pr = 0.5 * torch.exp(-(r - 0.5) / s) * -torch.expm1(-1.0 / s)  # P(|r| = k) one side, k >= 1
    p = torch.where(r < 0.5, p0, pr)
    return -torch.log2(p.clamp_min(MIN_PROB))

