"""autoencoder.py: shapes through the latent factors, clip independence in
time, and exact frame <-> tensor conversion."""
import torch

from vqcodec.autoencoder import Autoencoder, _shuffle, _unshuffle, frames_to_tensor, tensor_to_frames
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
