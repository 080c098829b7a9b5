"""bench/prior_cost.py: the multiply-add count from the config is what coding runs."""
from __future__ import annotations

from pathlib import Path

import torch

from vqcodec.bench.prior_cost import prior_macs

EXPECTED = Path(__file__).resolve().parent / "expected"


def _counted(codec, h: int, w: int) -> int:
    """Multiply-adds of every matrix product while one latent frame is coded."""
    total = 0
    real = torch.Tensor.__matmul__

    def counting(a, b):
        nonlocal total
        out = real(a, b)
        total += out.numel() * a.shape[-1]
        return out
    torch.Tensor.__matmul__ = counting
    try:
        prev = codec.empty_context(h, w)
        codec.code_latent_frame(prev, 2, lambda rows, planes, pos: rows.base, codec.tables(5))
    finally:
        torch.Tensor.__matmul__ = real
    return total


def test_fast_prior_count_matches_the_products_run():
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / "tiny_fast.json"))
    t = codec.config.prior.tile
    h, w = 2 * t, 3 * t  # whole tiles, even sides: the count is exact
    assert _counted(codec, h, w) == prior_macs(codec.config)["per_latent_position"] * h * w


def test_shipped_default_is_within_budget():
    from vqcodec.zoo import resolve

    cost = prior_macs(resolve("default").config())
    assert cost["per_pixel"] <= 10_000
