"""Synthetic benchmark scenes: deterministic, the right shape, and the motion they promise."""
import numpy as np

from vqcodec.bench.scenes import PAN_VELOCITY, SCENES, pan_scene, static_scene


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_scenes_are_deterministic_and_shaped():
    for make in SCENES.values():
        a, b = make(6, 96, 64), make(6, 96, 64)
        assert a.shape == (6, 64, 96, 3) and a.dtype == np.uint8 and a.flags["C_CONTIGUOUS"]
        assert np.array_equal(a, b)


def test_static_scene_background_does_not_move():
    clip = static_scene(8, 176, 144)
    # Where neither object ever passes, only the sensor noise (std 1) changes.
    changed = np.abs(clip[1:].astype(np.int16) - clip[:-1]).max(axis=(0, 3))  # (H, W)
    still = changed <= 8
    assert still.mean() > 0.6, "most of a fixed camera's frame must stay put"
    assert (~still).mean() > 0.02, "the objects must move"


def test_pan_moves_by_its_velocity():
    clip = pan_scene(4, 176, 144)
    vx = int(PAN_VELOCITY[0])
    shifted = _mad(clip[1][:, :-vx], clip[0][:, vx:])  # frame 1 = frame 0 moved left by vx (and 1/4 px up)
    unshifted = _mad(clip[1], clip[0])
    assert shifted < 0.5 * unshifted


def test_views_larger_than_the_photo_zoom_in():
    clip = pan_scene(3, 1280, 720)  # the photo is 640 wide: the view is resampled, never padded
    assert clip.shape == (3, 720, 1280, 3)
    assert clip[:, :, -8:].std() > 1.0  # the right edge shows picture, not a smeared border column
