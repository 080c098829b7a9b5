"""Scalar quantization: exact token round trips, clamping, the training pass."""
from __future__ import annotations

import pytest
import torch

from vqcodec.config import QuantizerConfig
from vqcodec.models.scalar_quantizer import ScalarQuantizer, rate_loss

CFG = QuantizerConfig(codebook_size=16, dim=4, scalar_steps=(0.5, 0.25), channel_groups=2)


def _z(seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 4, 3, 5, 6, generator=g) * scale  # (B, D, T, H, W)


def test_tokens_round_trip_exactly():
    """decode(encode(z)) is a multiple of the step, and encoding it again gives the same tokens."""
    sq = ScalarQuantizer(CFG)
    for q, step in ((1, 0.5), (2, 0.25)):
        tok = sq.encode(_z(), q)
        assert tok.dtype == torch.int64 and tok.shape == (2, 4, 3, 5, 6)
        assert int(tok.min()) >= 0 and int(tok.max()) < 16
        zh = sq.decode(tok, q)
        assert torch.equal(zh / step, torch.round(zh / step))
        assert torch.equal(sq.encode(zh, q), tok)


def test_rounding_error_is_at_most_half_a_step_inside_the_alphabet():
    sq = ScalarQuantizer(CFG)
    z = _z(scale=0.5)
    zh = sq.decode(sq.encode(z, 2), 2)
    inside = z.abs() < 7 * 0.25
    assert float((zh - z)[inside].abs().max()) <= 0.125 + 1e-6


def test_values_beyond_the_alphabet_are_clamped():
    z = torch.tensor([-100.0, -4.0, 0.0, 3.4, 100.0]).view(1, 5, 1, 1, 1)
    sq5 = ScalarQuantizer(QuantizerConfig(codebook_size=16, dim=5, scalar_steps=(0.5,), channel_groups=5))
    tok = sq5.encode(z, 1).flatten().tolist()
    assert tok == [0, 0, 8, 15, 15]  # -8 .. 7 around zero, offset by 8


def test_quality_out_of_range_is_an_error():
    sq = ScalarQuantizer(CFG)
    with pytest.raises(ValueError, match="quality"):
        sq.encode(_z(), 3)
    with pytest.raises(ValueError, match="quality"):
        sq.decode(torch.zeros(1, 4, 1, 1, 1, dtype=torch.long), 0)


def test_training_pass_is_straight_through_and_estimates_rate():
    sq = ScalarQuantizer(CFG)
    z = _z().requires_grad_(True)
    out = sq(z, torch.tensor([1, 2]))
    assert torch.equal(out.indices, torch.stack([sq.encode(z[:1], 1)[0], sq.encode(z[1:], 2)[0]]))
    assert torch.allclose(out.quantized[0], sq.decode(out.indices[:1], 1)[0])
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # identity gradient through the rounding
    assert out.rate_bits.shape == (2,) and bool((out.rate_bits > 0).all())
    assert out.perplexity.shape == (4,)


def test_rate_estimate_grows_with_the_latent_and_shrinks_with_the_step():
    sq = ScalarQuantizer(CFG)
    torch.manual_seed(0)
    small = sq(_z(scale=0.2), torch.tensor([1, 1])).rate_bits.sum()
    large = sq(_z(scale=3.0), torch.tensor([1, 1])).rate_bits.sum()
    fine = sq(_z(scale=3.0), torch.tensor([2, 2])).rate_bits.sum()
    assert small < large < fine
    loss = rate_loss(torch.tensor([100.0, 100.0]), torch.tensor([0.5, 0.25]), pixels=1000, weight=0.1)
    assert float(loss) == pytest.approx(0.1 * (0.25 * 0.1 + 0.0625 * 0.1) / 2)
    weighted = rate_loss(torch.tensor([100.0, 100.0]), torch.tensor([0.5, 0.25]), pixels=1000, weight=0.1,
                         clip_weights=torch.tensor([0.0, 2.0]))  # the clips' weights multiply their terms
    assert float(weighted) == pytest.approx(0.1 * (2 * 0.0625 * 0.1) / 2)


def test_scalar_quantizer_needs_steps():
    with pytest.raises(ValueError, match="scalar_steps"):
        ScalarQuantizer(QuantizerConfig())
