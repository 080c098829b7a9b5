"""Metrics against known values and independent references (pytorch_msssim, libswscale)."""
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from vqcodec.media import metrics
from vqcodec.media.metrics import bits_per_pixel, kbps, ms_ssim_rgb, psnr_rgb, psnr_yuv611, psnr_yuv_planes


def _photo_clip(h: int, w: int, frames: int = 2) -> np.ndarray:
    img = data.astronaut()  # (512, 512, 3) uint8
    return np.stack([img[8 * t : 8 * t + h, 16 * t : 16 * t + w] for t in range(frames)])


def _noisy(clip: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, clip.shape)
    return np.clip(clip + noise, 0, 255).astype(np.uint8)


def test_psnr_rgb_constant_error_of_one():
    ref = np.full((3, 8, 10, 3), 100, np.uint8)
    assert psnr_rgb(ref, ref + 1) == pytest.approx(10 * math.log10(255**2), abs=1e-9)
    assert psnr_rgb(ref, ref + 1) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_pools_mse_over_the_clip():
    ref = np.full((2, 4, 4, 3), 50, np.uint8)
    test = ref.copy()
    test[1] += 2  # frame 0 perfect, frame 1 error 2 -> clip MSE 2
    assert psnr_rgb(ref, test) == pytest.approx(10 * math.log10(255**2 / 2.0))


def test_identical_clips_are_infinite():
    clip = _photo_clip(32, 48)
    assert psnr_rgb(clip, clip) == math.inf
    assert psnr_yuv611(clip, clip) == math.inf


def test_shape_and_dtype_checks():
    clip = _photo_clip(32, 48)
    with pytest.raises(ValueError):
        psnr_rgb(clip, clip[:1])
    with pytest.raises(ValueError):
        psnr_rgb(clip, clip.astype(np.float32))


def test_yuv_conversion_levels():
    # black, white, pure blue, pure red as 2x2 blocks: BT.601 limited range
    colors = np.array([[0, 0, 0], [255, 255, 255], [0, 0, 255], [255, 0, 0]], np.uint8)
    clip = np.repeat(np.repeat(colors[None, None], 2, axis=1), 2, axis=2)  # (1, 2, 8, 3)
    y, u, v = metrics._rgb_to_yuv420(clip)
    assert y[0, 0, ::2].tolist() == [16, 235, 41, 81]
    assert u[0, 0].tolist() == [128, 128, 240, 90]
    assert v[0, 0].tolist() == [128, 128, 110, 240]


def test_yuv_luma_matches_libswscale():
    av = pytest.importorskip("av")
    img = _photo_clip(64, 96, frames=1)[0]
    planes = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p").to_ndarray()
    y_sws = planes[:64].astype(int)  # yuv420p ndarray: Y rows, then U and V packed
    y_ours = metrics._rgb_to_yuv420(img[None])[0][0].astype(int)
    assert np.abs(y_sws - y_ours).max() <= 1


def test_yuv611_weighting():
    clip = _photo_clip(32, 48)
    p = psnr_yuv_planes(clip, _noisy(clip, 4.0))
    assert p.weighted == pytest.approx((6 * p.y + p.u + p.v) / 8)
    assert psnr_yuv611(clip, _noisy(clip, 4.0)) == pytest.approx(p.weighted)
    assert 30 < p.y < 50  # RGB noise sigma 4 -> luma noise ~ 4 * 219/255


def test_ms_ssim_identical_is_one_and_falls_with_noise():
    clip = _photo_clip(144, 176)  # QCIF: the small-frame path
    assert ms_ssim_rgb(clip, clip) == pytest.approx(1.0, abs=1e-12)
    values = [ms_ssim_rgb(clip, _noisy(clip, s)) for s in (2.0, 8.0, 32.0)]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0


def test_ms_ssim_matches_pytorch_msssim_on_large_frames():
    pm = pytest.importorskip("pytorch_msssim")
    clip = _photo_clip(192, 208)  # smaller side > 160: pytorch_msssim accepts it
    noisy = _noisy(clip, 10.0)
    to_t = lambda c: torch.from_numpy(c).permute(0, 3, 1, 2).double()  # noqa: E731 (T, 3, H, W)
    win = metrics._gaussian_1d(11, 1.5).view(1, 1, 1, 11).repeat(3, 1, 1, 1)  # float64 window
    expected = pm.ms_ssim(to_t(clip), to_t(noisy), data_range=255, win=win).item()
    assert ms_ssim_rgb(clip, noisy) == pytest.approx(expected, abs=1e-10)


def test_ms_ssim_small_frames_shrink_the_coarsest_window():
    # Independent of our conv code: pytorch_msssim's own SSIM at each scale,
    # with the window we document (11 where it fits, else largest odd side).
    ssim_mod = pytest.importorskip("pytorch_msssim.ssim")
    clip = _photo_clip(144, 176)
    noisy = _noisy(clip, 10.0)
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).double()
    y = torch.from_numpy(noisy).permute(0, 3, 1, 2).double()
    factors = []
    for level, weight in enumerate(metrics.MS_SSIM_WEIGHTS):
        size = min(11, *x.shape[-2:])
        size -= 1 - size % 2
        win = metrics._gaussian_1d(size, 1.5).view(1, 1, 1, size).repeat(3, 1, 1, 1)
        ssim, cs = ssim_mod._ssim(x, y, data_range=255, win=win, size_average=False)
        factors.append(torch.relu(ssim if level == 4 else cs) ** weight)
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)  # QCIF sides stay even
    expected = torch.stack(factors).prod(0).mean().item()
    assert ms_ssim_rgb(clip, noisy) == pytest.approx(expected, abs=1e-10)


def test_ms_ssim_rejects_tiny_frames():
    clip = np.zeros((1, 32, 32, 3), np.uint8)  # coarsest scale 2x2
    with pytest.raises(ValueError, match="too small"):
        ms_ssim_rgb(clip, clip)


def test_bits_per_pixel_and_kbps():
    assert bits_per_pixel(1000, 176, 144, 10) == pytest.approx(8000 / (176 * 144 * 10))
    assert kbps(1000, 30, Fraction(30)) == pytest.approx(8.0)  # 8000 bits in 1 s
    ntsc = Fraction(30000, 1001)
    assert kbps(1000, 30, ntsc) == pytest.approx(8000 / (30 / ntsc) / 1000)
    assert kbps(125, 25, 25) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bits_per_pixel(1, 0, 1, 1)
