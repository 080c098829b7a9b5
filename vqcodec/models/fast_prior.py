"""The fast entropy model (format v5): one context pass per latent frame, four
small coding passes, a discretized Laplace per symbol, 8-bit exact arithmetic.

Why this shape (the prior of v1-v4, prior.py, ran a 4-layer 128-wide
transformer and a 1,024-way softmax over every position 16 times per latent
frame, about 120k multiply-adds per pixel, 86 % of the codec's time):

1. Context, once per latent frame. A transformer (`layers` blocks, `dim`
   wide, attention within tiles of tile x tile positions) reads the previous
   latent frame's tokens (an embedding per channel and symbol, summed per
   position), the position in the tile and the quality:
       prev (C, h, w) -> ctx (dim, h, w).
2. Coding passes, `2 x len(channel_split)`: the channels are split into
   uneven groups (the linear path orders them by energy: the first carry most),
   each coded in two checkerboard halves. A pass runs a small MLP only at the
   positions it codes (P = h*w/2), on
       ctx (dim) + [cur (C), nbr (C), prev (C)] symbol values,
   where cur holds the channels already decoded at the position, nbr the
   rounded mean of the 4 neighbours' decoded values (the first half of the
   group is known when the second is coded) and prev the previous frame's.
   It outputs per channel of its group (f, a, b, d, l): the logit f of "the
   token equals its base" (the previous frame's token there, or zero), and
   for the other tokens a discretized Laplace (laplace.py) of mean
       mu = a * prev + b * nbr + d
   and log-scale l. The coder quantizes f, rounds mu and picks precomputed
   integer tables by f and l: no table is built per symbol.
3. Every matrix product is 8-bit x 8-bit (int8.py): exact in float32 whatever
   the machine, so the tables are identical on every CPU, GPU, BLAS and thread
   count, at float32 speed.

Cost (benchmarks/prior_macs.py counts it from the config): about 1.7k
multiply-adds per pixel at the shipped size, against about 120k before.
The encoder and decoder run the same passes in the same order
(coding/fast_schedule.py); training (`training_loss`) computes all passes at
once from the true tokens, with the coder's rounding (straight-through).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import PriorConfig, QuantizerConfig
from . import laplace
from .int8 import QAttention, QLinear, QMAX
from .prior import checkerboard, from_tiles, to_tiles

SYM_SCALE = 1.0 / 16  # symbol values (integers, |v| <= 64) enter the passes as v / 16
EMB_BITS = 12  # embeddings are multiples of 2^-12 (sums of 64 are exact in float32)
_EMB_MAX = (1 << 15) - 1


class ContextBlock(nn.Module):
    """Attention and a ReLU MLP, residual, no normalization (per-row 8-bit
    scaling already makes every product scale-free)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.attn = QAttention(dim, heads)
        self.fc1, self.fc2 = QLinear(dim, mlp_ratio * dim), QLinear(mlp_ratio * dim, dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, S, dim)
        h = h + self.attn(h)
        return h + self.fc2(F.relu(self.fc1(h)))

    def exact(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attn.exact(h)
        return h + self.fc2.exact(torch.relu(self.fc1.exact(h)))


class PassNet(nn.Module):
    """One coding pass: (ctx (N, dim), symbols (N, 3C)) -> (N, 5 * G) = f, a, b, d, l per channel."""

    def __init__(self, dim: int, planes: int, out_planes: int, hidden: int):
        super().__init__()
        self.ctx, self.sym = QLinear(dim, hidden, bias=False), QLinear(3 * planes, hidden)
        self.fc2, self.head = QLinear(hidden, hidden), QLinear(hidden, 5 * out_planes)
        with torch.no_grad():  # start as "even odds of a repeat, mean = half the previous symbol, scale 1"
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            self.head.bias[out_planes:2 * out_planes] = 0.5

    def forward(self, ctx: torch.Tensor, sym: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.ctx(ctx) + self.sym.forward_ints(sym * SYM_SCALE))
        return self.head(F.relu(self.fc2(h)))

    def exact(self, ctx: torch.Tensor, sym: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.ctx.exact(ctx) + self.sym.exact_ints(sym, SYM_SCALE))
        return self.head.exact(torch.relu(self.fc2.exact(h)))


def channel_groups(split: tuple[int, ...], planes: int) -> list[tuple[int, int]]:
    """(first, end) channel ranges of the coding groups; an empty split is
    (planes / 4, the rest)."""
    sizes = list(split) or [planes // 4, planes - planes // 4]
    if sum(sizes) != planes or min(sizes) < 1:
        raise ValueError(f"channel_split {tuple(split)} must be positive sizes summing to {planes}")
    bounds, start = [], 0
    for n in sizes:
        bounds.append((start, start + n))
        start += n
    return bounds


class FastPrior(nn.Module):
    def __init__(self, cfg: PriorConfig, qcfg: QuantizerConfig):
        super().__init__()
        if not qcfg.scalar:
            raise ValueError("the fast prior codes scalar-quantized tokens (quantizer.scalar_steps)")
        self.cfg, self.qcfg, self.K, self.half = cfg, qcfg, qcfg.codebook_size, qcfg.codebook_size // 2
        if self.half > QMAX // 2 + 1:
            raise ValueError(f"the fast prior codes at most {2 * (QMAX // 2 + 1)} symbols per channel")
        S = cfg.tile * cfg.tile
        if S * 255 * QMAX >= 1 << 24:  # attention sums S products of 8-bit weights and values
            raise ValueError(f"tile {cfg.tile} is too large for exact 8-bit attention")
        self.planes = C = qcfg.planes
        self.groups = channel_groups(cfg.channel_split, C)
        d = cfg.dim
        self.prev_emb = nn.Embedding(C * (self.K + 1), d)  # per channel: K symbols + MASK
        nn.init.normal_(self.prev_emb.weight, std=0.02)
        self.quality_emb = nn.Embedding(qcfg.qualities, d)
        self.pos_emb = nn.Parameter(torch.randn(S, d) * 0.02)
        self.blocks = nn.ModuleList(ContextBlock(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.passes = nn.ModuleList(PassNet(d, C, b - a, cfg.pass_hidden) for a, b in self.groups for _ in (0, 1))
        self.register_buffer("offset", (torch.arange(C) * (self.K + 1)).view(1, C, 1), persistent=False)
        self._emb_ints: torch.Tensor | None = None

    @property
    def mask_index(self) -> int:
        return self.K

    def schedule(self) -> list[tuple[int, int, int]]:
        """[(pass index, first channel, end channel, parity)] in coding order."""
        return [(2 * g + p, a, b, p) for g, (a, b) in enumerate(self.groups) for p in (0, 1)]

    def train(self, mode: bool = True):
        self._emb_ints = None
        return super().train(mode)

    # ------------------------------------------------------------ context
    def _embedding(self, exact: bool) -> torch.Tensor:
        w = self.prev_emb.weight
        if not exact:  # training: the coder's 2^-12 grid, straight-through
            q = torch.clamp(w * (1 << EMB_BITS), -_EMB_MAX, _EMB_MAX)
            return (q + (torch.round(q) - q).detach()) / (1 << EMB_BITS)
        if self._emb_ints is None or self._emb_ints.device != w.device:
            self._emb_ints = torch.clamp(torch.round(w.detach() * (1 << EMB_BITS)), -_EMB_MAX, _EMB_MAX)
        return self._emb_ints

    def _context_tiles(self, prev: torch.Tensor, quality: torch.Tensor, exact: bool) -> torch.Tensor:
        """prev (n, C, S) tokens (MASK where absent), quality (n,) 1-based -> (n, S, dim)."""
        n, C, S = prev.shape
        idx = (prev + self.offset).transpose(1, 2).reshape(n * S, C)
        # a sum of C integers below 2^15 is exact in float32 in any order; scaling by 2^-12 is exact
        e = F.embedding_bag(idx, self._embedding(exact), mode="sum").view(n, S, -1)
        if exact:
            e = e * (1.0 / (1 << EMB_BITS))
        h = (e + self.pos_emb) + self.quality_emb(quality - 1)[:, None, :]
        for blk in self.blocks:
            h = blk.exact(h) if exact else blk(h)
        return h

    def context(self, prev: torch.Tensor, quality: int, tile_batch: int | None = None) -> torch.Tensor:
        """Coding: prev (C, h, w) int64 tokens -> ctx (dim, h, w), exact."""
        C, h, w = prev.shape
        tiles = to_tiles(prev, self.cfg.tile, self.K)  # (n, C, S)
        n = tiles.shape[0]
        q = torch.full((n,), quality, dtype=torch.long, device=prev.device)
        step = tile_batch or n
        out = torch.cat([self._context_tiles(tiles[i:i + step], q[i:i + step], True) for i in range(0, n, step)])
        return from_tiles(out.transpose(1, 2), h, w, self.cfg.tile)

    # ------------------------------------------------------------- passes
    def values(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (..., C, h, w) int64 -> zero-centred values float32, 0 where MASK."""
        return torch.where(tokens == self.K, 0, tokens - self.half).float()

    @staticmethod
    def features(cur_v: torch.Tensor, prev_v: torch.Tensor) -> torch.Tensor:
        """cur_v, prev_v (B, C, h, w) values (0 = unknown) -> (B, 3C, h, w):
        [cur, nbr, prev], nbr = floor((sum of the 4 neighbours + 2) / 4), all
        integers (sums of integers below 2^24 and a division by 4 are exact)."""
        p = F.pad(cur_v, (1, 1, 1, 1))
        s = (p[..., :-2, 1:-1] + p[..., 2:, 1:-1]) + (p[..., 1:-1, :-2] + p[..., 1:-1, 2:])
        return torch.cat([cur_v, torch.floor((s + 2) / 4), prev_v], 1)

    def _params(self, out: torch.Tensor, sym: torch.Tensor, a: int, b: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """PassNet output (N, 5G), its symbols (N, 3C) -> (f, mu, l) (N, G) each."""
        G, C = b - a, self.planes
        f, ga, gb, d, l = out.split(G, dim=1)
        mu = ga * sym[:, 2 * C + a:2 * C + b] + gb * sym[:, C + a:C + b] + d  # one IEEE op at a time
        return f, mu, l

    @torch.inference_mode()
    def pass_tables(self, index: int, ctx: torch.Tensor, cur: torch.Tensor, prev_v: torch.Tensor,
                    pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Coding pass `index` at positions pos (P,) (flat): ctx (dim, h, w), cur
        (C, h, w) tokens decoded so far (MASK elsewhere), prev_v (C, h, w)
        values -> (bases (P, G) tokens, flag indices, means in [-half, half),
        scale indices), all (P, G) int64."""
        sym = self.pass_inputs(cur, prev_v, pos)
        return self.pass_rows(index, ctx.reshape(ctx.shape[0], -1)[:, pos].t().contiguous(), sym)

    def pass_inputs(self, cur: torch.Tensor, prev_v: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The symbol inputs of a pass at positions pos (P,): (P, 3C) [cur, nbr, prev]
        values, features() at those positions, each part gathered straight into
        its columns (no (3C, h, w) concatenation first: half the time)."""
        C = self.planes
        cur_v = self.values(cur)  # (C, h, w)
        p = F.pad(cur_v, (1, 1, 1, 1))
        s = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1]) + (p[:, 1:-1, :-2] + p[:, 1:-1, 2:])  # as features() sums
        out = torch.empty(pos.numel(), 3 * C, dtype=cur_v.dtype, device=cur_v.device)
        for i, part in enumerate((cur_v, torch.floor((s + 2) / 4), prev_v)):
            out[:, i * C:(i + 1) * C] = torch.index_select(part.reshape(C, -1), 1, pos).t()
        return out

    @torch.inference_mode()
    def pass_rows(self, index: int, ctx_p: torch.Tensor, sym: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """pass_tables from its inputs, ctx_p (P, dim) and sym (P, 3C). Row by row:
        each output row depends on its input row only (8-bit scaling is per row),
        so rows may be computed in any batches (coding/fast_schedule.py recomputes
        only the rows whose inputs changed)."""
        _, a, b, _ = self.schedule()[index]
        C = self.planes
        f, mu, l = self._params(self.passes[index].exact(ctx_p, sym), sym, a, b)
        base = sym[:, 2 * C + a:2 * C + b] + self.half  # the previous token, the zero symbol where none
        m = torch.clamp(torch.round(mu), -self.half, self.half - 1)
        return base.long(), laplace.flag_index(f).long(), m.long(), laplace.scale_index(l).long()

    # ------------------------------------------------------------ training
    def pass_outputs(self, cur: torch.Tensor, prev: torch.Tensor, quality: torch.Tensor):
        """All passes at once from the true tokens, in coding order, with the
        training arithmetic (straight-through 8-bit rounding): cur, prev (B, C,
        h, w) int64 true tokens (prev MASK for an intra start), quality (B,) ->
        yields (a, b, at, v, base, f, mu, l): the pass's channels a..b-1 at the
        positions `at` ((h, w) bool), and per coded token (N = B x positions, in
        (batch, position) order; columns the channels) its value v, its base
        (the previous frame's value, 0 where none) and the outputs f, mu, l,
        all (N, b - a)."""
        B, C, h, w = cur.shape
        t = self.cfg.tile
        tiles = torch.cat([to_tiles(g, t, self.K) for g in prev])  # (B * n, C, S)
        n = tiles.shape[0] // B
        ctx = self._context_tiles(tiles, quality.repeat_interleave(n), False)  # (B * n, S, dim)
        ctx = torch.stack([from_tiles(c.transpose(1, 2), h, w, t) for c in ctx.view(B, n, *ctx.shape[1:])])
        cur_v, prev_v = self.values(cur), self.values(prev)
        board = checkerboard(h, w, cur.device)  # (h, w) True on parity 1
        chan = torch.arange(C, device=cur.device)[:, None, None]
        for index, a, b, parity in self.schedule():
            at = board == bool(parity)
            known = (chan < a) | ((chan < b) & (chan >= a) & ~board & bool(parity))  # (C, h, w)
            sym = self.features(cur_v * known, prev_v)[:, :, at]  # (B, 3C, P)
            sym = sym.permute(0, 2, 1).reshape(-1, 3 * C)
            ctx_p = ctx[:, :, at].permute(0, 2, 1).reshape(sym.shape[0], -1)
            f, mu, l = self._params(self.passes[index](ctx_p, sym), sym, a, b)
            v = cur_v[:, a:b, at].permute(0, 2, 1).reshape(-1, b - a)
            yield a, b, at, v, sym[:, 2 * C + a:2 * C + b], f, mu, l

    def training_loss(self, cur: torch.Tensor, prev: torch.Tensor, kind: torch.Tensor,
                      quality: torch.Tensor) -> torch.Tensor:
        """cur, prev (B, C, h, w) int64 true tokens (prev MASK for an intra
        start), quality (B,) -> mean bits per token over every pass, as coded."""
        total = torch.zeros((), device=cur.device)
        for _, _, _, v, base, f, mu, l in self.pass_outputs(cur, prev, quality):
            total = total + laplace.bits(v, base, f, mu, l, self.half).sum()
        return total / cur.numel()
