"""Synthetic training video: scikit-image's bundled photos moved by a virtual camera.

No network and no video files needed: every clip is a photo seen through a
camera that pans, zooms and rotates a little (or stands still), with a few
small patches of another photo ("sprites") sliding across it, a per-clip colour
balance, slow exposure drift and sensor noise. A clip is fully determined by
the numpy Generator that plans it (and the photos installed).

Two steps, so tests can see where things are:
  plan_clip(rng, cfg, bank)  -> ClipPlan   (all random draws happen here)
  render_clip(plan, bank)    -> (T, H, W, 3) uint8
`synthetic_clip(rng, cfg)` does both; `SyntheticClips` is the torch dataset.

Speed: photos are kept as planar float32 pyramids (3, h*w) and sampled with one
vectorized bilinear gather for all T*H*W pixels (4 `take`s of flat indices);
noise is a random slice of a precomputed bank of normals.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

# Bundled photos that ship inside scikit-image (no pooch download). Missing ones
# (other versions) are skipped. retina is large: loaded at half size.
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry",
           "hubble_deep_field", "colorwheel", "logo", "retina", "camera", "coins", "moon",
           "page", "text", "clock", "brick", "grass", "gravel", "cell")
_LEVELS = 3         # pyramid: 1, 1/2, 1/4 of the photo's size
_NOISE_BANK = 1 << 21


@dataclass(frozen=True)
class SyntheticConfig:
    frames: int = 16
    height: int = 64
    width: int = 64
    static_prob: float = 0.25   # share of clips with a fixed camera (only sprites move)
    noise_std: float = 2.0      # largest sensor noise std in 0..255 units; each clip draws [0, noise_std]
    max_sprites: int = 3        # moving patches per clip: 0..max (1..max when static)


@dataclass(frozen=True)
class Photo:
    levels: tuple[np.ndarray, ...]  # per level: (3, h, w) float32, 0..255
    name: str


@dataclass(frozen=True)
class Bank:
    photos: tuple[Photo, ...]
    noise: np.ndarray  # (_NOISE_BANK,) float32 standard normals


@functools.lru_cache(maxsize=1)
def load_bank() -> Bank:
    """Load the photos once per process (about a second) and the noise bank."""
    import skimage.data

    photos = []
    for name in _PHOTOS:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception:  # not bundled in this scikit-image version
            continue
        if img.dtype != np.uint8:
            continue
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        img = img[:, :, :3].astype(np.float32).transpose(2, 0, 1)  # (3, h, w)
        if name == "retina":
            img = _half(img)
        levels = [img]
        for _ in range(_LEVELS - 1):
            levels.append(_half(levels[-1]))
        photos.append(Photo(tuple(np.ascontiguousarray(x) for x in levels), name))
    if len(photos) < 2:
        raise RuntimeError("scikit-image ships fewer than 2 usable photos; cannot make synthetic clips")
    noise = np.random.default_rng(0x5EED).standard_normal(_NOISE_BANK, dtype=np.float32)
    return Bank(tuple(photos), noise)


def _half(img: np.ndarray) -> np.ndarray:
    # (3, h, w) -> (3, h//2, w//2) by 2x2 mean (anti-aliased downscale).
    h, w = img.shape[1] // 2 * 2, img.shape[2] // 2 * 2
    x = img[:, :h, :w]
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


@dataclass(frozen=True)
class SpritePlan:
    photo: int
    level: int
    top: int                # patch origin in the source photo level
    left: int
    h: int
    w: int
    ellipse: bool           # elliptic mask, else the full rectangle
    pos: np.ndarray         # (T, 2) float: (y, x) of the patch's top-left corner in the frame


@dataclass(frozen=True)
class ClipPlan:
    shape: tuple[int, int, int]  # (T, H, W)
    photo: int
    level: int
    affine: np.ndarray      # (T, 2, 3): source (x, y) = A @ (x_out, y_out, 1), at `level`
    static: bool            # same affine for every frame
    gain: np.ndarray        # (T, 3) per-frame, per-channel multiplier
    noise_std: float
    noise_offset: int       # start of this clip's slice of the noise bank
    sprites: tuple[SpritePlan, ...]


def plan_clip(rng: np.random.Generator, cfg: SyntheticConfig, bank: Bank) -> ClipPlan:
    """Draw everything random about one clip."""
    T, H, W = cfg.frames, cfg.height, cfg.width
    photo = int(rng.integers(len(bank.photos)))
    static = bool(rng.random() < cfg.static_prob)
    level, affine = _plan_camera(rng, T, H, W, bank.photos[photo], static)
    # Colour balance per clip (tints grey photos too), exposure drift per frame.
    balance = rng.uniform(0.85, 1.15, 3)
    drift = rng.uniform(-0.01, 0.01) if rng.random() < 0.3 and not static else 0.0
    gain = (balance[None, :] * np.exp(drift * np.arange(T))[:, None]).astype(np.float32)
    others = [i for i in range(len(bank.photos)) if i != photo]
    # A static scene gets at least one sprite: something should move.
    fewest = 1 if static and cfg.max_sprites > 0 else 0
    sprites = tuple(_plan_sprite(rng, T, H, W, bank, int(rng.choice(others)))
                    for _ in range(int(rng.integers(fewest, cfg.max_sprites + 1))))
    n = 3 * T * H * W
    offset = int(rng.integers(max(1, _NOISE_BANK - n)))
    return ClipPlan((T, H, W), photo, level, affine, static, gain,
                    float(rng.uniform(0.0, cfg.noise_std)), offset, sprites)


def _plan_camera(rng, T, H, W, photo: Photo, static: bool) -> tuple[int, np.ndarray]:
    s0 = rng.uniform(0.75, 1.5)  # source pixels per output pixel at the chosen level
    fits = [i for i, lv in enumerate(photo.levels) if min(lv.shape[1:]) >= 1.25 * s0 * max(H, W) + 2]
    level = int(rng.choice(fits)) if fits else 0
    hp, wp = photo.levels[level].shape[1:]
    t = np.arange(T, dtype=np.float64)
    if static:
        speed = zoom = spin = theta0 = 0.0
        direction = 0.0
        shake = np.zeros((T, 2))
    else:
        speed = rng.uniform(0.2, 3.0)                        # output px / frame
        direction = rng.uniform(0, 2 * np.pi)
        zoom = rng.uniform(-0.03, 0.03) if rng.random() < 0.4 else 0.0    # log-scale / frame
        spin = np.deg2rad(rng.uniform(-0.6, 0.6)) if rng.random() < 0.3 else 0.0
        theta0 = np.deg2rad(rng.uniform(-3, 3)) if spin else 0.0
        shake = np.cumsum(rng.normal(0, 0.4, (T, 2)), axis=0) if rng.random() < 0.2 else np.zeros((T, 2))
    # Corners of the output (with a 1 px margin), centred: (4, 2) as (x, y).
    cx, cy = (W - 1) / 2, (H - 1) / 2
    corners = np.array([[-cx - 1, -cy - 1], [cx + 1, -cy - 1], [-cx - 1, cy + 1], [cx + 1, cy + 1]])
    for _ in range(5):  # shrink the motion until the whole trajectory fits in the photo
        scale = s0 * np.exp(zoom * t)                                         # (T,)
        theta = theta0 + spin * t
        rot = np.stack([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])  # (2, 2, T)
        lin = (rot * scale).transpose(2, 0, 1)                                # (T, 2, 2)
        shift = (speed * s0 * t)[:, None] * np.array([np.cos(direction), np.sin(direction)]) + shake * s0
        reach = np.einsum("tij,cj->tci", lin, corners) + shift[:, None, :]   # (T, 4, 2)
        lo, hi = reach.min(axis=(0, 1)), reach.max(axis=(0, 1))
        room = np.array([wp - 2, hp - 2]) - hi + lo
        if (room >= 0).all():
            break
        speed, zoom, spin, shake = speed / 2, zoom / 2, spin / 2, shake / 2
    centre0 = -lo + rng.uniform(0, 1, 2) * np.maximum(room, 0)              # (x, y)
    offset = centre0 + shift - np.einsum("tij,j->ti", lin, [cx, cy])       # (T, 2)
    return level, np.concatenate([lin, offset[:, :, None]], axis=2).astype(np.float32)


def _plan_sprite(rng, T, H, W, bank: Bank, photo: int) -> SpritePlan:
    level = int(rng.integers(_LEVELS))
    src = bank.photos[photo].levels[level]
    h = int(min(rng.integers(max(3, H // 8), max(4, H // 3) + 1), src.shape[1] - 2))
    w = int(min(rng.integers(max(3, W // 8), max(4, W // 3) + 1), src.shape[2] - 2))
    top = int(rng.integers(src.shape[1] - h + 1))
    left = int(rng.integers(src.shape[2] - w + 1))
    start = rng.uniform([-h / 2, -w / 2], [H - h / 2, W - w / 2])
    speed, direction = rng.uniform(0.3, 3.0), rng.uniform(0, 2 * np.pi)
    pos = start + np.arange(T)[:, None] * speed * np.array([np.sin(direction), np.cos(direction)])
    return SpritePlan(photo, level, top, left, h, w, bool(rng.random() < 0.5), pos)


def render_clip(plan: ClipPlan, bank: Bank) -> np.ndarray:
    """Render a planned clip: (T, H, W, 3) uint8 RGB, C-contiguous."""
    T, H, W = plan.shape
    src = bank.photos[plan.photo].levels[plan.level]
    frames = T if not plan.static else 1  # a fixed camera samples once and repeats
    video = _sample(src, plan.affine[:frames], H, W)                          # (3, t, H, W)
    video = np.repeat(video, T, axis=1) if plan.static else video
    video *= plan.gain.T[:, :, None, None]
    for sprite in plan.sprites:
        _paste(video, sprite, bank)
    n = video.size
    if plan.noise_std > 0 and n <= _NOISE_BANK:
        noise = bank.noise[plan.noise_offset:plan.noise_offset + n].reshape(video.shape)
        video += plan.noise_std * noise
    video += 0.5  # round half up on the truncating cast below
    np.clip(video, 0, 255, out=video)
    out = np.empty((T, H, W, 3), np.uint8)
    np.copyto(out, video.transpose(1, 2, 3, 0), casting="unsafe")
    return out


def _sample(src: np.ndarray, affine: np.ndarray, H: int, W: int) -> np.ndarray:
    # Bilinear sampling of (3, hp, wp) at the affine images of an (H, W) grid:
    # one flat gather per tap over all (t, y, x) at once. Returns (3, t, H, W).
    hp, wp = src.shape[1:]
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    a = affine[:, :, :, None, None]                                           # (t, 2, 3, 1, 1)
    x = a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2]                        # (t, H, W)
    y = a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2]
    np.clip(x, 0, wp - 1.001, out=x)  # the plan keeps inside; clamp for safety
    np.clip(y, 0, hp - 1.001, out=y)
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).ravel(), (y - y0).ravel()
    idx = (y0.astype(np.intp) * wp + x0.astype(np.intp)).ravel()
    flat = src.reshape(3, -1)
    top = flat.take(idx, axis=1)
    top += fx * (flat.take(idx + 1, axis=1) - top)
    bottom = flat.take(idx + wp, axis=1)
    bottom += fx * (flat.take(idx + wp + 1, axis=1) - bottom)
    top += fy * (bottom - top)
    return top.reshape(3, len(affine), H, W)


def _paste(video: np.ndarray, sprite: SpritePlan, bank: Bank) -> None:
    # Alpha-composite a patch moving at sub-pixel positions into (3, T, H, W).
    _, T, H, W = video.shape
    src = bank.photos[sprite.photo].levels[sprite.level]
    h, w = sprite.h, sprite.w
    rgba = np.zeros((4, h + 2, w + 2), np.float32)  # 1 px transparent border
    rgba[3, 1:-1, 1:-1] = 1.0
    if sprite.ellipse:
        yy, xx = np.mgrid[0:h, 0:w]
        rgba[3, 1:-1, 1:-1] = ((yy - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - (w - 1) / 2) / (w / 2)) ** 2 <= 1
    rgba[:3, 1:-1, 1:-1] = src[:, sprite.top:sprite.top + h, sprite.left:sprite.left + w] * rgba[3, 1:-1, 1:-1]
    # Shift the premultiplied patch by the fractional position, all frames at once.
    whole = np.floor(sprite.pos).astype(int)                                  # (T, 2)
    f = (sprite.pos - whole).astype(np.float32)
    fy, fx = f[:, 0, None, None, None], f[:, 1, None, None, None]
    rows = fy * rgba[None, :, :-1] + (1 - fy) * rgba[None, :, 1:]             # (T, 4, h+1, w+2)
    moved = fx * rows[..., :-1] + (1 - fx) * rows[..., 1:]                     # (T, 4, h+1, w+1)
    for t in range(T):
        y0, x0 = whole[t]
        ya, yb, xa, xb = max(y0, 0), min(y0 + h + 1, H), max(x0, 0), min(x0 + w + 1, W)
        if ya >= yb or xa >= xb:
            continue
        m = moved[t, :, ya - y0:yb - y0, xa - x0:xb - x0]
        region = video[:, t, ya:yb, xa:xb]
        region *= 1 - m[3]
        region += m[:3]


def synthetic_clip(rng: np.random.Generator, cfg: SyntheticConfig) -> np.ndarray:
    """One synthetic clip: (T, H, W, 3) uint8 RGB. Deterministic given rng's state."""
    bank = load_bank()
    return render_clip(plan_clip(rng, cfg, bank), bank)


class SyntheticClips(torch.utils.data.IterableDataset):
    """Endless (or `length`) stream of clips as float tensors (3, T, H, W) in [0, 1].

    The stream depends only on (seed, rank, DataLoader worker id): give each
    DDP rank its own `rank` so ranks never see the same clips. `length` is the
    total per rank, split over the DataLoader workers.
    """

    def __init__(self, cfg: SyntheticConfig = SyntheticConfig(), seed: int = 0,
                 rank: int = 0, length: int | None = None):
        self.cfg, self.seed, self.rank, self.length = cfg, seed, rank, length
        self._bank: Bank | None = None  # loaded on first use, inside the worker

    def __iter__(self):
        if self._bank is None:
            self._bank = load_bank()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = np.random.default_rng([self.seed, self.rank, worker])
        count = None
        if self.length is not None:
            count = self.length // workers + (worker < self.length % workers)
        done = 0
        while count is None or done < count:
            clip = render_clip(plan_clip(rng, self.cfg, self._bank), self._bank)  # (T, H, W, 3)
            yield torch.from_numpy(clip).permute(3, 0, 1, 2).float().div_(255.0).contiguous()
            done += 1
