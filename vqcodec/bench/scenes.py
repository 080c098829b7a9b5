"""Deterministic synthetic benchmark scenes: a static camera, and a camera pan.

The training generator (vqcodec.training.synthetic) draws every clip at
random; a benchmark needs the SAME pixels on every run and every machine, and
scenes that stand for a use case:

- "static": a fixed camera on a photo (scikit-image's `coffee`) with two
  objects moving across it (patches of `astronaut` and `rocket`, one of them
  elliptic) and mild sensor noise. What a surveillance or video-call camera
  sees: most of the frame never changes.
- "pan": the camera pans across `rocket` at 2 px/frame to the right and
  0.25 px/frame down (sub-pixel, so every frame is resampled), with the same
  mild noise. Global motion, nothing else.

Both reuse the training generator's renderer (bilinear sampling, sprite
compositing, noise bank) through an explicit ClipPlan, so nothing random is
drawn. The photos are the ones `vqcodec train --synthetic` uses: these scenes
are inside the shipped model's training domain (a different composition of
the same photos); reports say so.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vqcodec.training.synthetic import Bank, ClipPlan, SpritePlan, load_bank, render_clip

NOISE_STD = 1.0  # in 0..255 units: a clean sensor
PAN_VELOCITY = (2.0, 0.25)  # (x, y) output pixels per frame


def _photo(bank: Bank, name: str) -> int:
    for i, p in enumerate(bank.photos):
        if p.name == name:
            return i
    raise LookupError(f"scikit-image photo {name!r} is not available in this installation")


def _fit_scale(photo: np.ndarray, need_w: float, need_h: float) -> float:
    """Source pixels per output pixel: 1 when the photo is big enough, less (zoom in) when not."""
    _, hp, wp = photo.shape
    return min(1.0, (wp - 3) / need_w, (hp - 3) / need_h)


def _sprite(bank: Bank, name: str, frames: int, height: int, width: int, size: tuple[float, float],
            src_origin: tuple[float, float], start: tuple[float, float], velocity: tuple[float, float],
            ellipse: bool) -> SpritePlan:
    """A patch of `name` (size as a fraction of the frame, origin as a fraction of the photo)
    moving from `start` (fraction of the frame, (y, x)) at `velocity` px/frame (y, x)."""
    photo = _photo(bank, name)
    level = 1  # half-size photo: a small object with detail
    src = bank.photos[photo].levels[level]
    h = int(min(max(3, round(size[0] * height)), src.shape[1] - 2))
    w = int(min(max(3, round(size[1] * width)), src.shape[2] - 2))
    top = int(src_origin[0] * (src.shape[1] - h))
    left = int(src_origin[1] * (src.shape[2] - w))
    t = np.arange(frames, dtype=np.float64)[:, None]
    pos = np.array([start[0] * height, start[1] * width]) + t * np.array(velocity)  # (T, 2) (y, x)
    return SpritePlan(photo, level, top, left, h, w, ellipse, pos)


def static_scene(frames: int, width: int, height: int) -> np.ndarray:
    """Fixed camera on `coffee`, two moving objects: (T, H, W, 3) uint8 RGB."""
    bank = load_bank()
    photo = _photo(bank, "coffee")
    src = bank.photos[photo].levels[0]  # (3, 400, 600)
    s = _fit_scale(src, width, height)
    x0 = (src.shape[2] - 1 - s * (width - 1)) / 2  # centred view
    y0 = (src.shape[1] - 1 - s * (height - 1)) / 2
    affine = np.tile(np.array([[s, 0.0, x0], [0.0, s, y0]], np.float32), (frames, 1, 1))  # (T, 2, 3)
    sprites = (
        _sprite(bank, "astronaut", frames, height, width, (0.30, 0.22), (0.2, 0.4),
                (0.35, 0.02), (0.15, 1.6), ellipse=True),
        _sprite(bank, "rocket", frames, height, width, (0.22, 0.30), (0.35, 0.62),
                (0.1, 0.75), (0.6, -1.1), ellipse=False),
    )
    plan = ClipPlan((frames, height, width), photo, 0, affine, True,
                    np.ones((frames, 3), np.float32), NOISE_STD, 0, sprites)
    return render_clip(plan, bank)


def pan_scene(frames: int, width: int, height: int) -> np.ndarray:
    """Camera pan across `rocket`: (T, H, W, 3) uint8 RGB."""
    bank = load_bank()
    photo = _photo(bank, "rocket")
    src = bank.photos[photo].levels[0]  # (3, 427, 640)
    vx, vy = PAN_VELOCITY
    travel = max(frames - 1, 0)
    s = _fit_scale(src, width + vx * travel, height + vy * travel)
    t = np.arange(frames, dtype=np.float64)
    x = 1.0 + s * vx * t  # source x of the view's left column per frame
    y = 1.0 + s * vy * t
    affine = np.zeros((frames, 2, 3), np.float32)
    affine[:, 0, 0] = affine[:, 1, 1] = s
    affine[:, 0, 2], affine[:, 1, 2] = x, y
    plan = ClipPlan((frames, height, width), photo, 0, affine, False,
                    np.ones((frames, 3), np.float32), NOISE_STD, 0, ())
    return render_clip(plan, bank)


SCENES: dict[str, Callable[[int, int, int], np.ndarray]] = {"static": static_scene, "pan": pan_scene}
DEFAULT_SIZE = (352, 288)  # CIF
DEFAULT_FRAMES = 48
