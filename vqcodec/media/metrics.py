"""Quality and rate metrics for clips of uint8 RGB frames (T, H, W, 3).

Every function here compares a reference clip with a test clip of the same shape
and reduces over the whole clip, the way the benchmark protocol in DESIGN.md
asks: PSNR on RGB, PSNR on YUV 4:2:0 weighted 6:1:1, MS-SSIM on RGB, and the
rate figures bits per pixel and kbps. Nothing here knows about codecs.

PSNR pools the squared error over the whole clip before the logarithm (one MSE
per clip, not a mean of per-frame PSNRs), so a single perfect frame cannot make
a clip's PSNR infinite. MS-SSIM is a mean over frames and channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

PEAK = 255.0

# MS-SSIM constants (Wang, Simoncelli, Bovik 2003): per-scale exponents, window.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_WINDOW = 11
MS_SSIM_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03
_MIN_COARSE_SIDE = 3  # smallest side allowed at the coarsest scale (window >= 3)
_FRAMES_PER_CHUNK = 16  # bounds float64 working memory of MS-SSIM on long clips


@dataclass(frozen=True)
class YuvPsnr:
    """PSNR (dB) of each plane of YUV 4:2:0 over a clip, and the 6:1:1 blend."""

    y: float
    u: float
    v: float
    weighted: float  # (6*y + u + v) / 8; inf as soon as any plane is identical


def _check_pair(ref: np.ndarray, test: np.ndarray) -> None:
    if ref.shape != test.shape:
        raise ValueError(f"clip shapes differ: {ref.shape} vs {test.shape}")
    if ref.dtype != np.uint8 or test.dtype != np.uint8:
        raise ValueError(f"clips must be uint8, got {ref.dtype} and {test.dtype}")
    if ref.ndim != 4 or ref.shape[-1] != 3 or min(ref.shape[:3]) == 0:
        raise ValueError(f"clips must be non-empty (T, H, W, 3), got {ref.shape}")


def _psnr_from_mse(mse: float) -> float:
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK * PEAK / mse)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    # float64 so that long clips do not lose precision in the sum
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr_rgb(ref: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels of the clip; inf if identical."""
    _check_pair(ref, test)
    return _psnr_from_mse(_mse(ref, test))


# --- YUV 4:2:0 -------------------------------------------------------------
# BT.601, limited ("TV") range, as libswscale converts rgb24 -> yuv420p by
# default: Y in [16, 235], Cb/Cr in [16, 240], each rounded to 8 bits.
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB


def _rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8 -> Y (T, H, W), U and V (T, ceil(H/2), ceil(W/2)), uint8.

    Chroma is computed from the mean RGB of each 2x2 block (the conversion is
    linear, so this equals averaging full-resolution chroma before rounding).
    Odd sizes replicate the last row/column, as the yuv420p plane sizes are
    rounded up. Luma matches libswscale to 1 code; libswscale's own chroma
    filter is not a plain 2x2 mean and differs by a few codes at sharp edges.
    """
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16.0 + 219.0 / 255.0 * (_KR * r + _KG * g + _KB * b)
    t, h, w, _ = x.shape
    x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    # (T, H2, 2, W2, 2, 3) -> mean over the two 2-axes -> (T, H2, W2, 3)
    x = x.reshape(t, x.shape[1] // 2, 2, x.shape[2] // 2, 2, 3).mean(axis=(2, 4))
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    luma = _KR * r + _KG * g + _KB * b
    u = 128.0 + 224.0 / 255.0 * (b - luma) / (2.0 * (1.0 - _KB))
    v = 128.0 + 224.0 / 255.0 * (r - luma) / (2.0 * (1.0 - _KR))

    def to_u8(p: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(p), 0, 255).astype(np.uint8)

    return to_u8(y), to_u8(u), to_u8(v)


def psnr_yuv_planes(ref: np.ndarray, test: np.ndarray) -> YuvPsnr:
    """Per-plane PSNR of both clips converted to YUV 4:2:0 (BT.601 limited)."""
    _check_pair(ref, test)
    planes = [_psnr_from_mse(_mse(a, b)) for a, b in zip(_rgb_to_yuv420(ref), _rgb_to_yuv420(test))]
    y, u, v = planes
    return YuvPsnr(y=y, u=u, v=v, weighted=(6.0 * y + u + v) / 8.0)


def psnr_yuv611(ref: np.ndarray, test: np.ndarray) -> float:
    """(6*PSNR_Y + PSNR_U + PSNR_V) / 8 on YUV 4:2:0; inf if identical."""
    return psnr_yuv_planes(ref, test).weighted


# --- MS-SSIM ---------------------------------------------------------------
# Follows pytorch_msssim (the implementation CompressAI and most learned-codec
# papers report): separable Gaussian window applied "valid" (no padding), SSIM
# and contrast-structure maps averaged per channel, negative values clamped to
# 0 before the exponents, 2x2 average pooling between scales. For frames large
# enough for pytorch_msssim (smaller side > 160) the result is the same.
#
# Small frames. 5 scales of an 11x11 window need a smaller side > 160 px;
# QCIF (176x144) reaches 11x9 at the 5th scale. We keep all 5 scales and the
# standard weights, and at any scale whose smaller side is below 11 we shrink
# the window to the largest odd size that fits (sigma stays 1.5, the window is
# renormalised). For QCIF only the coarsest scale changes (9x9 window on 11x9 px);
# a 9-tap Gaussian with sigma 1.5 holds >99% of the 11-tap one's mass. Images
# whose coarsest scale is below 3 px raise ValueError. Odd sizes are padded by
# replicating the last row/column before pooling (pytorch_msssim pads zeros).


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    import torch
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _blur_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F
    # x: (N, 1, H, W); g: (k,) -> (N, 1, H-k+1, W-k+1), separable
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, k, 1))
    return F.conv2d(x, g.view(1, 1, 1, k))


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x, y: (N, 1, H, W) float64 in [0, 255] -> SSIM and CS means, each (N,)."""
    c1, c2 = (_K1 * PEAK) ** 2, (_K2 * PEAK) ** 2
    mu_x, mu_y = _blur_valid(x, g), _blur_valid(y, g)
    var_x = _blur_valid(x * x, g) - mu_x * mu_x
    var_y = _blur_valid(y * y, g) - mu_y * mu_y
    cov = _blur_valid(x * y, g) - mu_x * mu_y
    cs_map = (2.0 * cov + c2) / (var_x + var_y + c2)
    lum_map = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return (lum_map * cs_map).flatten(1).mean(1), cs_map.flatten(1).mean(1)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F
    # (N, 1, H, W) -> (N, 1, ceil(H/2), ceil(W/2)); odd sides replicate the edge
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, kernel_size=2)


