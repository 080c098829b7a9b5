"""autoencoder.py: shapes through the latent factors, clip independence in
time, and exact frame <-> tensor conversion."""
import pytest
import torch

from vqcodec.models.autoencoder import (Autoencoder, _shuffle, _unshuffle, copy_prediction, frames_to_tensor,
                                 tensor_to_frames)
from vqcodec.config import AutoencoderConfig


def test_shapes_follow_latent_factors():
    cfg = AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8)
    ae = Autoencoder(cfg).eval()
    x = torch.rand(1, 3, 4, 24, 40) - 0.5
    z = ae.encoder(x)
    assert z.shape == (1, 8, 4 // cfg.factor_t, 24 // cfg.factor_s, 40 // cfg.factor_s)
    assert ae.decoder(z).shape == x.shape


def test_pixel_unshuffle_inverse():
    x = torch.rand(2, 3, 3, 8, 12)
    assert torch.equal(_shuffle(_unshuffle(x, 4), 4), x)


def test_frames_tensor_round_trip():
    f = torch.randint(0, 256, (3, 5, 7, 3), dtype=torch.uint8)
    assert torch.equal(tensor_to_frames(frames_to_tensor(f)), f)


def test_batch_entries_independent():
    torch.manual_seed(0)
    cfg = AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8)
    ae = Autoencoder(cfg).eval()
    a, b = torch.rand(1, 3, 4, 16, 16), torch.rand(1, 3, 4, 16, 16)
    with torch.no_grad():
        za = ae.encoder(a)
        zab = ae.encoder(torch.cat([a, b]))
    assert torch.allclose(za[0], zab[0], atol=1e-5)


def _linear_cfg(**kw):
    from vqcodec.config import AutoencoderConfig

    base = dict(patch=2, down_t=1, down_s=1, channels=8, latent_channels=8, res_blocks=1,
                attn_blocks=0, attn_heads=2, embed_dim=12, linear_path=True)
    return AutoencoderConfig(**(base | kw))


def test_linear_path_with_every_component_is_lossless_at_init():
    """embed_dim = the block's size (3 * 2^2 = 12 values): the PCA basis is
    complete, the networks start at zero, so decoder(encoder(x)) == x."""
    from vqcodec.models.autoencoder import Autoencoder, fit_linear_path

    torch.manual_seed(0)
    ae = Autoencoder(_linear_cfg())
    x = torch.rand(2, 3, 2, 16, 16) - 0.5
    assert fit_linear_path(ae, x) == pytest.approx(1.0)
    y = ae.decoder(ae.encoder(x))
    assert (y - x).abs().max() < 1e-4


def test_linear_path_keeps_the_top_components():
    """Fewer components than values: the kept share is below 1 and the
    reconstruction error equals the variance left out."""
    from vqcodec.models.autoencoder import Autoencoder, fit_linear_path

    torch.manual_seed(0)
    ae = Autoencoder(_linear_cfg(embed_dim=4))
    # correlated channels: a few components hold most of the variance
    base = torch.rand(2, 1, 2, 16, 16) - 0.5
    x = base.expand(2, 3, 2, 16, 16) * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1, 1)
    x = x + 0.01 * torch.randn_like(x)
    kept = fit_linear_path(ae, x)
    assert 0.9 < kept < 1.0
    y = ae.decoder(ae.encoder(x))
    rel = (y - x).pow(2).sum() / (x - x.mean()).pow(2).sum()
    assert rel.item() == pytest.approx(1 - kept, abs=0.01)


def test_no_linear_path_by_default():
    from vqcodec.models.autoencoder import Autoencoder
    from vqcodec.config import AutoencoderConfig

    ae = Autoencoder(AutoencoderConfig(channels=8, latent_channels=8, embed_dim=8))
    assert ae.encoder.linear is None and ae.decoder.linear is None


