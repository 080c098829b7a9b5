"""The prior in integer arithmetic: the probability path of format version 4.

A float transformer cannot promise that two machines compute the same
probabilities: a one-ulp difference in a logit (another BLAS, another GPU,
another summation order) moves the coded tables, and everything after is
noise (benchmarks/prior_float_sensitivity.py measured that on our own prior).
`IntegerPrior` is the same network, converted after training:

- weights: each matrix to 15-bit integers with one power-of-two scale,
  biases, embeddings and LayerNorm offsets to 16 fractional bits (multiplying
  by a power of two and rounding are exact float operations, so the
  conversion itself is the same everywhere);
- activations: int64 fixed point with 16 fractional bits, rescaled per row to
  15 bits before each matrix product (fixed_point.to_operand);
- matrix products: exact (fixed_point.exact_matmul);
- LayerNorm, softmax and GELU: integer algorithms and decimal-built tables
  (fixed_point.layer_norm / softmax / gelu).

It returns logits in fixed point; cdf.frequencies_from_fixed turns them into
tables with integer operations only. Nothing between the token grid and the
range coder depends on float rounding, so a stream encoded on one machine
decodes on any other (tests/test_integer_prior.py swaps the summation engine
and the thread count and checks the integers do not move).

Its forward mirrors Prior.forward line for line; the rate it costs against
the float prior is measured by benchmarks/integer_prior.py.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import fixed_point as fx
from ..models.prior import Block, Prior, copy_logits, group_planes, match_counts

_SCORE_BITS = 20  # precision of the 1/sqrt(head_dim) attention scale


class IntLinear:
    """nn.Linear on values: y = x W^T + b, exact integer product, FRAC bits out."""

    def __init__(self, lin: nn.Linear):
        w, self.e = fx.quantize_tensor(lin.weight)  # (out, in), W ~= w * 2^-e
        self.wt = w.t().contiguous()  # (in, out)
        self.b = fx.quantize_value(lin.bias)  # (out,)

    def to(self, device) -> IntLinear:
        self.wt, self.b = self.wt.to(device), self.b.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        a, s = fx.to_operand(x, (-1,))  # (..., in) 15-bit operand, (..., 1) shift
        acc = fx.exact_matmul(a, self.wt)  # (..., out) = sum a * w, value * 2^(FRAC - s + e)
        return fx.round_shift(acc, self.e - s) + self.b


class IntLayerNorm:
    def __init__(self, ln: nn.LayerNorm):
        self.g, self.ge = fx.quantize_tensor(ln.weight)
        self.b = fx.quantize_value(ln.bias)
        self.eps = float(ln.eps)

    def to(self, device) -> IntLayerNorm:
        self.g, self.b = self.g.to(device), self.b.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return fx.layer_norm(x, self.g, self.ge, self.b, self.eps)


class IntBlock:
    """prior.Block in integers: pre-norm attention and MLP, residual in values."""

    def __init__(self, blk: Block):
        self.heads = blk.heads
        self.ln1, self.ln2 = IntLayerNorm(blk.ln1), IntLayerNorm(blk.ln2)
        self.qkv, self.proj = IntLinear(blk.qkv), IntLinear(blk.proj)
        self.fc1, self.fc2 = IntLinear(blk.fc1), IntLinear(blk.fc2)
        hd = blk.qkv.in_features // blk.heads
        # round(2^20 / sqrt(hd)), exactly: isqrt of 2^40 / hd would floor, so use decimal
        self.scale = fx.fixed_constant(fx._DEC.divide(1, fx._DEC.sqrt(fx.decimal.Decimal(hd))), _SCORE_BITS)

    def to(self, device) -> IntBlock:
        for part in (self.ln1, self.ln2, self.qkv, self.proj, self.fc1, self.fc2):
            part.to(device)
        return self

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        B, S, C = x.shape
        hd = C // self.heads
        q, k, v = self.qkv(x).view(B, S, 3, self.heads, hd).permute(2, 0, 3, 1, 4)  # (B, H, S, hd) each
        qa, sq = fx.to_operand(q, (-1,))  # (B, H, S, hd), (B, H, S, 1): a shift per query
        ka, sk = fx.to_operand(k, (-2, -1))  # (B, H, S, hd), (B, H, 1, 1): one for all keys
        acc = fx.exact_matmul(qa, ka.transpose(-1, -2))  # (B, H, S, S), <= 2^30 * hd
        # score = q.k / sqrt(hd) = acc * 2^(sq + sk - 2 FRAC) * scale * 2^-20; one scale per
        # row, so the softmax's depth below the row maximum comes straight from acc, in
        # 1/EXP_STEPS nat: rel * scale * 2^(sq + sk - 2 FRAC - 20 + EXP_SHIFT)
        rel = (acc.amax(dim=-1, keepdim=True) - acc) * self.scale  # >= 0, <= 2^36 * 2^18
        p = fx.softmax_depths(fx.round_shift(rel, 2 * fx.FRAC + _SCORE_BITS - fx.EXP_SHIFT - sq - sk))
        va, sv = fx.to_operand(v, (-2, -1))  # one shift per (batch, head): the product sums over positions
        y = fx.round_shift(fx.exact_matmul(p, va), fx.PROB_BITS - sv)  # (B, H, S, hd) values
        return y.transpose(1, 2).reshape(B, S, C)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.proj(self.attention(self.ln1(x)))
        return x + self.fc2(fx.gelu(self.fc1(self.ln2(x))))


class IntegerPrior:
    """Prior converted to integers; `forward` has Prior.forward's inputs and returns
    int64 logits with fx.FRAC fractional bits."""

    def __init__(self, prior: Prior):
        self.levels, self.K, self.frac = prior.levels, prior.K, fx.FRAC
        self.planes, self.heads = prior.planes, prior.heads
        cur_emb = fx.quantize_value(prior.cur_emb.weight)  # (levels * V, d)
        prev_emb = fx.quantize_value(prior.prev_emb.weight)
        if max(int(cur_emb.abs().max()), int(prev_emb.abs().max())) >= 1 << 40:
            raise ValueError("prior embeddings too large for the integer prior")
        self.emb_table = torch.cat([cur_emb, prev_emb]).to(torch.float64)  # (2 * levels * V, d), integers
        self.prev_base = cur_emb.shape[0]  # prev tokens index the second half
        self.pos_emb = fx.quantize_value(prior.pos_emb)  # (S, d)
        self.group_emb = fx.quantize_value(prior.group_emb.weight)  # (2 * levels * kinds, d)
        self.blocks = [IntBlock(b) for b in prior.blocks]
        self.ln_f = IntLayerNorm(prior.ln_f)
        self.head_w, self.head_e = fx.quantize_tensor(prior.head_w)  # (heads, per * K, d)
        self.head_b = fx.quantize_value(prior.head_b)  # (heads, per * K)
        self.level_offset = prior.level_offset.detach().cpu()  # (1, levels, 1)
        self.copy_radius, self.match_context, self.per = prior.copy_radius, prior.match_context, prior.per
        if self.copy_radius:
            self.copy_w, self.copy_e = fx.quantize_tensor(prior.copy_w)  # (heads, per * n_off, d)
            self.copy_b = fx.quantize_value(prior.copy_b)  # (heads, per * n_off)
        if self.match_context:
            self.same_emb = fx.quantize_value(prior.same_emb.weight)  # (planes + 1, d)
            self.diff_emb = fx.quantize_value(prior.diff_emb.weight)
        self.device = torch.device("cpu")

    def to(self, device) -> IntegerPrior:
        device = torch.device(device)
        names = ["emb_table", "pos_emb", "group_emb", "head_w", "head_b", "level_offset"]
        names += ["copy_w", "copy_b"] * bool(self.copy_radius) + ["same_emb", "diff_emb"] * self.match_context
        for name in names:
            setattr(self, name, getattr(self, name).to(device))
        for part in (*self.blocks, self.ln_f):
            part.to(device)
        self.device = device
        return self

    @property
    def mask_index(self) -> int:
        return self.K

    @torch.inference_mode()
    def __call__(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """cur, prev: (B, planes, S) int64 with MASK where unknown; group: (B,) as
        Prior.forward's. Returns int64 logits (B, S, per * K) * 2^FRAC of its head."""
        B, N, S = cur.shape
        # one table row per level summed per position: float64 holds these integer
        # sums (N rows below 2^40 each) exactly, in any order
        idx = torch.cat([cur, prev + self.prev_base], 1) + self.level_offset.repeat(1, 2, 1)  # (B, 2N, S)
        h = F.embedding_bag(idx.transpose(1, 2).reshape(B * S, 2 * N), self.emb_table, mode="sum")
        h = h.to(torch.int64).view(B, S, -1)  # (B, S, d)
        h = h + self.pos_emb[None] + self.group_emb[group][:, None, :]
        if self.match_context:
            same, diff = match_counts(cur, prev, self.K)  # (B, S) each
            h = h + self.same_emb[same] + self.diff_emb[diff]
        for blk in self.blocks:
            h = blk(h)
        a, s = fx.to_operand(self.ln_f(h), (-1,))  # (B, S, d), (B, S, 1)
        head = torch.div(group, 2, rounding_mode="floor") % self.heads
        acc = fx.exact_matmul(a, self.head_w[head].transpose(1, 2))  # (B, S, per * K)
        logits = fx.round_shift(acc, self.head_e - s) + self.head_b[head][:, None, :]
        if not self.copy_radius:
            return logits
        acc = fx.exact_matmul(a, self.copy_w[head].transpose(1, 2))  # (B, S, per * n_off)
        cw = fx.round_shift(acc, self.copy_e - s) + self.copy_b[head][:, None, :]
        prev_t = group_planes(prev, group, self.levels, self.per)  # (B, per, S)
        return logits + copy_logits(cw, prev_t, self.K, self.copy_radius)
