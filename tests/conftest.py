"""Shared pytest fixtures: tiny deterministic videos, no network, no shipped data."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest


def _tiny_pattern(frames: int = 12, height: int = 48, width: int = 64) -> np.ndarray:
    # (T, H, W, 3) uint8: a diagonal colour gradient sliding 2 px/frame right,
    # and a 10x10 square moving 3 px/frame right and 1 px/frame down.
    t = np.arange(frames)[:, None, None]
    y = np.arange(height)[None, :, None]
    x = np.arange(width)[None, None, :]
    video = np.empty((frames, height, width, 3), np.uint8)
    video[..., 0] = (4 * (x - 2 * t) + 2 * y) % 256
    video[..., 1] = (5 * y + 64) % 256
    video[..., 2] = (3 * (x - 2 * t) - 2 * y + 128) % 256
    for i in range(frames):
        top, left = 5 + i, 4 + 3 * i
        video[i, top:top + 10, left:left + 10] = (250, 30, 20)
    return video


@pytest.fixture
def tiny_frames() -> np.ndarray:
    """(12, 48, 64, 3) uint8 RGB: moving gradient + moving square."""
    return _tiny_pattern()


@pytest.fixture
def tiny_video_file(tmp_path, tiny_frames) -> str:
    """Path of `tiny_frames` written losslessly as FFV1 .mkv at 25 fps."""
    from vqcodec.media.video_io import write_video

    path = str(tmp_path / "tiny.mkv")
    write_video(path, tiny_frames, Fraction(25))
    return path


EXPECTED = __import__("pathlib").Path(__file__).resolve().parent / "expected"


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """Path of the pinned tiny random model (tests/make_expected.py made it)."""
    return str(EXPECTED / "models" / "tiny.json")


@pytest.fixture(scope="session")
def tiny_codec(tiny_model):
    from vqcodec import load_codec

    return load_codec(tiny_model)
