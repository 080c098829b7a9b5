"""Training clips: random crops of the user's videos and synthetic motion.

Videos are decoded once into memory as uint8 (T, H, W, 3) (a few hundred
CIF frames is tens of MB), then random clips of T x H x W are cut with random
horizontal flips. Synthetic clips (scikit-image photos moved by a synthetic
camera) come from `synthetic.py`. `ClipSampler` mixes the two and yields
float batches (B, 3, T, H, W) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..media.samples import EVALUATION_SAMPLES
from ..media.video_io import read_video

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m", ".m4v", ".mpg", ".mpeg", ".ts"}
# The public evaluation clips (samples.py names them): refused as training
# data, whatever the path.
EVALUATION_ONLY = set(EVALUATION_SAMPLES)


@dataclass(frozen=True)
class ClipShape:
    frames: int = 8
    height: int = 64
    width: int = 64

    @classmethod
    def parse(cls, text: str) -> "ClipShape":
        """'T,H,W' -> ClipShape."""
        try:
            t, h, w = (int(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"clip shape must be T,H,W (e.g. 8,64,64), got {text!r}") from None
        if min(t, h, w) < 1:
            raise ValueError(f"clip shape must be positive, got {text!r}")
        return cls(t, h, w)


@dataclass(frozen=True)
class VideoSlice:
    """Frames [start, stop) of a video file, as fractions of its length (so a
    recipe can say 'the first half of bikes.mp4')."""

    path: Path
    start: float = 0.0
    stop: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "VideoSlice":
        """'clip.mp4' or 'clip.mp4:0-0.5' (fractions of the length)."""
        path, _, rng = text.partition(":")
        if not rng:
            return cls(Path(path))
        a, _, b = rng.partition("-")
        return cls(Path(path), float(a), float(b))


def find_videos(items: list[str]) -> list[VideoSlice]:
    """Expand folders into the videos they hold; keep files (and slices) as given."""
    out: list[VideoSlice] = []
    for item in items:
        p = Path(item.partition(":")[0])
        if p.is_dir():
            out += [VideoSlice(f) for f in sorted(p.rglob("*")) if f.suffix.lower() in VIDEO_SUFFIXES]
        else:
            out.append(VideoSlice.parse(item))
    for v in out:
        if v.path.name in EVALUATION_ONLY:
            raise ValueError(f"{v.path.name} is the evaluation clip and must not be trained on")
    if not out:
        raise ValueError(f"no videos found in {', '.join(items)}")
    return out


def load_frames(v: VideoSlice) -> np.ndarray:
    frames, _ = read_video(str(v.path))
    n = len(frames)
    a, b = int(round(v.start * n)), int(round(v.stop * n))
    return frames[a:b]


class ClipSampler:
    """Endless random batches (B, 3, T, H, W) float in [0, 1].

    `synthetic_share` of the clips are synthetic; the rest are crops of the
    videos (if any were given). The stream depends on (seed, rank): each DDP
    rank passes its own `rank` so ranks never draw the same clips; rank 0's
    stream is the single-process one."""

    def __init__(self, videos: list[np.ndarray], shape: ClipShape, synthetic_share: float, seed: int = 0,
                 rank: int = 0):
        self.videos, self.shape = [v for v in videos if len(v) >= shape.frames], shape
        if videos and not self.videos:
            raise ValueError(f"every training video is shorter than {shape.frames} frames")
        for v in self.videos:
            if v.shape[1] < shape.height or v.shape[2] < shape.width:
                raise ValueError(f"a training video of {v.shape[2]}x{v.shape[1]} is smaller than the "
                                 f"{shape.width}x{shape.height} crop")
        self.share = synthetic_share if self.videos else 1.0
        self.rng = np.random.default_rng([seed, rank] if rank else seed)
        self._synth = None
        if self.share > 0:
            from .synthetic import SyntheticConfig

            self._synth_cfg = SyntheticConfig(frames=shape.frames, height=shape.height, width=shape.width)

    def _video_clip(self) -> np.ndarray:
        T, H, W = self.shape.frames, self.shape.height, self.shape.width
        v = self.videos[self.rng.integers(len(self.videos))]
        t0 = self.rng.integers(0, len(v) - T + 1)
        y0 = self.rng.integers(0, v.shape[1] - H + 1)
        x0 = self.rng.integers(0, v.shape[2] - W + 1)
        clip = v[t0 : t0 + T, y0 : y0 + H, x0 : x0 + W]
        return clip[:, :, ::-1] if self.rng.random() < 0.5 else clip

    def clip(self) -> np.ndarray:
        """One clip (T, H, W, 3) uint8."""
        if self.rng.random() < self.share:
            from .synthetic import synthetic_clip

            return synthetic_clip(self.rng, self._synth_cfg)
        return self._video_clip()

    def batch(self, size: int) -> torch.Tensor:
        clips = np.stack([self.clip() for _ in range(size)])  # (B, T, H, W, 3)
        return torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float().div_(255.0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        raise TypeError("use .batch(size)")
