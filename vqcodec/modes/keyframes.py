"""Which frames are keyframes in the low-latency mode: fixed or content-adaptive.

A policy sees the frames one at a time, in order, and answers "is this frame
a keyframe?" at once, so the choice itself never holds a frame back (the
encoder's --latency bound is about interpolation, not about this choice).

FixedKeyframes(n): frames 0, n, 2n, ...
AdaptiveKeyframes: after Fast-Vid2Vid, which places keyframes at local maxima
of the frame difference in CIE LUV. Causally: a frame is a keyframe when its
LUV difference to the previous frame jumps well above the level since the last
keyframe (a cut or a sudden change), when it has drifted too far from the last
keyframe for interpolation to bridge, or when the maximum interval is reached.
A still camera therefore gets keyframes only every `max_interval` frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_WINDOW = 8  # frames over which the recent level of frame differences is averaged


def luv_small(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H/4, W/4, 3) float32 CIE LUV (D65) of a 4x4
    subsample: the difference statistics need the content, not the detail."""
    from skimage.color import rgb2luv

    return rgb2luv(frame[2::4, 2::4]).astype(np.float32)


def luv_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute LUV difference of two luv_small arrays."""
    return float(np.abs(a - b).mean())


class KeyframePolicy:
    """Decides, frame by frame, where keyframes go."""

    name = "policy"

    @property
    def max_interval(self) -> int:
        raise NotImplementedError

    def is_keyframe(self, index: int, frame: np.ndarray) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass
class FixedKeyframes(KeyframePolicy):
    interval: int = 8
    name = "fixed"

    def __post_init__(self) -> None:
        if not 1 <= self.interval <= 255:
            raise ValueError(f"keyframe interval must be 1..255, got {self.interval}")

    @property
    def max_interval(self) -> int:
        return self.interval

    def is_keyframe(self, index: int, frame: np.ndarray) -> bool:
        return index % self.interval == 0

    def describe(self) -> str:
        return f"every {self.interval} frames"


@dataclass
class AdaptiveKeyframes(KeyframePolicy):
    interval: int = 16  # the maximum interval
    cut_factor: float = 3.0  # a difference this many times the recent level is a cut
    cut_min: float = 4.0  # ... and at least this large (LUV units)
    # mean LUV distance from the last keyframe that forces a new one; None: never (the
    # predicted path of format v14 codes every frame, so nothing has to bridge a drift)
    drift: float | None = 12.0
    name = "adaptive"
    _last_key: int = field(default=-1, repr=False)
    _key_luv: np.ndarray | None = field(default=None, repr=False)
    _prev_luv: np.ndarray | None = field(default=None, repr=False)
    _diffs: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.interval <= 255:
            raise ValueError(f"maximum keyframe interval must be 1..255, got {self.interval}")

    @property
    def max_interval(self) -> int:
        return self.interval

    def is_keyframe(self, index: int, frame: np.ndarray) -> bool:
        luv = luv_small(frame)
        key = self._decide(index, luv)
        if key:
            self._last_key, self._key_luv = index, luv
        self._prev_luv = luv
        return key

    def _decide(self, index: int, luv: np.ndarray) -> bool:
        if self._prev_luv is None or index - self._last_key >= self.interval:
            return True
        d = luv_difference(luv, self._prev_luv)
        # the recent level: the last _WINDOW differences (cut_min before there are any)
        level = float(np.mean(self._diffs[-_WINDOW:])) if self._diffs else self.cut_min
        self._diffs = self._diffs[-_WINDOW:] + [d]
        if d >= self.cut_min and d > self.cut_factor * level:
            return True
        return self.drift is not None and luv_difference(luv, self._key_luv) > self.drift

    def describe(self) -> str:
        return f"adaptive, at most every {self.interval} frames"


POLICIES = {"fixed": FixedKeyframes, "adaptive": AdaptiveKeyframes}  # the names users choose from


def keyframe_policy(keyframes: str | KeyframePolicy, keyint: int) -> KeyframePolicy:
    """A policy by name ("fixed", "adaptive") at most `keyint` frames apart, or the one given."""
    if not isinstance(keyframes, str):
        return keyframes
    if keyframes not in POLICIES:
        raise ValueError(f"unknown keyframes {keyframes!r} (choose {' or '.join(POLICIES)})")
    return POLICIES[keyframes](keyint)
