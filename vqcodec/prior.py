"""Transformer prior over the token grid: the entropy model.

Tokens of one latent frame (N residual levels on an h x w grid) are coded in a
fixed schedule of groups, never token by token:

    group g = 2*level + parity,  parity 0 = "black" checkerboard squares,
                                  parity 1 = "white" squares,

so a frame costs 2*L forward passes at quality L, whatever its size. Each pass
sees (a) every token already decoded in this frame (lower levels, and for
parity 1 the black squares of the same level), (b) all tokens of the previous
latent frame at the same positions, and (c) a learned embedding of g. Unknown
or absent tokens are a MASK index (= codebook size). The network is a plain
bidirectional transformer over one tile of tile x tile positions; tiles are
independent, so cost grows linearly with resolution and a frame's tiles run as
one batch.

The encoder runs exactly these passes (same groups, same tile batches) to get
the probabilities it codes; see codec.py.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PriorConfig, QuantizerConfig


def group_id(kind: int, level: int, parity: int, levels: int) -> int:
    """The prior's group index of (frame kind, level, parity); kind 0 = I, 1 = P;
    `levels` is the model's N."""
    return kind * 2 * levels + 2 * level + parity


def schedule(levels: int) -> list[tuple[int, int]]:
    """The coding order for quality `levels`: [(level, parity), ...]."""
    return [(l, p) for l in range(levels) for p in (0, 1)]


def checkerboard(h: int, w: int, device=None) -> torch.Tensor:
    """(h, w) bool, True on parity-1 squares ((y + x) odd)."""
    y = torch.arange(h, device=device)[:, None]
    x = torch.arange(w, device=device)[None, :]
    return ((y + x) % 2).bool()


def to_tiles(grid: torch.Tensor, tile: int, fill: int) -> torch.Tensor:
    """grid (N, h, w) -> tiles (n_th * n_tw, N, tile*tile), padded with `fill`.
    Tile order is row-major over the tile grid."""
    N, h, w = grid.shape
    th, tw = -(-h // tile), -(-w // tile)
    padded = grid.new_full((N, th * tile, tw * tile), fill)
    padded[:, :h, :w] = grid
    t = padded.view(N, th, tile, tw, tile).permute(1, 3, 0, 2, 4)
    return t.reshape(th * tw, N, tile * tile)


def from_tiles(tiles: torch.Tensor, h: int, w: int, tile: int) -> torch.Tensor:
    """Inverse of to_tiles: (n_tiles, N, tile*tile) -> (N, h, w)."""
    n, N, _ = tiles.shape
    th, tw = -(-h // tile), -(-w // tile)
    g = tiles.view(th, tw, N, tile, tile).permute(2, 0, 3, 1, 4)
    return g.reshape(N, th * tile, tw * tile)[:, :h, :w]


class Block(nn.Module):
    """Pre-norm transformer block with plain (non-causal) attention. Written
    out by hand rather than through a fused kernel, so the arithmetic is the
    same on every backend and thread count we test."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, C = x.shape
        hd = C // self.heads
        q, k, v = self.qkv(self.ln1(x)).view(B, S, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        att = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, S, C)  # (B, S, C)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Prior(nn.Module):
    def __init__(self, cfg: PriorConfig, qcfg: QuantizerConfig):
        super().__init__()
        self.cfg, self.levels, self.K = cfg, qcfg.levels, qcfg.codebook_size
        # predictive quantizers code I and P latent frames with different
        # codebooks: groups 0..2N-1 are an I frame's, 2N..4N-1 a P frame's,
        # and each (kind, level) has its own output head.
        self.kinds = qcfg.frame_kinds
        S, d, V = cfg.tile * cfg.tile, cfg.dim, qcfg.codebook_size + 1
        # one table per level for the current and for the previous frame;
        # index K (= MASK) means "not known (yet)".
        self.cur_emb = nn.Embedding(self.levels * V, d)
        self.prev_emb = nn.Embedding(self.levels * V, d)
        self.pos_emb = nn.Parameter(torch.randn(S, d) * 0.02)
        self.group_emb = nn.Embedding(2 * self.levels * self.kinds, d)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(d)
        self.head_w = nn.Parameter(torch.randn(self.kinds * self.levels, self.K, d) * 0.02)
        self.head_b = nn.Parameter(torch.zeros(self.kinds * self.levels, self.K))
        offs = torch.arange(self.levels) * V
        self.register_buffer("level_offset", offs.view(1, -1, 1), persistent=False)

    @property
    def mask_index(self) -> int:
        return self.K

    def forward(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """cur, prev: (B, N, S) int64 with MASK where unknown; group: (B,)
        int64 in [0, 2N * kinds). Returns logits (B, S, K) for head group // 2
        (level (group // 2) % N of frame kind group // 2N)."""
        h = self.cur_emb(cur + self.level_offset).sum(1)  # (B, S, d)
        h = h + self.prev_emb(prev + self.level_offset).sum(1)
        h = h + self.pos_emb[None] + self.group_emb(group)[:, None, :]
        for blk in self.blocks:
            h = blk(h)
        h = self.ln_f(h)
        level = torch.div(group, 2, rounding_mode="floor")
        w, b = self.head_w[level], self.head_b[level]  # (B, K, d), (B, K)
        return torch.bmm(h, w.transpose(1, 2)) + b[:, None, :]

    def training_inputs(
        self, cur: torch.Tensor, prev: torch.Tensor, levels: torch.Tensor, group: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Build the inputs the coder would see at `group` from complete tiles.

        cur, prev: (B, N, S) true tokens (MASK where padded); levels: (B,)
        quality L per sample (levels >= L are absent in both frames); group:
        (B,) in kind * 2N + [0, 2L). Returns (cur_in, prev_in, target_mask (B, S))."""
        B, N, S = cur.shape
        t = self.cfg.tile
        lvl = torch.arange(N, device=cur.device)[None, :, None]  # (1, N, 1)
        l = (torch.div(group, 2, rounding_mode="floor") % N)[:, None, None]
        parity = (group % 2)[:, None, None]
        black = ~checkerboard(t, t, cur.device).view(1, 1, S)  # parity-0 squares
        known = (lvl < l) | ((lvl == l) & (parity == 1) & black)
        cur_in = torch.where(known, cur, torch.full_like(cur, self.K))
        absent = lvl >= levels[:, None, None]
        prev_in = torch.where(absent, torch.full_like(prev, self.K), prev)
        on_parity = torch.where(parity[:, 0] == 1, ~black[:, 0], black[:, 0])  # (B, S)
        lvl_tok = torch.gather(cur, 1, l.expand(B, 1, S))[:, 0]  # (B, S)
        target = on_parity & (lvl_tok != self.K)
        return cur_in, prev_in, target
