"""keyframes.py: fixed intervals, and adaptive keyframes that find scene cuts."""
import numpy as np
import pytest

from vqcodec.bench.scenes import pan_scene, static_scene
from vqcodec.modes.keyframes import AdaptiveKeyframes, FixedKeyframes


def _keys(policy, frames) -> list[int]:
    return [i for i, f in enumerate(frames) if policy.is_keyframe(i, f)]


def test_fixed_interval():
    frames = np.zeros((10, 16, 16, 3), np.uint8)
    assert _keys(FixedKeyframes(4), frames) == [0, 4, 8]
    with pytest.raises(ValueError, match="1..255"):
        FixedKeyframes(0)


def test_adaptive_finds_the_cuts_of_a_clip_with_scene_changes():
    # three shots: a still photo, a pan over another scene, the photo again (cuts at 10 and 22)
    still = static_scene(10, 176, 144)
    pan = pan_scene(12, 176, 144)
    other = 255 - static_scene(8, 176, 144)
    clip = np.concatenate([still, pan, other])
    keys = _keys(AdaptiveKeyframes(interval=64), clip)
    assert 0 in keys and 10 in keys and 22 in keys
    assert all(k in (0, 10, 22) or 10 < k < 22 for k in keys)  # extra keys only where it moves


def test_a_still_camera_gets_keyframes_only_at_the_maximum_interval():
    rng = np.random.default_rng(0)
    still = static_scene(1, 176, 144)[0].astype(np.int16)
    frames = [np.clip(still + rng.integers(-2, 3, still.shape), 0, 255).astype(np.uint8) for _ in range(40)]
    assert _keys(AdaptiveKeyframes(interval=16), frames) == [0, 16, 32]
