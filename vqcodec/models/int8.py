"""8-bit layers that compute the same numbers on every machine, at float32 speed.

Why this works: a product of two integers of at most 127 in magnitude is at
most 2^14, and a sum of up to 1,040 of them stays below 2^24, where every
integer is a float32. A float32 matrix product of such operands is therefore
exact *whatever* the summation order, blocking, thread count, BLAS, GPU (also
with TF32, whose 11-bit mantissa holds 8-bit integers exactly): the fast
float32 engines give the integers an integer product would. Everything
around the products is single IEEE float32 operations (a multiply, an add, a
division, a round, a clamp), each correctly rounded, so the same everywhere
too, as long as no two of them are fused (no addcmul, no torch.compile): that
is why the exact paths below spell every operation out.

Each layer has two methods, one per job:

    forward(x)  training: float32 with fake quantization (straight-through
                rounding), so the network learns the 8-bit arithmetic it is
                coded with;
    exact(x)    coding: the operands rounded to 8-bit integers (weights per
                output row, activations per input row, scale = max |row| / 127),
                an exact product, then (acc * row_scale) * weight_scale + bias.

The entropy model (fast_prior.py) is built from these; its probabilities are
then a deterministic function of the tokens (tests/test_int8.py swaps thread
counts, batch splits and the product engine and checks that no bit moves).
"""
from __future__ import annotations

import decimal
import math

import torch
import torch.nn as nn

