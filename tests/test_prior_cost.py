"""bench/prior_cost.py: the multiply-add count from the config is what coding runs."""
from __future__ import annotations

from pathlib import Path

import pytest
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


@pytest.mark.parametrize("name", ["tiny_fast", "tiny_fast8"])
def test_fast_prior_count_matches_the_products_run(name):
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / f"{name}.json"))
    t = codec.config.prior.tile
    h, w = 2 * t, 3 * t  # whole tiles, even sides: the count is exact
    assert _counted(codec, h, w) == prior_macs(codec.config)["per_latent_position"] * h * w


def test_shipped_default_is_within_budget():
    from vqcodec.zoo import resolve

    cost = prior_macs(resolve("default").config())
    assert cost["per_pixel"] <= 10_000


def test_fast_prior_count_by_hand():
    """tiny_fast8: dim d = 16, pass width H = 16, C = 8 channels in groups of 2 and 6,
    symbol inputs (3 + 8 neighbours) x C = 88. Each group's two halves together run
    one pass per position: d H + 88 H + H H + H 5 G = 256 + 1408 + 256 + 80 G, so
    2 x 1920 + 80 x 8 = 4480; the context, one 1-layer block on 4x4 tiles, is 2560."""
    from vqcodec import load_codec

    cost = prior_macs(load_codec(str(EXPECTED / "models" / "tiny_fast8.json")).config)
    assert (cost["passes"], cost["context"], cost["per_pixel"]) == (4480, 2560, 55.0)