def _window_size(h: int, w: int) -> int:
    side = min(h, w, MS_SSIM_WINDOW)
    return side if side % 2 else side - 1


def _ms_ssim_batch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x, y: (N, 1, H, W) float64 -> MS-SSIM per image, (N,)."""
    import torch
    factors = []
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        g = _gaussian_1d(_window_size(*x.shape[-2:]), MS_SSIM_SIGMA)
        ssim, cs = _ssim_and_cs(x, y, g)
        last = level == len(MS_SSIM_WEIGHTS) - 1
        factors.append(torch.relu(ssim if last else cs) ** weight)
        if not last:
            x, y = _downsample(x), _downsample(y)
    return torch.stack(factors).prod(0)


def ms_ssim_rgb(ref: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM (5 scales, Gaussian 11x11, sigma 1.5) per frame and RGB channel, averaged."""
    import torch
    _check_pair(ref, test)
    t, h, w, _ = ref.shape
    coarse_h, coarse_w = h, w
    for _ in range(len(MS_SSIM_WEIGHTS) - 1):
        coarse_h, coarse_w = -(-coarse_h // 2), -(-coarse_w // 2)
    if min(coarse_h, coarse_w) < _MIN_COARSE_SIDE:
        raise ValueError(
            f"frames of {w}x{h} are too small for {len(MS_SSIM_WEIGHTS)}-scale MS-SSIM "
            f"(coarsest scale {coarse_w}x{coarse_h}, needs >= {_MIN_COARSE_SIDE} px)"
        )
    total = 0.0
    with torch.no_grad():
        for start in range(0, t, _FRAMES_PER_CHUNK):
            # (t', H, W, 3) uint8 -> (t' * 3, 1, H, W) float64: channels become images
            def planes(clip: np.ndarray) -> torch.Tensor:
                chunk = torch.from_numpy(np.ascontiguousarray(clip[start : start + _FRAMES_PER_CHUNK]))
                return chunk.permute(0, 3, 1, 2).reshape(-1, 1, h, w).to(torch.float64)

            total += float(_ms_ssim_batch(planes(ref), planes(test)).sum())
    return total / (t * 3)


# --- rate ------------------------------------------------------------------


def bits_per_pixel(num_bytes: int, width: int, height: int, frames: int) -> float:
    """Bits per pixel of a stream of num_bytes coding frames of width x height."""
    if width <= 0 or height <= 0 or frames <= 0:
        raise ValueError(f"need positive width, height, frames; got {width}, {height}, {frames}")
    return 8.0 * num_bytes / (width * height * frames)


def kbps(num_bytes: int, frames: int, fps: Fraction) -> float:
    """Bit rate in kilobits (1000 bits) per second of frames played at fps."""
    fps = Fraction(fps)
    if frames <= 0 or fps <= 0:
        raise ValueError(f"need positive frames and fps; got {frames}, {fps}")
    seconds = frames / fps  # exact rational duration
    return float(8 * num_bytes / seconds) / 1000.0
