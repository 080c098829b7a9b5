"""Scalar quantization of the latents (FSQ with many levels per channel).

Every channel of z (B, D, T, H, W) is divided by the quality's step, rounded
and clamped to K = codebook_size symbols around zero:

    token = clamp(round(z / step), -K/2, K/2 - 1) + K/2        in [0, K)
    z_hat = (token - K/2) * step

One model, many rates: quality q picks step scalar_steps[q - 1], so a stream
at any quality decodes with the same decoder. The prior then predicts a
discrete distribution per channel (prior.py, `planes` = channels), which is
the structure of the learned image and video codecs that beat x264: rate
falls smoothly with the step instead of in whole 8-bit RVQ levels.

Training (`forward`) rounds with a straight-through gradient and estimates
the rate with a per-(quality, channel) Laplace density on the noise-relaxed
latent (z / step + U(-1/2, 1/2)): the trainer adds rate_weight * step^2 *
bits per pixel to the loss, so the encoder cannot escape the quantizer by
inflating z (rate grows with |z| / step) and every quality trades rate
against distortion at a slope that matches its step. The Laplace model is
for training only; streams are coded with the transformer prior.

Decoding is one float multiply of an integer by the step per value: the
same on every machine.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import QuantizerConfig
from .residual_vq import QuantizerOutput

_MIN_SCALE = 0.05  # smallest Laplace scale of the training rate model (in steps)


class ScalarQuantizer(nn.Module):
    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        if not cfg.scalar:
            raise ValueError("ScalarQuantizer needs scalar_steps")
        self.cfg = cfg
        self.register_buffer("steps", torch.tensor(cfg.scalar_steps, dtype=torch.float32), persistent=False)
        # training rate model: log Laplace scale (in units of the step) per (quality, channel)
        self.log_scale = nn.Parameter(torch.zeros(len(cfg.scalar_steps), cfg.dim))

    def step(self, quality: int) -> float:
        if not 1 <= quality <= self.cfg.qualities:
            raise ValueError(f"quality must be in 1..{self.cfg.qualities}, got {quality}")
        return self.cfg.scalar_steps[quality - 1]

    def _symbols(self, u: torch.Tensor) -> torch.Tensor:
        """z / step -> clamped integer symbols (as floats), zero-centred."""
        half = self.cfg.codebook_size // 2
        return torch.clamp(torch.round(u), -half, half - 1)

    def forward(self, z: torch.Tensor, levels_per_sample: torch.Tensor | None = None) -> QuantizerOutput:
        """Training/analysis pass. z: (B, D, T, H, W); levels_per_sample: (B,)
        quality of each clip (None: the finest). The output's rate_bits (B,)
        is the Laplace model's bits per clip, commit_loss is zero."""
        B, D = z.shape[:2]
        if levels_per_sample is None:
            levels_per_sample = torch.full((B,), self.cfg.qualities, device=z.device)
        qi = levels_per_sample.long() - 1  # (B,)
        step = self.steps[qi].view(B, 1, 1, 1, 1)
        u = z / step
        sym = self._symbols(u.detach())
        quantized = z + (sym * step - z).detach()  # straight-through
        # rate: Laplace(0, b) mass of the unit bin around the noisy latent
        noisy = u + (torch.rand_like(u) - 0.5)
        b = (torch.exp(self.log_scale[qi]) + _MIN_SCALE).view(B, D, 1, 1, 1)
        mass = _laplace_cdf((noisy + 0.5) / b) - _laplace_cdf((noisy - 0.5) / b)
        bits = -torch.log2(mass.clamp_min(1e-9)).flatten(1).sum(1)  # (B,)
        idx = (sym + self.cfg.codebook_size // 2).long()
        with torch.no_grad():  # mean per-channel perplexity of the symbols, for the progress bar
            flat = idx.transpose(0, 1).reshape(D, -1)
            counts = torch.zeros(D, self.cfg.codebook_size, device=z.device).scatter_add_(
                1, flat, torch.ones_like(flat, dtype=torch.float32))
            p = counts / counts.sum(1, keepdim=True)
            perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum(1))
        return QuantizerOutput(quantized, idx, z.new_zeros(()), perplexity, 0, bits)

    @torch.no_grad()
    def encode(self, z: torch.Tensor, quality: int) -> torch.Tensor:
        """z (B, D, T, H, W) -> tokens (B, D, T, H, W) int64 in [0, K)."""
        return (self._symbols(z / self.step(quality)) + self.cfg.codebook_size // 2).long()

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, quality: int) -> torch.Tensor:
        """tokens (B, D, T, H, W) -> z_hat (B, D, T, H, W) float32."""
        return (indices - self.cfg.codebook_size // 2).float() * self.step(quality)


def _laplace_cdf(x: torch.Tensor) -> torch.Tensor:
    """CDF of the unit Laplace distribution, written to keep its gradient finite."""
    e = torch.exp(-x.abs())
    return torch.where(x < 0, 0.5 * e, 1.0 - 0.5 * e)


def rate_loss(bits: torch.Tensor, steps: torch.Tensor, pixels: int, weight: float,
              clip_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The trainer's rate term: weight * step^2 * bits per pixel, averaged over
    clips. bits, steps: (B,); pixels: per clip. step^2 scales the slope with
    the quality, as dD/dR ~ step^2 for a uniform quantizer. clip_weights (B,):
    the same per-clip weights as the distortion's (training.train), or None."""
    r = steps**2 * bits / pixels
    return weight * (r if clip_weights is None else clip_weights * r).mean()

