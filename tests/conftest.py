"""Shared pytest fixtures: tiny deterministic videos, no network; the shipped model and
clips only for the tests of its quality ladder."""
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


# The shipped model's quality ladder (issue 31): two short clips at 176x144, 16 frames.
# A still camera with objects moving across it, and the start of bikes.mp4 (camera and
# riders moving; not the half that the low-latency encoder's lambda was tuned on).
LADDER_CLIPS = {"static": ("synthetic:static", 16, (176, 144)), "bikes": ("bikes.mp4", 16, (176, 144))}


@pytest.fixture(scope="session")
def shipped_codec():
    """The shipped default model (loaded once: the ladder tests code many streams with it)."""
    from vqcodec import load_codec

    return load_codec("default")


@pytest.fixture(scope="session")
def ladder_clips() -> dict[str, np.ndarray]:
    """name -> (16, 144, 176, 3) uint8 RGB."""
    from vqcodec.bench.clips import load_clip

    return {name: load_clip(*spec).frames for name, spec in LADDER_CLIPS.items()}


def stream_bytes_per_quality(codec, frames: np.ndarray, mode: str, **options) -> dict[int, int]:
    """quality -> bytes of the whole stream `codec` makes of `frames` in `mode`, at every
    quality it offers."""
    import io

    from vqcodec import compress

    t, h, w = frames.shape[:3]
    return {q: compress(iter(frames), io.BytesIO(), w, h, Fraction(25), q, mode, codec, **options).bytes
            for q in codec.qualities}


def rising(sizes: dict[int, int]) -> bool:
    """Each quality's stream is larger than the one below it."""
    values = [sizes[q] for q in sorted(sizes)]
    return all(a < b for a, b in zip(values, values[1:]))


def assert_decodes_to(codec, data: bytes, want: np.ndarray) -> None:
    """The stream `data` decodes to exactly `want` (T, H, W, 3) through the file API
    and through a StreamDecoder fed a byte at a time."""
    import io

    from vqcodec.api import decompress
    from vqcodec.stream import StreamDecoder

    assert np.array_equal(np.stack(list(decompress(io.BytesIO(data), model=codec))), want)
    dec = StreamDecoder(codec)
    got = [f for _, f in dec.read_from(io.BytesIO(data), 1)]
    assert dec.ended and np.array_equal(np.stack(got), want)
