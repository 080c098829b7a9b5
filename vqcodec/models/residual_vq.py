"""Residual vector quantization with EMA codebooks, dead-code restart and
quantizer dropout (SoundStream / EnCodec style).

Level l quantizes what levels 0..l-1 left over, so a stream that keeps only
the first L levels is a coarser but valid reconstruction: one model, many
rates. Training samples L per clip ("quantizer dropout") so every prefix is
trained to decode well.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import QuantizerConfig


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # (B, D, T, H, W), straight-through in training
    indices: torch.Tensor  # (B, N, T, H, W) int64, all N levels
    commit_loss: torch.Tensor  # scalar
    perplexity: torch.Tensor  # (N,) codebook perplexity per level in this batch
    dead_codes: int  # codes restarted in this step (all levels)
    rate_bits: torch.Tensor | None = None  # (B,) training rate estimate (scalar quantizer only)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


@torch.no_grad()
def _random_rows(x: torch.Tensor, n: int) -> torch.Tensor:
    """n random rows of x (M, D) -> (n, D). Under torch.distributed every rank
    gets rank 0's rows, so codebooks seeded or restarted from them stay equal."""
    rows = x[torch.randint(0, x.shape[0], (n,), device=x.device)].contiguous()
    if _distributed():
        torch.distributed.broadcast(rows, 0)
    return rows


