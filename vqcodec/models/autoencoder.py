"""VideoGPT-style VQ-VAE encoder/decoder, made practical on a 2-core CPU.

Shapes (B clips, T frames, H x W pixels, p = patch, s = down_s, t = down_t):
    frames (B, 3, T, H, W) in [-0.5, 0.5]
    -> pixel-unshuffle       (B, 3p^2, T, H/p, W/p)     cheap: a reshape
    -> conv + res blocks     (B, C, T, H/p, W/p)        the heavy part, at 1/p res
    -> strided conv          (B, C2, T/t, H/ps, W/ps)   latent resolution
    -> res + axial attention (B, C2, T/t, H/ps, W/ps)   attention only here
    -> 1x1 conv              (B, D, T/t, H/ps, W/ps)    vectors for the quantizer
and the decoder mirrors it. Convolutions are factorised into (1,3,3) spatial and
(3,1,1) temporal kernels ("2+1D"): about a third of the cost of full 3x3x3 on a
CPU for the same receptive field. Temporal convs zero-pad at clip edges, so a
GOP never sees another GOP's frames: GOPs decode independently.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import AutoencoderConfig
from .blocks import AxialAttention, Conv3d, ConvTranspose3d, ResBlock


class QualityFilm(nn.Module):
    """Per-quality affine map of channels: h * (1 + scale[q]) + shift[q] for
    features, or z * exp(gain[q]) for latents (`gain=True`). All zero at the
    start, so a conditioned model begins as the unconditioned one it extends
    (training.train.Trainer._load_weights). Quality q is 1-based, as in the
    streams; one per clip: an int or a (B,) tensor."""

    def __init__(self, qualities: int, ch: int, gain: bool = False):
        super().__init__()
        self.gain = gain
        if gain:
            self.log_gain = nn.Parameter(torch.zeros(qualities, ch))
        else:
            self.scale = nn.Parameter(torch.zeros(qualities, ch))
            self.shift = nn.Parameter(torch.zeros(qualities, ch))

    def forward(self, h: torch.Tensor, quality: int | torch.Tensor) -> torch.Tensor:
        B, C = h.shape[:2]
        q = _quality_index(quality, (self.log_gain if self.gain else self.scale).shape[0], h.device)
        shape = (q.shape[0], C) + (1,) * (h.dim() - 2)
        if self.gain:
            return h * torch.exp(self.log_gain[q]).view(shape)
        return h * (1 + self.scale[q].view(shape)) + self.shift[q].view(shape)


def _quality_index(quality: int | torch.Tensor | None, qualities: int, device) -> torch.Tensor:
    """1-based quality (int or (B,) tensor) -> 0-based rows (B,) or (1,) of a
    per-quality table of `qualities` rows; a clear error when it is missing
    or out of range."""
    if quality is None:
        raise ValueError("this model's autoencoder is conditioned on the quality: pass one")
    q = torch.as_tensor(quality, device=device).long().reshape(-1) - 1
    if not 0 <= int(q.min()) <= int(q.max()) < qualities:
        raise ValueError(f"quality {quality} is outside the model's conditioning range")
    return q


def _conditioned(cfg: AutoencoderConfig, ch: int, gain: bool = False) -> QualityFilm | None:
    return QualityFilm(cfg.quality_conditioned, ch, gain) if cfg.quality_conditioned else None


def _apply(film: QualityFilm | None, h: torch.Tensor, quality) -> torch.Tensor:
    if film is None:
        return h
    if quality is None:
        raise ValueError("this model's autoencoder is conditioned on the quality: pass one")
    return film(h, quality)


def _unshuffle(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C*p*p, T, H/p, W/p), per frame."""
    B, C, T, H, W = x.shape
    y = F.pixel_unshuffle(x.transpose(1, 2).reshape(B * T, C, H, W), p)
    return y.reshape(B, T, C * p * p, H // p, W // p).transpose(1, 2)


def _shuffle(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C*p*p, T, H, W) -> (B, C, T, H*p, W*p), per frame."""
    B, C, T, H, W = x.shape
    y = F.pixel_shuffle(x.transpose(1, 2).reshape(B * T, C, H, W), p)
    return y.reshape(B, T, C // (p * p), H * p, W * p).transpose(1, 2)


def _blocks(u: torch.Tensor, k: tuple[int, int, int]) -> torch.Tensor:
    """Unshuffled frames (B, C, T, H, W) -> one row per latent position
    (B*T/kt*H/kh*W/kw, C*kt*kh*kw), in the element order of a Conv3d weight
    (in_channel, kt, kh, kw), so a PCA basis of these rows is a conv kernel."""
    B, C, T, H, W = u.shape
    kt, kh, kw = k
    v = u.reshape(B, C, T // kt, kt, H // kh, kh, W // kw, kw)
    return v.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(-1, C * kt * kh * kw)


class LinearPath(nn.Module):
    """Blockwise linear analysis (encoder side) or synthesis (decoder side):
    one latent vector per t x s x s block of patchified pixels. Initialised by
    PCA (fit_linear_path), it alone reconstructs what the top principal
    components hold (about 33 dB on carphone for 64 of 384 components)."""

    def __init__(self, cfg: AutoencoderConfig, synthesis: bool):
        super().__init__()
        k = (cfg.down_t, cfg.down_s, cfg.down_s)
        c = 3 * cfg.patch**2
        conv = ConvTranspose3d if synthesis else Conv3d
        self.conv = conv(*((cfg.embed_dim, c) if synthesis else (c, cfg.embed_dim)), k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ReferenceBranch(nn.Module):
    """Conditional coding: what one side (encoder or decoder) of an inter GOP
    takes from `ref`, the last decoded frame of the previous GOP.

        ref (B, 3, H, W) in [-0.5, 0.5]
        -> hi  (B, C, 1, H/p, W/p)    features added at 1/p resolution
        -> lat (B, C2, 1, H/ps, W/ps) features added at latent resolution
        -> prediction (B, D, 1, H/ps, W/ps): alpha[q] * the linear path of ref
           held still for t frames (the PCA latent of a static scene)

    The encoder subtracts the prediction from its latents and the decoder adds
    it back, so a still region's latents (and its tokens) are near zero. Both
    sides hold their own copy of the linear projection (`predict`, copied from
    the encoder's linear path when the branch is added) because a safetensors
    file cannot hold shared tensors. Everything that reaches the networks
    starts at zero: an extended model computes what the model it extends did."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        c, c2, p = cfg.channels, cfg.latent_channels, cfg.patch
        self.t = cfg.down_t
        self.stem = nn.Conv2d(3 * p * p, c, 3, padding=1)
        self.hi = nn.Conv2d(c, c, 3, padding=1)
        self.lat = nn.Conv2d(c, c2, cfg.down_s, stride=cfg.down_s)
        k = (cfg.down_t, cfg.down_s, cfg.down_s)
        self.predict = Conv3d(3 * p * p, cfg.embed_dim, k, stride=k)
        self.alpha = nn.Parameter(torch.zeros(max(1, cfg.quality_conditioned), cfg.embed_dim))
        for m in (self.hi, self.lat):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        self.patch = p

    def forward(self, ref: torch.Tensor, quality) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ref (B, 3, H, W): one frame held still (time axis 1 in every output), or a
        prediction clip (B, 3, T, H, W), T a multiple of t (motion-compensated coding):
        hi per frame (B, C, T, ...), lat and prediction per latent step (B, ., T/t, ...).
        A clip of T copies of one frame gives exactly what the frame alone gives."""
        if ref.dim() == 4:
            clip, ref = False, ref.unsqueeze(2)
        else:
            clip = True
        B, _, T, H, W = ref.shape
        u = _unshuffle(ref, self.patch)  # (B, 3p^2, T, H/p, W/p)
        frames = u.transpose(1, 2).reshape(B * T, -1, H // self.patch, W // self.patch)
        f = F.silu(self.stem(frames))  # (B*T, C, H/p, W/p)
        hi = self.hi(f).reshape(B, T, -1, *f.shape[-2:]).transpose(1, 2)  # (B, C, T, H/p, W/p)
        lat = self.lat(f)
        lat = lat.reshape(B, T, -1, *lat.shape[-2:]).transpose(1, 2)  # (B, C2, T, h, w)
        still = u if clip else u.expand(-1, -1, self.t, -1, -1)  # (B, 3p^2, t or T, H/p, W/p)
        if clip:  # one lat per latent step: the mean over its t frames
            lat = lat.reshape(B, lat.shape[1], T // self.t, self.t, *lat.shape[-2:]).mean(3)
        Q = self.alpha.shape[0]  # 1: a model not conditioned on the quality has one alpha
        q = _quality_index(quality, Q, ref.device) if Q > 1 else torch.zeros(1, dtype=torch.long, device=ref.device)
        alpha = self.alpha[q].view(q.shape[0], -1, 1, 1, 1)  # (B or 1, D, 1, 1, 1)
        return hi, lat, alpha * self.predict(still)


def _reference(branch: ReferenceBranch | None, ref: torch.Tensor | None, quality,
               keep: torch.Tensor | None = None):
    """-> (hi, lat, prediction) of ref, or zeros (0.0) for an intra GOP.
    keep (B,) of 0/1 (training): clips whose reference counts; the others
    train the intra case while every parameter still takes part (DDP)."""
    if ref is None:
        return 0.0, 0.0, 0.0
    if branch is None:
        raise ValueError("this model's autoencoder does not use a reference frame")
    if ref.dim() not in (4, 5) or ref.shape[1] != 3:
        raise ValueError(f"a reference is a frame (B, 3, H, W) or a clip (B, 3, T, H, W), got {tuple(ref.shape)}")
    if ref.dim() == 5 and ref.shape[2] % branch.t:
        raise ValueError(f"a prediction clip (B, 3, T, H, W) needs T a multiple of {branch.t}, "
                         f"got {tuple(ref.shape)}")
    out = branch(ref, quality)
    return out if keep is None else tuple(o * keep.view(-1, 1, 1, 1, 1) for o in out)


class PredictionDetail(nn.Module):
    """Motion-compensated coding, decoder side: the part of the prediction clip
    that its latent (the linear path's 64 of 3p^2 t s^2 components) cannot
    hold, added back to the output, scaled by beta per (quality, channel):

        pred (B, 3, T, H, W) -> u (B, 3p^2, T, H/p, W/p)
        -> beta[q] * (u - synthesis(branch.predict(u)))

    With alpha = beta = 1 the decoder's output is the prediction plus the
    decoded residual (and the networks' correction): a still region keeps
    every detail of the frame it is predicted from, not just what 64 latent
    channels describe. Starts at 1 (the prediction is worth keeping)."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.patch = cfg.patch
        self.beta = nn.Parameter(torch.ones(max(1, cfg.quality_conditioned), 3 * cfg.patch**2))

    def forward(self, pred: torch.Tensor, branch: ReferenceBranch, synthesis: LinearPath, quality,
                keep: torch.Tensor | None) -> torch.Tensor:
        u = _unshuffle(pred, self.patch)  # (B, 3p^2, T, H/p, W/p)
        Q = self.beta.shape[0]
        q = _quality_index(quality, Q, pred.device) if Q > 1 else torch.zeros(1, dtype=torch.long, device=pred.device)
        beta = self.beta[q].view(q.shape[0], -1, 1, 1, 1)
        d = beta * (u - synthesis(branch.predict(u)))
        return d if keep is None else d * keep.view(-1, 1, 1, 1, 1)


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        c, c2 = cfg.channels, cfg.latent_channels
        self.stem = Conv3d(3 * cfg.patch**2, c, (1, 3, 3), padding=(0, 1, 1))
        self.blocks = nn.Sequential(*(ResBlock(c) for _ in range(cfg.hi_res_blocks)))
        k = (cfg.down_t, cfg.down_s, cfg.down_s)
        self.down = Conv3d(c, c2, k, stride=k)
        self.latent_blocks = nn.Sequential(
            *(ResBlock(c2) for _ in range(cfg.res_blocks)),
            *(AxialAttention(c2, cfg.attn_heads) for _ in range(cfg.attn_blocks)),
        )
        self.proj = Conv3d(c2, cfg.embed_dim, 1)
        self.linear = LinearPath(cfg, synthesis=False) if cfg.linear_path else None
        if self.linear is not None:  # the network starts as a zero correction of the PCA
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)
        self.film, self.gain = _conditioned(cfg, c2), _conditioned(cfg, cfg.embed_dim, gain=True)
        self.reference = ReferenceBranch(cfg) if cfg.reference else None

    def forward(self, x: torch.Tensor, quality: int | torch.Tensor | None = None,
                ref: torch.Tensor | None = None, keep: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 3, T, H, W) in [-0.5, 0.5] -> z (B, D, T/t, H/s, W/s); a
        quality-conditioned model needs the quality (int, or (B,) per clip);
        ref (B, 3, H, W): the previous GOP's last decoded frame (None: intra);
        keep: see _reference."""
        r_hi, r_lat, pred = _reference(self.reference, ref, quality, keep)
        u = _unshuffle(x, self.cfg.patch)  # (B, 3p^2, T, H/p, W/p)
        h = self.blocks(self.stem(u) + r_hi)
        h = _apply(self.film, self.latent_blocks(self.down(F.silu(h)) + r_lat), quality)  # (B, C2, T/t, H/s, W/s)
        z = self.proj(F.silu(h))
        z = z if self.linear is None else z + self.linear(u)
        # per-quality channel gains: which channels this step keeps; minus the reference's prediction
        return _apply(self.gain, z - pred, quality)


class Decoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        c, c2 = cfg.channels, cfg.latent_channels
        self.proj = Conv3d(cfg.embed_dim, c2, 1)
        self.latent_blocks = nn.Sequential(
            *(ResBlock(c2) for _ in range(cfg.res_blocks)),
            *(AxialAttention(c2, cfg.attn_heads) for _ in range(cfg.attn_blocks)),
        )
        k = (cfg.down_t, cfg.down_s, cfg.down_s)
        self.up = ConvTranspose3d(c2, c, k, stride=k)
        self.blocks = nn.Sequential(*(ResBlock(c) for _ in range(cfg.hi_res_blocks)))
        self.head = Conv3d(c, 3 * cfg.patch**2, (1, 3, 3), padding=(0, 1, 1))
        self.linear = LinearPath(cfg, synthesis=True) if cfg.linear_path else None
        if self.linear is not None:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        self.gain = _conditioned(cfg, cfg.embed_dim, gain=True)
        self.film, self.film_hi = _conditioned(cfg, c2), _conditioned(cfg, c)
        self.reference = ReferenceBranch(cfg) if cfg.reference else None
        self.detail = PredictionDetail(cfg) if cfg.motion else None

    def condition(self, ref: torch.Tensor | None, quality: int | torch.Tensor | None = None,
                  keep: torch.Tensor | None = None) -> tuple:
        """What the decoder takes from ref, whatever the latents: (hi, lat,
        prediction, detail), zeros (0.0) for an intra GOP. The encoder computes it
        once to decode several token candidates of one step (its tile choice)."""
        r_hi, r_lat, pred = _reference(self.reference, ref, quality, keep)
        detail = 0.0
        if self.detail is not None and ref is not None:
            if ref.dim() != 5:
                raise ValueError("a motion-compensated model's decoder takes a prediction clip (B, 3, T, H, W)")
            detail = self.detail(ref, self.reference, self.linear, quality, keep)
        return r_hi, r_lat, pred, detail

    def forward(self, z: torch.Tensor, quality: int | torch.Tensor | None = None,
                ref: torch.Tensor | None = None, keep: torch.Tensor | None = None,
                cond: tuple | None = None) -> torch.Tensor:
        """z (B, D, T/t, H/s, W/s) -> x (B, 3, T, H, W), unclamped; a
        quality-conditioned model needs the quality (int, or (B,) per clip):
        a coarse step's latents want smoothing, a fine step's want detail kept.
        ref, keep: the frame the encoder saw (None: intra), see _reference;
        cond: condition(ref, quality, keep), when already computed."""
        r_hi, r_lat, pred, detail = self.condition(ref, quality, keep) if cond is None else cond
        z = _apply(self.gain, z, quality) + pred  # the residual plus the reference's prediction
        h = _apply(self.film, self.latent_blocks(self.proj(z) + r_lat), quality)  # (B, C2, T/t, H/s, W/s)
        h = _apply(self.film_hi, self.blocks(self.up(F.silu(h)) + r_hi), quality)  # (B, C, T, H/p, W/p)
        u = self.head(F.silu(h))  # (B, 3p^2, T, H/p, W/p)
        if self.linear is not None:
            u = u + self.linear(z)
        return _shuffle(u + detail, self.cfg.patch)


class Autoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)


@torch.no_grad()
def fit_linear_path(ae: Autoencoder, x: torch.Tensor) -> float:
    """Set both linear paths to the PCA of the blocks of x (B, 3, T, H, W) in
    [-0.5, 0.5]: the encoder projects a block onto the top embed_dim principal
    components, the decoder maps them back and adds the mean. Returns the
    share of the blocks' variance the kept components hold."""
    cfg = ae.cfg
    k = (cfg.down_t, cfg.down_s, cfg.down_s)
    rows = _blocks(_unshuffle(x, cfg.patch), k).double()  # (M, 3p^2*t*s*s)
    mean = rows.mean(0)
    cov = (rows - mean).T @ (rows - mean) / max(1, rows.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    basis = evecs.flip(1)[:, : cfg.embed_dim]  # (E, D) top components
    D, c = cfg.embed_dim, 3 * cfg.patch**2
    kernel = basis.T.reshape(D, c, *k).float()
    enc, dec = ae.encoder.linear.conv, ae.decoder.linear.conv
    enc.weight.copy_(kernel)  # Conv3d (D, c, kt, kh, kw)
    enc.bias.copy_(-(basis.T @ mean).float())
    dec.weight.copy_(kernel)  # ConvTranspose3d (D, c, kt, kh, kw): the transpose
    dec.bias.copy_(mean.reshape(c, -1).mean(1).float())
    for branch in (ae.encoder.reference, ae.decoder.reference):
        if branch is not None:
            copy_prediction(ae, branch)
    # a ConvTranspose3d bias is per output channel; the per-element mean rest
    # (small: pixel statistics barely depend on the position in a block) is
    # left for the networks to learn.
    return float(evals.flip(0)[: cfg.embed_dim].sum() / evals.sum())


@torch.no_grad()
def copy_prediction(ae: Autoencoder, branch: ReferenceBranch) -> None:
    """Start a reference branch's prediction as the encoder's linear path."""
    if ae.encoder.linear is not None:
        branch.predict.weight.copy_(ae.encoder.linear.conv.weight)
        branch.predict.bias.copy_(ae.encoder.linear.conv.bias)


def frames_to_tensor(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (1, 3, T, H, W) in [-0.5, 0.5]."""
    return (frames.permute(3, 0, 1, 2).float() / 255.0 - 0.5).unsqueeze(0)


def tensor_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float (1, 3, T, H, W) -> uint8 (T, H, W, 3), rounded and clamped."""
    y = ((x[0] + 0.5).clamp(0, 1) * 255.0).round().to(torch.uint8)
    return y.permute(1, 2, 3, 0).contiguous()
