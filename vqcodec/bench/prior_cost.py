"""Multiply-adds of the entropy model, counted from a model's config.

The prior's cost per pixel is the number the fast-prior work was sized by
(at most 10k multiply-adds per pixel; the transformer prior of v1-v4 spent
about 120k). It is counted here from the config alone, per latent position,
and divided by the pixels a latent position covers (factor_t x factor_s^2);
tests/test_prior_cost.py checks the count against the matrix products a real
coding pass runs. Embedding look-ups and sums are additions, not products,
and are reported apart.

    python benchmarks/prior_macs.py      # both priors of the shipped configs
"""
from __future__ import annotations

from ..config import CodecConfig


def _block(d: int, S: int, mlp: int) -> int:
    """One transformer block per position: qkv, scores, weighted values, projection, MLP."""
    return 3 * d * d + S * d + S * d + d * d + 2 * mlp * d * d


def fast_prior_macs(cfg: CodecConfig) -> dict:
    p, C = cfg.prior, cfg.quantizer.planes
    from ..models.fast_prior import channel_groups

    d, S, H = p.dim, p.tile * p.tile, p.pass_hidden
    context = p.layers * _block(d, S, p.mlp_ratio)  # once per latent frame, every position
    # each group is coded in two halves, each half of the positions: one full pass per group
    passes = sum(d * H + 3 * C * H + H * H + H * 5 * (b - a) for a, b in channel_groups(p.channel_split, C))
    return {"context": context, "passes": passes, "embedding_adds": C * d}


def transformer_prior_macs(cfg: CodecConfig, quality: int | None = None) -> dict:
    p, q = cfg.prior, cfg.quantizer
    d, S = p.dim, p.tile * p.tile
    groups = q.groups_at(quality or q.qualities)
    per, K = q.planes_per_group, q.codebook_size
    one = p.layers * _block(d, S, p.mlp_ratio) + d * per * K + d * per * (2 * p.copy_radius + 1) * bool(p.copy_radius)
    # every pass runs over every position, 2 passes (checkerboard halves) per group
    return {"context": 0, "passes": 2 * groups * one, "embedding_adds": 2 * 2 * groups * q.planes * d}


def prior_macs(cfg: CodecConfig) -> dict:
    """{per_latent_position, per_pixel, context, passes, embedding_adds, pixels_per_position}."""
    counts = fast_prior_macs(cfg) if cfg.prior.kind == "fast" else transformer_prior_macs(cfg)
    pixels = cfg.autoencoder.factor_t * cfg.autoencoder.factor_s ** 2
    total = counts["context"] + counts["passes"]
    return counts | {"per_latent_position": total, "pixels_per_position": pixels, "per_pixel": total / pixels}