QMAX = 127  # 8-bit operands: |q| <= 127
MAX_TERMS = (1 << 24) // (QMAX * QMAX)  # longest exact reduction (1,040 terms)
SOFTMAX_STEPS = 32  # attention depth below the row's maximum in 1/32 nat ...
SOFTMAX_DEPTHS = 256  # ... down to 8 nat; beyond, the weight is 0
SOFTMAX_ONE = 255  # the weight of the row's maximum


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def row_scale(x: torch.Tensor, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """max |x| / 127 over `dim` (kept), 1 where a row is all zero (so q = 0)."""
    m = x.detach().abs().amax(dim=dim, keepdim=True)
    return torch.where(m > 0, m / QMAX, torch.ones_like(m))


def quantize(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x / scale rounded to integers in [-127, 127] (float32 holding integers).
    With scale = row_scale(x) no clamp is needed: |x| <= max, and the division
    by fl(max / 127) is at most 127 (1 + 2^-22), which rounds to 127."""
    return torch.div(x, scale).round_()


def fake_quantize(x: torch.Tensor, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """Training's view of quantize: the dequantized value, straight-through gradient."""
    s = row_scale(x, dim)
    return torch.clamp(_round_ste(x / s), -QMAX, QMAX) * s


class QLinear(nn.Linear):
    """nn.Linear whose weights and inputs are 8-bit. `in_scale` is a fixed power
    of two applied to inputs that are already small integers (exact_ints)."""

    def __init__(self, n_in: int, n_out: int, bias: bool = True):
        if n_in > MAX_TERMS:
            raise ValueError(f"an exact 8-bit product sums at most {MAX_TERMS} terms, got {n_in}")
        super().__init__(n_in, n_out, bias)
        self._frozen: tuple[torch.Tensor, torch.Tensor] | None = None

    def weight_q(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(integer weights (in, out), scales (out,)): rounded once, deterministic."""
        if self._frozen is None or self._frozen[0].device != self.weight.device:
            w = self.weight.detach().float()
            s = row_scale(w, -1)  # (out, 1)
            self._frozen = (quantize(w, s).t().contiguous(), s[:, 0].contiguous())
        return self._frozen

    def train(self, mode: bool = True):
        self._frozen = None  # weights may change: round again when coding next
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = fake_quantize(self.weight, -1)
        return nn.functional.linear(fake_quantize(x, -1), w, self.bias)

    def forward_ints(self, x: torch.Tensor) -> torch.Tensor:
        """Training, for inputs that are already exact small integers times a
        fixed scale (no rounding of the inputs; see exact_ints)."""
        return nn.functional.linear(x, fake_quantize(self.weight, -1), self.bias)

    def _finish(self, acc: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
        """(acc * scale) * ws + bias, in place on acc (a product's fresh output):
        the same single IEEE operations, without three temporaries."""
        wq, ws = self.weight_q()
        y = acc.mul_(scale).mul_(ws)
        return y.add_(self.bias.detach()) if self.bias is not None else y

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        s = row_scale(x, -1)  # (..., 1)
        return self._finish(quantize(x, s) @ self.weight_q()[0], s)

    def exact_ints(self, x: torch.Tensor, in_scale: float) -> torch.Tensor:
        """x: float32 holding integers in [-127, 127] (unscaled); the layer sees x * in_scale."""
        return self._finish(x @ self.weight_q()[0], in_scale)


def softmax_table() -> torch.Tensor:
    """round(255 * e^(-d / 32)) for d in 0..255, built in decimal (not the
    platform's libm), so every machine has the same table."""
    ctx = decimal.Context(prec=30, rounding=decimal.ROUND_HALF_EVEN)
    step = ctx.exp(decimal.Decimal(-1) / SOFTMAX_STEPS)
    out, v = [], decimal.Decimal(SOFTMAX_ONE)
    for _ in range(SOFTMAX_DEPTHS):
        out.append(int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
        v = ctx.multiply(v, step)
    return torch.tensor(out, dtype=torch.float32)


_SOFTMAX = softmax_table()


class QAttention(nn.Module):
    """Multi-head self-attention (non-causal) over S positions with 8-bit q, k, v
    and 8-bit attention weights from a table: exact like QLinear."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.heads, self.hd = heads, dim // heads
        self.qkv, self.proj = QLinear(dim, 3 * dim), QLinear(dim, dim)
        self.scale = 1.0 / math.sqrt(self.hd)  # a float32 constant (Python's sqrt of a small int is exact-rounded)
        self.register_buffer("table", _SOFTMAX.clone(), persistent=False)

    def _split(self, x: torch.Tensor, lin) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, S, C = x.shape
        q, k, v = lin(x).view(B, S, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)  # (B, H, S, hd) each
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, C = x.shape
        q, k, v = self._split(x, self.qkv)
        score = (fake_quantize(q, -1) @ fake_quantize(k, -1).transpose(-1, -2)) * self.scale  # (B, H, S, S)
        depth = torch.clamp(_round_ste((score.amax(-1, keepdim=True).detach() - score) * SOFTMAX_STEPS),
                            0, SOFTMAX_DEPTHS - 1)
        p = _round_ste(SOFTMAX_ONE * torch.exp(-depth / SOFTMAX_STEPS))  # (B, H, S, S) 0..255
        y = (p @ fake_quantize(v, -2)) / p.sum(-1, keepdim=True)
        return self.proj(y.transpose(1, 2).reshape(B, S, C))

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        B, S, C = x.shape
        q, k, v = self._split(x, self.qkv.exact)
        sq, sk, sv = row_scale(q, -1), row_scale(k, -1), row_scale(v, -2)  # per query, per key, per channel
        acc = quantize(q, sq) @ quantize(k, sk).transpose(-1, -2)  # (B, H, S, S) exact: hd terms
        # score = ((acc * sq) * sk^T) * scale; depth = clamp(round((max - score) * 32), 0, 255).
        # In place on the (B, H, S, S) products (the largest tensors of the context pass),
        # each step the same IEEE operation: max - score is max + (-score) exactly.
        score = acc.mul_(sq).mul_(sk.transpose(-1, -2)).mul_(self.scale)
        top = score.amax(-1, keepdim=True)
        depth = score.neg_().add_(top).mul_(SOFTMAX_STEPS).round_().clamp_(0, SOFTMAX_DEPTHS - 1)
        # p = table[depth]: index_select with 32-bit indices (2.6x the speed of table[depth.long()])
        p = torch.index_select(self.table, 0, depth.reshape(-1).int()).view(depth.shape)  # 0..255
        acc = p @ quantize(v, sv)  # exact: S <= 1,040 / 2.1 terms of 255 * 127 (checked in FastPrior)
        y = acc.div_(p.sum(-1, keepdim=True)).mul_(sv)
        return self.proj.exact(y.transpose(1, 2).reshape(B, S, C))
