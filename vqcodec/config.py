"""Configuration of a vqcodec model: frozen dataclasses, serialisable to JSON.

A model is fully described by a `CodecConfig`; weights live beside it in a
safetensors file. Nothing here imports torch, so the CLI can describe models
cheaply.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AutoencoderConfig:
    """VideoGPT-style 3D-conv VQ-VAE made CPU-practical.

    Frames are pixel-unshuffled by `patch` first, so the heavy convolutions run
    at 1/patch resolution; one strided stage then brings time down by `down_t`
    and space by `down_s`. Axial attention runs only at latent resolution.
    """

    patch: int = 4  # pixel-unshuffle factor (3 -> 3*patch^2 channels)
    down_t: int = 2  # temporal downsampling of the strided stage
    down_s: int = 2  # spatial downsampling of the strided stage (after patchify)
    channels: int = 32  # width at 1/patch resolution
    latent_channels: int = 96  # width at latent resolution
    hi_res_blocks: int = 1  # residual blocks at 1/patch resolution (each side)
    res_blocks: int = 2  # residual blocks at latent resolution (each side)
    attn_blocks: int = 1  # axial-attention blocks at latent resolution
    attn_heads: int = 4
    embed_dim: int = 64  # dimension of the vectors the quantizer sees
    # A blockwise linear transform (one t x s x s block -> embed_dim, and back)
    # beside the networks, initialised by PCA of the training clips
    # (autoencoder.fit_linear_path): training starts at the PCA's quality
    # instead of from noise, and the networks learn what a linear map misses.
    linear_path: bool = False
    # Quality conditioning (autoencoder.QualityFilm): 0 = the networks never
    # see the quality; Q = a scalar model's Q qualities each get a per-channel
    # gain on the latents and a scale and shift of the networks' features, so
    # one model stops compromising between a coarse step (where the decoder
    # should smooth) and a fine one (where it should keep detail). Zero-
    # initialised: a conditioned model starts as the unconditioned one.
    quality_conditioned: int = 0
    # Conditional coding (autoencoder.ReferenceBranch): the encoder and decoder
    # of an inter GOP also see the last decoded frame of the previous GOP. They
    # get its features at both resolutions, and the latents become a residual:
    # the encoder subtracts alpha * (the linear path of the reference held
    # still), the decoder adds it back, with alpha learned per (quality,
    # channel). Static content then costs near-zero latents. Zero-initialised:
    # a model extended with it starts as the one it extends.
    reference: bool = False
    # Motion-compensated coding (needs `reference`): after an intra GOP, every
    # factor_t frames are coded as one step against a prediction clip, the
    # last decoded frame warped by sent motion fields (motion/prediction.py),
    # and the decoder adds back the prediction's detail that the latent
    # cannot hold (autoencoder.PredictionDetail). False: the reference is the
    # previous GOP's last decoded frame held still (format v5).
    motion: bool = False

    @property
    def factor_t(self) -> int:
        return self.down_t

    @property
    def factor_s(self) -> int:
        return self.patch * self.down_s


@dataclass(frozen=True)
class QuantizerConfig:
    """Residual VQ: `levels` codebooks of `codebook_size` codes each; or, when
    `scalar_steps` is set, scalar quantization (FSQ with many levels per
    channel): every one of the `dim` channels is rounded to a multiple of the
    quality's step and clamped to `codebook_size` symbols around zero.

    The prior codes "planes" of tokens in groups: residual VQ has one plane
    per level and one level per group; scalar quantization has one plane per
    channel, `channel_groups` groups of dim / channel_groups channels.
    """

    levels: int = 8
    codebook_size: int = 256
    dim: int = 64
    decay: float = 0.99  # EMA decay of codebook statistics
    dead_threshold: float = 0.5  # EMA usage below which a code is restarted
    commitment: float = 0.25
    # Predictive coding inside a GOP: latent frame 0 is quantized as it is
    # ("I"); every later one quantizes its difference from the previous
    # *decoded* latent frame ("P", closed loop, its own codebooks), so static
    # content costs near-zero tokens the prior predicts almost for free.
    predictive: bool = False
    # Scalar mode: quality q rounds z / scalar_steps[q - 1] (decreasing steps,
    # so a higher quality spends more bits); empty = residual VQ.
    scalar_steps: tuple[float, ...] = ()
    channel_groups: int = 8  # scalar mode: prior groups per latent frame
    rate_weight: float = 0.012  # scalar mode: training loss MSE + rate_weight * step^2 * bpp

    def __post_init__(self) -> None:
        object.__setattr__(self, "scalar_steps", tuple(float(v) for v in self.scalar_steps))
        if self.scalar:
            if self.predictive:
                raise ValueError("scalar quantization codes every latent frame alike (predictive must be false)")
            if self.dim % self.channel_groups:
                raise ValueError(f"dim ({self.dim}) must be a multiple of channel_groups ({self.channel_groups})")
            steps = self.scalar_steps
            if min(steps) <= 0 or any(not a > b for a, b in zip(steps, steps[1:])):
                raise ValueError(f"scalar_steps must be positive and decreasing, got {self.scalar_steps}")

    @property
    def scalar(self) -> bool:
        return bool(self.scalar_steps)

    @property
    def qualities(self) -> int:
        """How many qualities the quantizer offers (1..qualities)."""
        return len(self.scalar_steps) if self.scalar else self.levels

    @property
    def planes(self) -> int:
        """Token planes per latent position: levels (RVQ) or channels (scalar)."""
        return self.dim if self.scalar else self.levels

    @property
    def plane_groups(self) -> int:
        """Groups of planes the prior codes one after another (times two
        checkerboard passes): levels (RVQ) or channel_groups (scalar)."""
        return self.channel_groups if self.scalar else self.levels

    @property
    def planes_per_group(self) -> int:
        return self.planes // self.plane_groups

    def groups_at(self, quality: int) -> int:
        """Plane groups a stream of `quality` codes: the first q levels (RVQ), all (scalar)."""
        return self.plane_groups if self.scalar else quality

    @property
    def quality_contexts(self) -> int:
        """Distinct prior contexts per quality: scalar tokens depend on the step,
        so the prior is told the quality; RVQ levels are the same at any quality."""
        return len(self.scalar_steps) if self.scalar else 1

    def quality_context(self, quality):
        """The prior's quality context of `quality` (an int or a tensor of them):
        quality - 1 for scalar models, 0 for RVQ."""
        return quality - 1 if self.scalar else quality * 0

    @property
    def frame_kinds(self) -> int:
        """1 (every latent frame alike) or 2 (I and P latent frames)."""
        return 2 if self.predictive else 1

    def frame_kind(self, frame: int) -> int:
        """Kind of latent frame `frame` of a GOP: 0 (I) for the first or when
        not predictive, else 1 (P). Quantizer, prior and codec all ask here."""
        return int(self.predictive and frame > 0)

    @property
    def codebook_count(self) -> int:
        return self.frame_kinds * self.levels


# the recommended scalar model's steps, coarse to fine (latent units: the
# linear path's PCA coefficients of [0, 1] pixels)
SCALAR_STEPS = (4.0, 2.8, 2.0, 1.4, 1.0, 0.7, 0.5, 0.35, 0.25, 0.18)


@dataclass(frozen=True)
class PriorConfig:
    """Transformer entropy model over tiles of the latent token grid."""

    dim: int = 128
    layers: int = 4
    heads: int = 4
    tile: int = 8  # latent positions per tile side (8 = 64x64 pixels); cost is linear in the tile count
    mlp_ratio: int = 4
    # Temporal shortcuts (prior.py, "copy head" and "match context"); 0/False
    # is the architecture of models trained before them. copy_radius r adds
    # a learned logit to symbols prev-r .. prev+r of each plane, where prev is
    # that plane's token in the previous latent frame: "same as before" costs
    # the transformer one number instead of a copy through the embedding sum.
    copy_radius: int = 0
    # an embedding of how many already-known planes at a position equal the
    # previous frame's and how many differ: static regions made explicit
    match_context: bool = False
    # "transformer": the prior of format v1-v4 (prior.py, 16 full passes per
    # latent frame); "fast": format v5's (fast_prior.py): one context pass per
    # latent frame, 2 x len(channel_split) small coding passes, a discretized
    # Laplace per symbol, 8-bit exact arithmetic. The fields below are the fast
    # prior's; dim, layers, heads, tile and mlp_ratio size its context network.
    kind: str = "transformer"
    channel_split: tuple[int, ...] = ()  # channels per coding group (empty: a quarter, the rest)
    pass_hidden: int = 128  # width of the coding passes' MLPs

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_split", tuple(int(v) for v in self.channel_split))
        if self.kind not in PRIOR_KINDS:
            raise ValueError(f"unknown prior kind {self.kind!r} (choose {' or '.join(PRIOR_KINDS)})")

    @classmethod
    def fast(cls) -> "PriorConfig":
        """The recommended fast prior (format v5)."""
        return cls(kind="fast", dim=64, layers=2, heads=4, tile=8, mlp_ratio=2, channel_split=(16, 48),
                   pass_hidden=128)


PRIOR_KINDS = ("transformer", "fast")


@dataclass(frozen=True)
class CodecConfig:
    name: str = "default"
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    gop: int = 8  # frames per packet (a multiple of the temporal factor)
    intra_period: int = 32  # frames between prior-context resets (a multiple of gop)

    def __post_init__(self) -> None:
        t = self.autoencoder.factor_t
        if self.gop % t or self.intra_period % self.gop:
            raise ValueError(
                f"gop ({self.gop}) must be a multiple of {t} and intra_period "
                f"({self.intra_period}) a multiple of gop"
            )
        if self.autoencoder.embed_dim != self.quantizer.dim:
            raise ValueError("autoencoder.embed_dim must equal quantizer.dim")
        if self.prior.kind == "fast" and not self.quantizer.scalar:
            raise ValueError("the fast prior needs a scalar quantizer")
        if self.autoencoder.reference and not self.quantizer.scalar:
            raise ValueError("autoencoder.reference (conditional coding) needs a scalar quantizer")
        if self.autoencoder.motion and not (self.autoencoder.reference and self.autoencoder.linear_path):
            raise ValueError("autoencoder.motion (motion-compensated coding) needs the reference branch "
                             "and the linear path")
        qc = self.autoencoder.quality_conditioned
        if qc and qc != self.quantizer.qualities:
            raise ValueError(f"autoencoder.quality_conditioned ({qc}) must be 0 or the quantizer's "
                             f"qualities ({self.quantizer.qualities})")

    @property
    def qualities(self) -> list[int]:
        """Quality q uses the first q residual levels, or the q-th scalar step."""
        return list(range(1, self.quantizer.qualities + 1))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def recommended(cls, name: str = "custom", quantizer: str = "scalar", prior: str = "fast") -> "CodecConfig":
        """The architectures `vqcodec train --quantizer rvq|scalar` builds: a
        PCA-initialised linear path, GOPs of 16 frames, intra periods of 128,
        and either predictive RVQ (8 latent frames: 1 I + 7 P) or scalar
        quantization at 10 steps (about sqrt(2) apart: quality +1 ~ +1 dB),
        128 symbols per channel, networks conditioned on the quality and on
        the previous GOP's last decoded frame, coded by the fast prior (format
        v5; the transformer prior of v1-v4 with `prior="transformer"`)."""
        if quantizer == "scalar":
            q = QuantizerConfig(codebook_size=128, scalar_steps=SCALAR_STEPS, channel_groups=8)
            # neighbouring symbols are neighbouring values: the transformer prior copies prev +- 2
            p = PriorConfig.fast() if prior == "fast" else PriorConfig(copy_radius=2, match_context=True)
        elif quantizer == "rvq":
            q, p = QuantizerConfig(predictive=True, commitment=0.1), PriorConfig()
        else:
            raise ValueError(f"unknown quantizer {quantizer!r} (choose rvq or scalar)")
        # intra period 128 frames: the prior's context resets (random access, error
        # containment) about every 5 s at 25 fps; x264's default keyint is 250
        ae = AutoencoderConfig(linear_path=True, quality_conditioned=q.qualities if q.scalar else 0,
                               reference=q.scalar)
        return cls(name=name, autoencoder=ae, quantizer=q, prior=p,
                   gop=16, intra_period=128)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CodecConfig":
        try:
            return cls(
                name=str(d["name"]),
                autoencoder=AutoencoderConfig(**d["autoencoder"]),
                quantizer=QuantizerConfig(**d["quantizer"]),
                prior=PriorConfig(**d["prior"]),
                gop=int(d["gop"]),
                intra_period=int(d["intra_period"]),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"invalid model config: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> "CodecConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"model config is not valid JSON: {e}") from None
        return cls.from_dict(d)
