"""Bjøntegaard deltas (BD-rate, BD-PSNR) with piecewise cubic (PCHIP) interpolation.

The arithmetic is the maintained `bjontegaard` package (FAU-LMS; its PCHIP
matches the JCT-VC/JVET CTC Excel sheets). It already integrates over the
overlap of the two curves only: BD-rate interpolates log10(rate) as a function
of quality for each curve and averages the difference over
[max(min quality), min(max quality)]; BD-PSNR swaps the roles. This module adds
what a benchmark needs around it:

- inputs are validated (>= 2 finite points per curve, positive rates, no two
  points at the same base value) and sorted, so the library's "x must be
  increasing" assumption always holds;
- curves that do not overlap raise ValueError (the library only warns and
  returns NaN); a partial overlap is accepted silently, and `quality_overlap`
  / `rate_overlap` say how much of the curves the figure rests on, so reports
  can print it.

Rates may be in any unit (bytes, bpp, kbps) as long as both curves use the same.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bjontegaard
import numpy as np

METHOD = "pchip"
MIN_POINTS = 2  # PCHIP needs two points; four or more is customary


@dataclass(frozen=True)
class Overlap:
    """The shared interval of two curves along one axis."""

    lo: float
    hi: float
    fraction: float  # (hi - lo) / (extent of both curves together), in (0, 1]


def _curve(rates: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one RD curve -> (rates, quality) float64 arrays of shape (n,)."""
    r = np.asarray(rates, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.ndim != 1 or q.ndim != 1 or r.shape != q.shape:
        raise ValueError(f"{name}: rates and quality must be 1-D of equal length, got {r.shape} and {q.shape}")
    if len(r) < MIN_POINTS:
        raise ValueError(f"{name}: need at least {MIN_POINTS} rate-quality points, got {len(r)}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise ValueError(f"{name}: rates and quality must be finite (a lossless point has PSNR inf)")
    if np.any(r <= 0):
        raise ValueError(f"{name}: rates must be positive")
    return r, q


def _sorted_by(base: np.ndarray, other: np.ndarray, name: str, axis: str) -> tuple[np.ndarray, np.ndarray]:
    # The interpolant is a function of `base`: sort by it and require distinct values.
    order = np.argsort(base, kind="stable")
    base, other = base[order], other[order]
    if np.any(np.diff(base) <= 0):
        raise ValueError(f"{name}: two points share the same {axis}; cannot interpolate")
    return base, other


def _overlap(a: np.ndarray, b: np.ndarray, axis: str) -> Overlap:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if not hi > lo:
        raise ValueError(
            f"curves do not overlap in {axis}: anchor spans [{a.min():.4g}, {a.max():.4g}], "
            f"test spans [{b.min():.4g}, {b.max():.4g}]"
        )
    extent = max(a.max(), b.max()) - min(a.min(), b.min())
    return Overlap(lo=float(lo), hi=float(hi), fraction=float((hi - lo) / extent))


def quality_overlap(anchor_quality: Sequence[float], test_quality: Sequence[float]) -> Overlap:
    """The quality interval BD-rate averages over; ValueError if there is none."""
    return _overlap(np.asarray(anchor_quality, float), np.asarray(test_quality, float), "quality")


def rate_overlap(anchor_rates: Sequence[float], test_rates: Sequence[float]) -> Overlap:
    """The rate interval (in log10 rate) BD-PSNR averages over; ValueError if none."""
    return _overlap(np.log10(np.asarray(anchor_rates, float)), np.log10(np.asarray(test_rates, float)), "rate")


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
) -> float:
    """Average rate difference of test vs anchor at equal quality, in percent.

    Negative means the test codec needs fewer bits (-50: half the rate).
    Averaged over the overlapping quality range only.
    """
    ra, qa = _curve(anchor_rates, anchor_quality, "anchor")
    rt, qt = _curve(test_rates, test_quality, "test")
    qa, ra = _sorted_by(qa, ra, "anchor", "quality")
    qt, rt = _sorted_by(qt, rt, "test", "quality")
    quality_overlap(qa, qt)  # raises when the curves do not overlap
    value = bjontegaard.bd_rate(ra, qa, rt, qt, method=METHOD, require_matching_points=False, min_overlap=0.0)
    if not np.isfinite(value):
        raise ValueError(f"BD-rate is not finite ({value}); check the curves")
    return float(value)


def points_bd_rate(anchor: Sequence[dict], test: Sequence[dict]) -> float:
    """bd_rate of two curves given as points {"bytes", "psnr_rgb"} (the probes' rows)."""
    return bd_rate([p["bytes"] for p in anchor], [p["psnr_rgb"] for p in anchor],
                   [p["bytes"] for p in test], [p["psnr_rgb"] for p in test])


def bd_psnr(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
) -> float:
    """Average quality difference of test vs anchor at equal rate (dB for PSNR).

    Positive means the test codec is better. Averaged over the overlapping
    log-rate range only.
    """
    ra, qa = _curve(anchor_rates, anchor_quality, "anchor")
    rt, qt = _curve(test_rates, test_quality, "test")
    ra, qa = _sorted_by(ra, qa, "anchor", "rate")
    rt, qt = _sorted_by(rt, qt, "test", "rate")
    rate_overlap(ra, rt)
    value = bjontegaard.bd_psnr(ra, qa, rt, qt, method=METHOD, require_matching_points=False, min_overlap=0.0)
    if not np.isfinite(value):
        raise ValueError(f"BD-PSNR is not finite ({value}); check the curves")
    return float(value)
