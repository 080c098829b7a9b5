"""quantizer.py: residual levels refine, EMA moves codes, dead codes restart,
dropout keeps prefixes, encode/decode agree with the training pass."""
import torch

from vqcodec.config import QuantizerConfig
from vqcodec.models.residual_vq import ResidualVQ


def _vq(levels=4, size=32, dim=8, predictive=False):
    torch.manual_seed(0)
    return ResidualVQ(QuantizerConfig(levels=levels, codebook_size=size, dim=dim, predictive=predictive))


def test_more_levels_less_error():
    vq = _vq()
    z = torch.randn(4, 8, 2, 6, 6)
    vq.train()
    for _ in range(20):
        vq(z)
    vq.eval()
    errs = [(vq.decode(vq.encode(z, L)) - z).pow(2).mean().item() for L in range(1, 5)]
    assert all(a > b for a, b in zip(errs, errs[1:])), errs


def test_encode_decode_match_forward():
    vq = _vq()
    z = torch.randn(2, 8, 2, 4, 4)
    vq.train()
    vq(z)
    vq.eval()
    out = vq(z)
    assert torch.equal(out.indices, vq.encode(z, 4))
    assert torch.allclose(out.quantized, vq.decode(out.indices), atol=1e-5)


def test_dropout_keeps_prefix_per_sample():
    vq = _vq()
    z = torch.randn(2, 8, 1, 3, 3)
    vq.train()
    vq(z)
    vq.eval()
    out = vq(z, torch.tensor([1, 4]))
    assert torch.allclose(out.quantized[0], vq.decode(vq.encode(z[:1], 1))[0], atol=1e-5)
    assert torch.allclose(out.quantized[1], vq.decode(vq.encode(z[1:], 4))[0], atol=1e-5)


def test_dead_codes_restart_and_codes_seeded_from_data():
    vq = _vq(levels=1, size=64)
    z = torch.randn(1, 8, 1, 4, 4) * 0.1 + 3.0  # far from the random init
    vq.train()
    out = vq(z)
    book = vq.codebooks[0]
    assert book.initialized
    assert (book.embed.mean() - 3.0).abs() < 0.5  # seeded from encoder outputs
    restarted = 0
    for _ in range(200):
        restarted += vq(z).dead_codes
    assert restarted > 0  # 16 vectors cannot keep 64 codes alive
    assert out.perplexity.shape == (1,)


def test_gradient_reaches_encoder_output():
    vq = _vq()
    z = torch.randn(1, 8, 1, 2, 2, requires_grad=True)
    vq.train()
    out = vq(z)
    (out.quantized.sum() + out.commit_loss).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_predictive_has_i_and_p_codebooks():
    assert len(_vq(levels=3, predictive=True).codebooks) == 6
    assert len(_vq(levels=3).codebooks) == 3


def test_predictive_encode_decode_match_forward():
    vq = _vq(levels=3, predictive=True)
    z = torch.randn(2, 8, 4, 4, 4)
    vq.train()
    for _ in range(3):
        vq(z)
    vq.eval()
    for L in (1, 3):
        out = vq(z, torch.full((2,), L))
        idx = vq.encode(z, L)
        assert torch.equal(out.indices[:, :L], idx)
        assert torch.allclose(out.quantized, vq.decode(idx), atol=1e-5)


def test_predictive_decode_is_the_closed_loop_chain():
    """Frame f decodes as frame f-1 plus the P codebooks' vectors, exactly."""
    vq = _vq(levels=3, predictive=True)
    z = torch.randn(1, 8, 3, 2, 2)
    vq.train()
    vq(z)
    vq.eval()
    idx = vq.encode(z, 3)
    zq = vq.decode(idx)  # (1, D, 3, 2, 2)
    N = vq.levels
    step = sum(vq.codebooks[N + l].lookup(idx[:, l, 2]) for l in range(3)).permute(0, 3, 1, 2)
    assert torch.allclose(zq[:, :, 2], zq[:, :, 1] + step, atol=1e-6)
    i0 = sum(vq.codebooks[l].lookup(idx[:, l, 0]) for l in range(3)).permute(0, 3, 1, 2)
    assert torch.allclose(zq[:, :, 0], i0, atol=1e-6)


def test_predictive_refines_a_static_clip_over_time():
    """On a clip that does not change, each P frame codes what the previous
    decoded frame missed, so the error falls frame after frame."""
    vq = _vq(levels=1, size=64, predictive=True)
    torch.manual_seed(1)
    still = torch.randn(4, 8, 1, 6, 6).expand(4, 8, 6, 6, 6).contiguous()
    vq.train()
    for _ in range(30):
        vq(still)
    vq.eval()
    zq = vq.decode(vq.encode(still, 1))
    err = (zq - still).pow(2).mean(dim=(0, 1, 3, 4))  # (T,)
    assert err[-1] < 0.5 * err[0], err.tolist()
