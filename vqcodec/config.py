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

    @property
    def factor_t(self) -> int:
        return self.down_t

    @property
    def factor_s(self) -> int:
        return self.patch * self.down_s


@dataclass(frozen=True)
class QuantizerConfig:
    """Residual VQ: `levels` codebooks of `codebook_size` codes each."""

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


@dataclass(frozen=True)
class PriorConfig:
    """Transformer entropy model over tiles of the latent token grid."""

    dim: int = 128
    layers: int = 4
    heads: int = 4
    tile: int = 8  # latent positions per tile side (8 = 64x64 pixels); cost is linear in the tile count
    mlp_ratio: int = 4


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

    @property
    def qualities(self) -> list[int]:
        """Quality q uses the first q residual levels."""
        return list(range(1, self.quantizer.levels + 1))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def recommended(cls, name: str = "custom") -> "CodecConfig":
        """The architecture `vqcodec train` builds when not told otherwise (and
        the shipped default's): PCA-initialised linear path, predictive RVQ in
        GOPs of 16 frames (8 latent frames: 1 I + 7 P)."""
        return cls(
            name=name,
            autoencoder=AutoencoderConfig(linear_path=True),
            quantizer=QuantizerConfig(predictive=True, commitment=0.1),
            gop=16,
            intra_period=32,
        )

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
