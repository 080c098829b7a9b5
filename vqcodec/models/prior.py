"""Transformer prior over the token grid: the entropy model.

Tokens of one latent frame (N residual levels on an h x w grid) are coded in a
fixed schedule of groups, never token by token:

    group g = 2*level + parity,  parity 0 = "black" checkerboard squares,
                                  parity 1 = "white" squares,

so a frame costs 2*L forward passes at quality L, whatever its size. (A
scalar-quantized model has one token plane per latent channel: group g then
covers channels g*C/G .. (g+1)*C/G - 1, all G groups are coded at every
quality, each pass predicts a distribution per channel of its group, and the
quality is part of the group index, since the symbols depend on the step.) Each pass
sees (a) every token already decoded in this frame (lower levels, and for
parity 1 the black squares of the same level), (b) all tokens of the previous
latent frame at the same positions, and (c) a learned embedding of g. Unknown
or absent tokens are a MASK index (= codebook size). The network is a plain
bidirectional transformer over one tile of tile x tile positions; tiles are
independent, so cost grows linearly with resolution and a frame's tiles run as
one batch.

Two optional temporal shortcuts (PriorConfig.copy_radius, .match_context)
exist because the embedding sum hides the previous frame: on a fixed-camera
scene 96 % of a scalar model's symbols repeat the previous latent frame's,
yet P latent frames cost 73 % of the I frame's bits (96 planes summed into
one 128-wide vector cannot say "plane 37 was 65"). The copy head adds, per
target plane, learned logits to the symbols prev-r .. prev+r of that plane's
previous token; the match context embeds how many known planes at each
position agree with the previous frame and how many do not.

The encoder runs exactly these passes (same groups, same tile batches) to get
the probabilities it codes; see codec.py.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import PriorConfig, QuantizerConfig


def group_id(kind: int, level: int, parity: int, levels: int, context: int = 0, kinds: int = 1) -> int:
    """The prior's group index of (quality context, frame kind, level or plane
    group, parity); kind 0 = I, 1 = P; `levels` is the model's plane groups
    (N for RVQ), `kinds` its frame kinds; context is quality - 1 for scalar
    models, 0 for RVQ (whose group ids are kind * 2N + 2 * level + parity)."""
    return ((context * kinds + kind) * levels + level) * 2 + parity


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


def group_planes(tokens: torch.Tensor, group: torch.Tensor, levels: int, per: int) -> torch.Tensor:
    """tokens (B, planes, S), group (B,) -> the `per` planes of each group's level (B, per, S)."""
    B, _, S = tokens.shape
    first = (torch.div(group, 2, rounding_mode="floor") % levels) * per  # (B,)
    rows = first[:, None] + torch.arange(per, device=tokens.device)[None]  # (B, per)
    return torch.gather(tokens, 1, rows[:, :, None].expand(B, per, S))


