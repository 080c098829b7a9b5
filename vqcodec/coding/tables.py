"""The prior's arithmetic: network outputs -> integer frequency tables.

Which arithmetic a stream was coded with is part of its format version
(format/versions.py): streams of versions 1-3 were coded with the float prior
(FloatTables, kept so they still decode on the machine kind that wrote them);
version 4 streams use the integer prior (IntegerTables), whose tables are the
same on every machine. Both turn the prior's logits for a group of positions
into the frequency tables the range coder uses (cdf.py is where floats or
fixed-point values become integers).
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.prior import Prior
from . import cdf
from .integer_prior import IntegerPrior


class FloatTables:
    """Versions 1-3: float32 prior -> cdf.frequencies. Bit-exact only where the
    float arithmetic is identical (same kind of machine and library)."""

    def __init__(self, prior: Prior):
        self.prior = prior

    def logits(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        return self.prior(cur, prev, group)  # (B, S, K) float32

    def tables(self, lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """logits (P, K) -> (frequencies (P, K), float logits for the ideal-bits report)."""
        return cdf.frequencies(lg), lg


class IntegerTables:
    """Version 4: integer prior -> cdf.frequencies_from_fixed, integers end to end."""

    def __init__(self, prior: IntegerPrior):
        self.prior = prior

    @classmethod
    def of(cls, prior: Prior, device: torch.device) -> IntegerTables:
        """Convert a float prior's weights to the integer prior (milliseconds)."""
        return cls(IntegerPrior(prior).to(device))

    def logits(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        return self.prior(cur, prev, group)  # (B, S, K) int64, FRAC fractional bits

    def tables(self, lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cdf.frequencies_from_fixed(lg, self.prior.frac), lg / float(1 << self.prior.frac)


Tables = FloatTables | IntegerTables
