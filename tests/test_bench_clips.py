"""Clip specs of `vqcodec bench`: files, fractional ranges, samples, synthetic scenes, crops, errors."""
from fractions import Fraction

import numpy as np
import pytest

from vqcodec.bench.clips import load_clip, parse_size


def test_parse_size():
    assert parse_size("352x288") == (352, 288)
    assert parse_size(" 64X48 ") == (64, 48)
    for bad in ("352", "x288", "0x10", "351x288", "axb", "-2x4"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_file_clip_is_read_exactly(tiny_video_file, tiny_frames):
    clip = load_clip(tiny_video_file)
    assert np.array_equal(clip.frames, tiny_frames)
    assert clip.fps == Fraction(25) and clip.name == "tiny" and not clip.evaluation_only
    assert load_clip(tiny_video_file, max_frames=5).count == 5


def test_fractional_range_takes_that_part(tiny_video_file, tiny_frames):
    clip = load_clip(f"{tiny_video_file}:0.5-1")
    assert np.array_equal(clip.frames, tiny_frames[6:])
    assert "frames 6-11" in clip.source
    assert np.array_equal(load_clip(f"{tiny_video_file}:0.5-1", max_frames=2).frames, tiny_frames[6:8])


def test_size_centre_crops(tiny_video_file, tiny_frames):
    clip = load_clip(tiny_video_file, size=(32, 24))  # from 64x48: offset (16, 12)
    assert np.array_equal(clip.frames, tiny_frames[:, 12:36, 16:48])
    assert "centre crop 32x24+16+12" in clip.source
    with pytest.raises(ValueError, match="never scales"):
        load_clip(tiny_video_file, size=(128, 48))


def test_synthetic_specs():
    clip = load_clip("synthetic:static", max_frames=3, size=(64, 48))
    assert clip.frames.shape == (3, 48, 64, 3) and clip.name == "synthetic-static"
    with pytest.raises(ValueError, match="unknown synthetic scene"):
        load_clip("synthetic:zoom")


def test_bundled_sample_by_name_is_marked_evaluation_only():
    clip = load_clip("carphone_pristine.mp4", max_frames=2)
    assert clip.evaluation_only and clip.frames.shape == (2, 144, 176, 3)


@pytest.mark.parametrize("spec, message", [
    ("no/such/clip.mp4", "no such clip"),
    ("nothere.mp4", "no such clip"),
    ("clip.mp4:0.7-0.2", "range"),
])
def test_bad_specs_say_why(spec, message):
    with pytest.raises(ValueError, match=message):
        load_clip(spec)


def test_a_folder_or_a_non_video_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        load_clip(str(tmp_path))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(ValueError):
        load_clip(str(junk))
    with pytest.raises(ValueError, match="positive"):
        load_clip("synthetic:pan", max_frames=0)


def test_tuning_clip_refuses_the_evaluation_clip():
    from vqcodec.bench.clips import load_tuning_clip

    with pytest.raises(ValueError, match="evaluation clip"):
        load_tuning_clip("carphone_pristine.mp4", 4, "64x64")
    clip = load_tuning_clip("bikes.mp4:0.5-1", 4, "64x48")
    assert clip.frames.shape == (4, 48, 64, 3) and not clip.evaluation_only


def test_tuning_clip_or_exit_ends_a_script_with_one_line():
    import argparse

    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_or_exit

    ap = argparse.ArgumentParser()
    add_tuning_clip_options(ap)
    with pytest.raises(SystemExit, match="^error: carphone_pristine.mp4 is an evaluation clip"):
        tuning_clip_or_exit(ap.parse_args(["--clip", "carphone_pristine.mp4", "--size", "64x64"]))
    with pytest.raises(SystemExit, match="^error: .*nothing.mp4"):
        tuning_clip_or_exit(ap.parse_args(["--clip", "nothing.mp4"]))
    assert tuning_clip_or_exit(ap.parse_args(["--frames", "2", "--size", "64x48"])).frames.shape == (2, 48, 64, 3)


def test_tuning_scripts_refuse_the_evaluation_clip(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for script in ("rounding_lambda.py", "prior_temperature.py"):
        r = subprocess.run([sys.executable, str(root / "benchmarks" / script), "--clip", "carphone_pristine.mp4",
                            "--out", str(tmp_path / script)], capture_output=True, text=True, timeout=300)
        assert r.returncode != 0 and "evaluation clip" in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / script).exists()
