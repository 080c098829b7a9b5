"""How the encoder turns scaled latents into scalar tokens: the decoder never knows.

A scalar-quantized model (scalar_quantizer.py) rounds u = z / step to an
integer symbol. Which integer is the encoder's choice alone: the decoder
decodes whatever symbols the stream holds and multiplies them by the step.
So the encoder may trade a little distortion for rate, the way H.264/HEVC
encoders do with rate-distortion optimised quantization (RDOQ):

    NearestRounding          round(u), what training sees (the reference)
    RateDistortionRounding   argmin over k in {round(u) - 1, round(u), round(u) + 1} of
                             (u - k)^2 + lmbda * bits(k)

where bits(k) = -log2 p(k) under the integer tables the range coder is about
to use for that very symbol, so the rate term is the exact code length. The
distortion term is in units of step^2, so one lmbda serves every quality.
Squared error in z stands in for pixel error: the linear path is an
orthonormal PCA basis of the pixel blocks, but the networks beside it are
not linear, so the stand-in is rough (which is why small lmbdas win).

Symbols are chosen group by group inside the coding loop (codec.py), so a
changed symbol is the context of every later group, on both sides. The
stream format does not change: any decoder decodes these streams.

lmbda was tuned on held-out footage (the second half of bikes.mp4), never on
the evaluation clip: see DEFAULT_LAMBDA.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# lmbda of the default encoder for scalar models (bits weighted against
# squared error in steps); tuned on the second half of bikes.mp4 with
# benchmarks/rounding_lambda.py (benchmarks/results/rounding/): 0.03 saves
# 2.8 % (BD-rate) against nearest rounding, 0.06 1.6 %, and 0.1 already costs
# 2 %: the decoder is not linear, so latent error hurts more than its share
# of pixel error, and the gain is small. Re-checked on the eleventh recipe
# stage's model (benchmarks/results/rounding/bal3/): 0.03 -1.2 %, 0.06 +1.9 %;
# on the twelfth's (rounding/bal4/): 0.03 -1.0 %, 0.06 +1.8 %, 0.1 +7.1 %; and on
# the thirteenth's (rounding/bal5/): 0.03 -0.9 %, 0.06 +2.6 %, 0.1 +8.0 %.
# The motion-compensated model (format v7) takes more: against 0.03, 0.045
# saves 0.52 % on held-out bikes (rounding/motion_v7/; 0.06 +0.29 %, 0.015
# +1.11 %) and 0.86 % on synthetic:static (rounding/motion_v7_static/).
DEFAULT_LAMBDA = 0.045


def nearest_symbols(u: np.ndarray, K: int) -> np.ndarray:
    """u (any shape) float32 latents in steps -> symbols int64 in [0, K): the
    same as ScalarQuantizer.encode (both round half to even)."""
    half = K // 2
    return (np.clip(np.rint(u), -half, half - 1) + half).astype(np.int64)


@dataclass(frozen=True)
class NearestRounding:
    """round(u), clamped to the K symbols: the quantizer's own rounding."""

    def choose(self, u: np.ndarray, rows) -> np.ndarray:
        """u (P,) float32 latents in steps (zero-centred); rows: the tables of
        their symbols (range_coder.FrequencyRows or laplace_tables.LaplaceRows:
        an alphabet size K and bits(candidates)) -> symbols (P,) int64 in [0, K)."""
        return nearest_symbols(u, rows.K)


@dataclass(frozen=True)
class RateDistortionRounding(NearestRounding):
    """argmin_k (u - k)^2 + lmbda * bits(k) over the nearest symbol and its
    two neighbours; lmbda = 0 is NearestRounding."""

    lmbda: float = DEFAULT_LAMBDA

    def __post_init__(self) -> None:
        if not (self.lmbda >= 0 and np.isfinite(self.lmbda)):
            raise ValueError(f"rate-distortion lambda must be a finite number >= 0, got {self.lmbda}")

    def choose(self, u: np.ndarray, rows) -> np.ndarray:
        P, K = len(u), rows.K
        half = K // 2
        if self.lmbda == 0:
            return super().choose(u, rows)
        # candidates (P, 3), zero-centred, clamped to the alphabet
        cand = np.clip(np.rint(u)[:, None] + np.array([0.0, -1.0, 1.0]), -half, half - 1)
        idx = (cand + half).astype(np.int64)  # (P, 3) symbols
        bits = rows.bits(idx)  # (P, 3) code lengths
        cost = (u.astype(np.float64)[:, None] - cand) ** 2 + self.lmbda * bits
        best = np.argmin(cost, axis=1)  # ties: the first, so the nearest wins
        return idx[np.arange(P), best]


def rounding_for(lmbda: float | None) -> NearestRounding:
    """The rounding an encoder uses: None = the default (rate-distortion at
    DEFAULT_LAMBDA), 0 = nearest, else rate-distortion at lmbda."""
    if lmbda is None:
        return RateDistortionRounding(DEFAULT_LAMBDA)
    return NearestRounding() if lmbda == 0 else RateDistortionRounding(float(lmbda))