def _conditioned_ae(seed: int = 0) -> Autoencoder:
    """A quality-conditioned autoencoder whose conditioning is moved off zero."""
    torch.manual_seed(seed)
    cfg = AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8,
                            linear_path=True, quality_conditioned=3)
    ae = Autoencoder(cfg).eval()
    with torch.no_grad():
        for n, p in ae.named_parameters():
            if ".film" in n or ".gain" in n:
                p.normal_(0, 0.3)
    return ae


def test_quality_conditioning_per_clip_matches_per_call():
    """A (B,) tensor of qualities conditions each clip on its own: the same
    output as one call per clip with an int; different qualities differ."""
    ae = _conditioned_ae()
    x = torch.rand(2, 3, 4, 16, 16) - 0.5
    with torch.no_grad():
        z = ae.encoder(x, torch.tensor([1, 3]))
        y = ae.decoder(z, torch.tensor([1, 3]))
        for b, q in enumerate((1, 3)):
            assert torch.allclose(z[b], ae.encoder(x[b:b + 1], q)[0], atol=1e-5)
            assert torch.allclose(y[b], ae.decoder(z[b:b + 1], q)[0], atol=1e-5)
        assert not torch.allclose(ae.encoder(x, 1), ae.encoder(x, 2))
        assert not torch.allclose(ae.decoder(z, 1), ae.decoder(z, 2))


def test_quality_conditioning_needs_a_quality_in_range():
    ae = _conditioned_ae()
    x = torch.rand(1, 3, 4, 16, 16) - 0.5
    with torch.no_grad():
        with pytest.raises(ValueError, match="conditioned on the quality"):
            ae.encoder(x)
        z = ae.encoder(x, 2)
        with pytest.raises(ValueError, match="conditioned on the quality"):
            ae.decoder(z)
        for bad in (0, 4):
            with pytest.raises(ValueError, match="outside"):
                ae.decoder(z, bad)


def test_unconditioned_model_ignores_the_quality():
    cfg = AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8)
    ae = Autoencoder(cfg).eval()
    x = torch.rand(1, 3, 4, 16, 16) - 0.5
    with torch.no_grad():
        assert torch.equal(ae.encoder(x, 5), ae.encoder(x))
    assert not any(".film" in n or ".gain" in n for n, _ in ae.named_parameters())


def _referencing_ae(qualities: int = 3, seed: int = 0) -> Autoencoder:
    """A fresh autoencoder with the reference branch (conditional coding)."""
    torch.manual_seed(seed)
    cfg = AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8,
                            linear_path=True, quality_conditioned=qualities, reference=True)
    ae = Autoencoder(cfg).eval()
    with torch.no_grad():  # as fit_linear_path / Trainer._load_weights leave it
        for branch in (ae.encoder.reference, ae.decoder.reference):
            copy_prediction(ae, branch)
    return ae


def test_reference_branch_starts_as_the_intra_model():
    """Zero-initialised: with a reference the encoder and decoder compute
    exactly what they compute without one (an extended model starts as the
    model it extends)."""
    ae = _referencing_ae()
    x, ref = torch.rand(2, 3, 4, 16, 16) - 0.5, torch.rand(2, 3, 16, 16) - 0.5
    with torch.no_grad():
        z = ae.encoder(x, 2)
        assert torch.equal(ae.encoder(x, 2, ref), z)
        assert torch.equal(ae.decoder(z, 2, ref), ae.decoder(z, 2))


def test_reference_prediction_cancels_a_still_scene():
    """With alpha = 1 a clip that is its reference held still has zero
    latents (the prediction is the linear path of the still reference, and
    the networks start at zero), and the decoder adds the prediction back:
    its output is what the intra model decodes from the full latents."""
    ae = _referencing_ae()
    ref = torch.rand(1, 3, 16, 16) - 0.5
    still = ref.unsqueeze(2).expand(-1, -1, 4, -1, -1)  # (1, 3, 4, 16, 16)
    with torch.no_grad():
        for branch in (ae.encoder.reference, ae.decoder.reference):
            branch.alpha.fill_(1.0)
        z = ae.encoder(still, 1, ref)
        assert z.abs().max() < 1e-5
        full = ae.encoder(still, 1)
        assert full.abs().max() > 0.1
        assert torch.allclose(ae.decoder(z, 1, ref), ae.decoder(full, 1), atol=1e-5)
        # the quality picks its own alpha: at alpha 0 nothing is predicted
        ae.encoder.reference.alpha[1].zero_()
        assert torch.allclose(ae.encoder(still, 2, ref), full, atol=1e-6)