def match_counts(cur: torch.Tensor, prev: torch.Tensor, mask: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cur, prev (B, planes, S) -> (same, diff) (B, S) int64: at each position,
    the planes known in both frames that agree, and those that differ."""
    known = (cur != mask) & (prev != mask)
    eq = cur == prev
    return (known & eq).sum(1), (known & ~eq).sum(1)


def copy_logits(cw: torch.Tensor, prev_t: torch.Tensor, K: int, radius: int) -> torch.Tensor:
    """Spread the copy head's outputs over the symbols near the previous ones.

    cw (B, S, per * n_off), n_off = 2 * radius + 1, offsets -radius..radius;
    prev_t (B, per, S): the previous frame's tokens of the target planes, K
    (MASK) where absent. Returns (B, S, per * K): cw[.., o] at symbol prev + o,
    zero where prev is MASK or prev + o falls outside 0..K-1. Works on float
    and on int64 (the integer prior): each added value lands on a distinct
    symbol, so the sum is exact in either."""
    B, S, _ = cw.shape
    per, n_off = prev_t.shape[1], 2 * radius + 1
    p = prev_t.transpose(1, 2)[..., None]  # (B, S, per, 1)
    here = p != K
    # prev + o + radius lies in 0 .. K + 2 radius - 1 and differs for each o, so
    # the scatter never collides; symbols outside 0..K-1 land in the margins
    idx = torch.where(here, p, torch.zeros_like(p)) + torch.arange(n_off, device=cw.device)  # (B, S, per, n_off)
    vals = torch.where(here, cw.view(B, S, per, n_off), torch.zeros((), dtype=cw.dtype, device=cw.device))
    out = torch.zeros(B, S, per, K + 2 * radius, dtype=cw.dtype, device=cw.device)
    out.scatter_(-1, idx, vals)
    return out[..., radius:radius + K].reshape(B, S, per * K)


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
        self.cfg, self.K = cfg, qcfg.codebook_size
        # planes: token planes per position (RVQ levels or scalar channels);
        # levels: groups of `per` planes coded together, one head each
        self.planes, self.levels, self.per = qcfg.planes, qcfg.plane_groups, qcfg.planes_per_group
        # predictive quantizers code I and P latent frames with different
        # codebooks: groups 0..2N-1 are an I frame's, 2N..4N-1 a P frame's,
        # and each (kind, level) has its own output head.
        self.qcfg, self.kinds, self.contexts = qcfg, qcfg.frame_kinds, qcfg.quality_contexts
        self.heads = self.kinds * self.levels
        S, d, V = cfg.tile * cfg.tile, cfg.dim, qcfg.codebook_size + 1
        # one table per plane for the current and for the previous frame;
        # index K (= MASK) means "not known (yet)".
        self.cur_emb = nn.Embedding(self.planes * V, d)
        self.prev_emb = nn.Embedding(self.planes * V, d)
        self.pos_emb = nn.Parameter(torch.randn(S, d) * 0.02)
        self.group_emb = nn.Embedding(2 * self.heads * self.contexts, d)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(d)
        self.head_w = nn.Parameter(torch.randn(self.heads, self.per * self.K, d) * 0.02)
        self.head_b = nn.Parameter(torch.zeros(self.heads, self.per * self.K))
        offs = torch.arange(self.planes) * V
        self.register_buffer("level_offset", offs.view(1, -1, 1), persistent=False)
        self.copy_radius, self.match_context = cfg.copy_radius, cfg.match_context
        if cfg.copy_radius:  # per (kind, level) head: per planes x (2r+1) offsets
            n_off = 2 * cfg.copy_radius + 1
            self.copy_w = nn.Parameter(torch.zeros(self.heads, self.per * n_off, d))
            self.copy_b = nn.Parameter(torch.zeros(self.heads, self.per * n_off))
        if cfg.match_context:  # counts 0..planes of agreeing / differing known planes
            self.same_emb = nn.Embedding(self.planes + 1, d)
            self.diff_emb = nn.Embedding(self.planes + 1, d)
            nn.init.zeros_(self.same_emb.weight), nn.init.zeros_(self.diff_emb.weight)
        # both shortcuts start at zero: a prior without them is the same function,
        # so a trained one can be extended and fine-tuned (Trainer._load_weights)

    @property
    def mask_index(self) -> int:
        return self.K

    def group(self, kind: int, level: int, parity: int, quality: int) -> int:
        """group_id for this model; `quality` matters to scalar models only."""
        return group_id(kind, level, parity, self.levels, self.qcfg.quality_context(quality), self.kinds)

    def head_index(self, group: torch.Tensor) -> torch.Tensor:
        """(B,) group ids -> (B,) output heads: (kind, level) without the quality."""
        return torch.div(group, 2, rounding_mode="floor") % self.heads

    def forward(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """cur, prev: (B, planes, S) int64 with MASK where unknown; group: (B,)
        int64 in [0, 2N * kinds * contexts). Returns logits (B, S, per * K) of
        head_index(group): per planes of K symbols each (per = 1 for RVQ)."""
        h = self.cur_emb(cur + self.level_offset).sum(1)  # (B, S, d)
        h = h + self.prev_emb(prev + self.level_offset).sum(1)
        h = h + self.pos_emb[None] + self.group_emb(group)[:, None, :]
        if self.match_context:
            same, diff = match_counts(cur, prev, self.K)
            h = h + self.same_emb(same) + self.diff_emb(diff)
        for blk in self.blocks:
            h = blk(h)
        h = self.ln_f(h)
        head = self.head_index(group)
        w, b = self.head_w[head], self.head_b[head]  # (B, per*K, d), (B, per*K)
        logits = torch.bmm(h, w.transpose(1, 2)) + b[:, None, :]
        if not self.copy_radius:
            return logits
        cw = torch.bmm(h, self.copy_w[head].transpose(1, 2)) + self.copy_b[head][:, None, :]  # (B, S, per*n_off)
        return logits + copy_logits(cw, self.target_tokens(prev, group), self.K, self.copy_radius)

    def training_inputs(
        self, cur: torch.Tensor, prev: torch.Tensor, levels: torch.Tensor, group: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Build the inputs the coder would see at `group` from complete tiles.

        cur, prev: (B, planes, S) true tokens (MASK where padded); levels: (B,)
        plane groups coded per sample (groups >= it are absent in both
        frames); group: (B,) with level (group // 2) % N below it. Returns
        (cur_in, prev_in, target_mask (B, S)); the targets are the group's
        planes, target_tokens(cur, group)."""
        B, _, S = cur.shape
        t = self.cfg.tile
        lvl = (torch.arange(self.planes, device=cur.device) // self.per)[None, :, None]  # (1, planes, 1) group of each plane
        l = (torch.div(group, 2, rounding_mode="floor") % self.levels)[:, None, None]
        parity = (group % 2)[:, None, None]
        black = ~checkerboard(t, t, cur.device).view(1, 1, S)  # parity-0 squares
        known = (lvl < l) | ((lvl == l) & (parity == 1) & black)
        cur_in = torch.where(known, cur, torch.full_like(cur, self.K))
        absent = lvl >= levels[:, None, None]
        prev_in = torch.where(absent, torch.full_like(prev, self.K), prev)
        on_parity = torch.where(parity[:, 0] == 1, ~black[:, 0], black[:, 0])  # (B, S)
        lvl_tok = self.target_tokens(cur, group)[:, 0]  # (B, S) the group's first plane
        target = on_parity & (lvl_tok != self.K)
        return cur_in, prev_in, target

    def training_loss(self, cur: torch.Tensor, prev: torch.Tensor, kind: torch.Tensor,
                      quality: torch.Tensor) -> torch.Tensor:
        """cur, prev (B, planes, h, w) true tokens (prev MASK for an intra start),
        kind (B,) 0 = I / 1 = P, quality (B,) -> mean bits per coded token of one
        random group per tile (teacher-forced: training_inputs)."""
        tiles = [to_tiles(g, self.cfg.tile, self.K) for g in cur]
        n = tiles[0].shape[0]
        cur = torch.cat(tiles)
        prev = torch.cat([to_tiles(g, self.cfg.tile, self.K) for g in prev])
        kind, quality = kind.repeat_interleave(n), quality.repeat_interleave(n)
        B, K = cur.shape[0], self.K
        if self.qcfg.scalar:  # every group is coded; the quality is part of the group id
            levels = torch.full((B,), self.levels, device=cur.device)
        else:  # quantizer dropout: L levels per tile
            levels = torch.randint(1, self.levels + 1, (B,), device=cur.device)
        r = (torch.rand(B, device=cur.device) * 2 * levels).long()  # (level, parity) uniform in [0, 2L)
        group = group_id(kind, r // 2, r % 2, self.levels, self.qcfg.quality_context(quality), self.kinds)
        cur_in, prev_in, target = self.training_inputs(cur, prev, levels, group)
        logits = self(cur_in, prev_in, group).view(B, -1, self.per, K)  # (B, S, per, K)
        truth = self.target_tokens(cur, group).transpose(1, 2)  # (B, S, per)
        return F.cross_entropy(logits[target].reshape(-1, K), truth[target].reshape(-1)) / math.log(2)

    def target_tokens(self, cur: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """cur (B, planes, S), group (B,) -> the tokens the group codes (B, per, S)."""
        return group_planes(cur, group, self.levels, self.per)