class EMACodebook(nn.Module):
    """One codebook (K, D) updated by exponential moving averages of the
    vectors assigned to each code, not by gradients."""

    def __init__(self, size: int, dim: int, decay: float, dead_threshold: float):
        super().__init__()
        self.size, self.dim, self.decay, self.dead_threshold = size, dim, decay, dead_threshold
        self.register_buffer("embed", torch.randn(size, dim) * 0.01)
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("embed_avg", self.embed.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """x: (M, D) -> (M,) index of the nearest code (squared L2)."""
        # ||x||^2 is constant per row, so argmin(||e||^2 - 2 x.e) is the nearest code.
        e = self.embed
        dist = (e * e).sum(1)[None, :] - 2.0 * (x @ e.t())
        return dist.argmin(1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.embed)

    @torch.no_grad()
    def seed(self, x: torch.Tensor) -> None:
        """Initialise codes from encoder outputs (random distinct rows), which
        is what stops the codebook collapsing to a handful of codes."""
        rows = _random_rows(x, self.size)
        self.embed.copy_(rows)
        self.embed_avg.copy_(rows)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def update(self, x: torch.Tensor, idx: torch.Tensor) -> int:
        """EMA update from x (M, D) assigned to idx (M,); restart dead codes
        with random vectors from x. Returns the number restarted."""
        onehot = F.one_hot(idx, self.size).type(x.dtype)  # (M, K)
        counts = onehot.sum(0)
        sums = onehot.t() @ x  # (K, D)
        if _distributed():
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        # Laplace smoothing keeps rarely used codes from dividing by ~0.
        size = (self.cluster_size + 1e-5) / (n + self.size * 1e-5) * n
        self.embed.copy_(self.embed_avg / size[:, None])
        dead = self.cluster_size < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            fresh = _random_rows(x, n_dead)
            self.embed[dead] = fresh
            self.embed_avg[dead] = fresh
            self.cluster_size[dead] = 1.0
        return n_dead


class ResidualVQ(nn.Module):
    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        self.cfg = cfg
        self.codebooks = nn.ModuleList(
            EMACodebook(cfg.codebook_size, cfg.dim, cfg.decay, cfg.dead_threshold)
            for _ in range(cfg.codebook_count)
        )

    @property
    def levels(self) -> int:
        return self.cfg.levels

    def _books(self, frame: int) -> list[EMACodebook]:
        """The codebooks latent frame `frame` of a GOP is quantized with: the
        I books, or the P books for a P frame."""
        N = self.levels
        return list(self.codebooks[N:] if self.cfg.frame_kind(frame) else self.codebooks[:N])

    def _spans(self, T: int) -> list[tuple[int, int]]:
        """Latent frames [a, b) quantized one after another: the whole clip at
        once when not predictive, else frame by frame (closed loop). Training,
        encode and decode all walk these spans."""
        return [(f, f + 1) for f in range(T)] if self.cfg.predictive else [(0, T)]

    def forward(self, z: torch.Tensor, levels_per_sample: torch.Tensor | None = None) -> QuantizerOutput:
        """Training/analysis pass. z: (B, D, T, H, W). levels_per_sample: (B,)
        number of levels each clip keeps (quantizer dropout); None keeps all.
        In predictive mode a P frame quantizes z_f minus the previous decoded
        frame, which depends on the levels each clip keeps, as in the codec."""
        B, D, T, H, W = z.shape
        if levels_per_sample is None:
            levels_per_sample = torch.full((B,), self.levels, device=z.device)
        prev = None  # (M', D) previous decoded latent frame (predictive)
        outs, all_idx, commits, perps, dead = [], [], [], [], 0
        for a, b in self._spans(T):
            t = b - a
            flat = z[:, :, a:b].permute(0, 2, 3, 4, 1).reshape(-1, D)  # (M, D), M = B*t*H*W
            keep = levels_per_sample.repeat_interleave(t * H * W)  # (M,)
            residual = flat.detach() if prev is None else flat.detach() - prev
            quant = torch.zeros_like(flat) if prev is None else prev
            indices = []
            for level, book in enumerate(self._books(a)):
                if self.training and not bool(book.initialized):
                    book.seed(residual)
                idx = book.nearest(residual)
                q = book.lookup(idx)
                if self.training:
                    dead += book.update(residual, idx)
                used = (keep > level).unsqueeze(1).type(flat.dtype)
                quant = quant + q * used
                residual = residual - q
                indices.append(idx)
                probs = torch.bincount(idx, minlength=book.size).float() / idx.numel()
                perps.append(torch.exp(-(probs * torch.log(probs + 1e-10)).sum()))
            prev = quant  # built from codebook buffers only: no graph
            commits.append(F.mse_loss(flat, quant.detach()))
            out = flat + (quant - flat).detach()  # straight-through estimator
            outs.append(out.reshape(B, t, H, W, D).permute(0, 4, 1, 2, 3))
            all_idx.append(torch.stack(indices, 1).reshape(B, t, H, W, self.levels).permute(0, 4, 1, 2, 3))
        commit = torch.stack(commits).mean()
        return QuantizerOutput(torch.cat(outs, 2), torch.cat(all_idx, 2), commit * self.cfg.commitment,
                               torch.stack(perps), dead)

    @torch.no_grad()
    def encode(self, z: torch.Tensor, levels: int) -> torch.Tensor:
        """z: (B, D, T, H, W) -> indices (B, levels, T, H, W) int64; a
        predictive quantizer treats T as one GOP (frame 0 is the I frame)."""
        B, D, T, H, W = z.shape
        out, prev = [], None
        for a, b in self._spans(T):
            t = b - a
            flat = z[:, :, a:b].permute(0, 2, 3, 4, 1).reshape(-1, D)
            residual = flat if prev is None else flat - prev
            rec = torch.zeros_like(flat) if prev is None else prev
            idxs = []
            for book in self._books(a)[:levels]:
                idx = book.nearest(residual)
                q = book.lookup(idx)
                residual, rec = residual - q, rec + q  # rec: what the decoder will hold
                idxs.append(idx)
            prev = rec
            out.append(torch.stack(idxs, 1).reshape(B, t, H, W, levels).permute(0, 4, 1, 2, 3))
        return torch.cat(out, 2)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, quality: int | None = None) -> torch.Tensor:
        """indices (B, L, T, H, W) -> quantized vectors (B, D, T, H, W); the
        quality is L itself (the argument mirrors ScalarQuantizer.decode).
        The sums are elementwise float adds in a fixed order, so the decoded
        latents, and a predictive chain built on them, are the same on every
        machine."""
        frames, prev = [], None
        for a, b in self._spans(indices.shape[2]):
            q = prev  # (B, t, H, W, D) or None
            for l, book in enumerate(self._books(a)[: indices.shape[1]]):
                v = book.lookup(indices[:, l, a:b])
                q = v if q is None else q + v
            prev = q
            frames.append(q)
        return torch.cat(frames, 1).permute(0, 4, 1, 2, 3).contiguous()