def test_reference_keep_zero_is_the_intra_case():
    ae = _referencing_ae()
    with torch.no_grad():
        for n, p in ae.named_parameters():
            if ".reference." in n:
                p.normal_(0, 0.3)
        x, ref = torch.rand(2, 3, 4, 16, 16) - 0.5, torch.rand(2, 3, 16, 16) - 0.5
        keep = torch.tensor([0.0, 1.0])
        z = ae.encoder(x, 3, ref, keep)
        assert torch.allclose(z[0], ae.encoder(x[:1], 3)[0], atol=1e-6)
        assert torch.allclose(z[1], ae.encoder(x[1:], 3, ref[1:])[0], atol=1e-6)
        assert not torch.allclose(z[1], ae.encoder(x[1:], 3)[0])
        y = ae.decoder(z, 3, ref, keep)
        assert torch.allclose(y[0], ae.decoder(z[:1], 3)[0], atol=1e-6)


def test_reference_is_refused_where_it_cannot_be_used():
    x = torch.rand(1, 3, 4, 16, 16) - 0.5
    plain = Autoencoder(AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2,
                                          embed_dim=8)).eval()
    with torch.no_grad():
        with pytest.raises(ValueError, match="does not use a reference"):
            plain.encoder(x, None, torch.zeros(1, 3, 16, 16))
        ae = _referencing_ae()
        with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
            ae.encoder(x, 1, torch.zeros(1, 3, 16, 16, 1, 1))
        with pytest.raises(ValueError, match=r"T a multiple of 2"):
            ae.encoder(x, 1, torch.zeros(1, 3, 1, 16, 16))
        with pytest.raises(ValueError, match="conditioned on the quality"):
            ae.decoder(ae.encoder(x, 1), None, torch.zeros(1, 3, 16, 16))
        for bad in (0, 4):  # alpha's quality is checked like the FiLM's (no wrap-around to the last row)
            with pytest.raises(ValueError, match="outside"):
                ae.encoder(x, bad, torch.zeros(1, 3, 16, 16))


def test_a_clip_of_one_frame_held_still_is_the_frame_itself():
    """A prediction clip (B, 3, T, H, W) of T copies of one frame conditions
    both sides exactly as the frame alone does (the still reference)."""
    torch.manual_seed(0)
    ae = _referencing_ae()
    for m in ae.modules():  # every branch weight non-zero, so the test can fail
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.normal_(m.weight, std=0.1)
    with torch.no_grad():
        ae.encoder.reference.alpha.fill_(0.5)
        ae.decoder.reference.alpha.fill_(0.5)
        x = torch.rand(1, 3, 4, 16, 16) - 0.5
        ref = torch.rand(1, 3, 16, 16) - 0.5
        clip = ref.unsqueeze(2).expand(-1, -1, 4, -1, -1)
        z, zc = ae.encoder(x, 1, ref), ae.encoder(x, 1, clip)
        assert torch.allclose(z, zc, atol=1e-5)
        assert torch.allclose(ae.decoder(z, 1, ref), ae.decoder(z, 1, clip), atol=1e-5)
        moved = clip.clone()
        moved[:, :, 2:] = torch.roll(moved[:, :, 2:], 3, dims=-1)
        assert not torch.allclose(ae.encoder(x, 1, moved)[:, :, 1], zc[:, :, 1], atol=1e-3)
