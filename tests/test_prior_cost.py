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


def test_fast_prior_count_by_hand():
    """tiny_fast: dim d = 16, pass width H = 16, C = 8 channels in groups of 2 and 6,
    symbol inputs [cur, nbr, prev] = 3C = 24. Each group's two halves together run
    one pass per position: d H + 24 H + H H + H 5 G = 256 + 384 + 256 + 80 G, so
    2 x 896 + 80 x 8 = 2432; the context, one block 16 wide (MLP ratio 2) on 4x4
    tiles, is 2560; a latent position is 2 x 8 x 8 = 128 pixels: 39 per pixel."""
    from vqcodec import load_codec

    cost = prior_macs(load_codec(str(EXPECTED / "models" / "tiny_fast.json")).config)
    assert (cost["passes"], cost["context"], cost["per_pixel"]) == (2432, 2560, 39.0)
