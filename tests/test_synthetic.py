"""vqcodec.training.synthetic: shapes, determinism, camera motion, static scenes."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from vqcodec.training.synthetic import (SyntheticClips, SyntheticConfig, load_bank, plan_clip, render_clip,
                                        synthetic_clip)

CLEAN = SyntheticConfig(noise_std=0.0)


def test_shape_dtype_and_layout():
    clip = synthetic_clip(np.random.default_rng(0), SyntheticConfig())
    assert clip.shape == (16, 64, 64, 3) and clip.dtype == np.uint8 and clip.flags.c_contiguous
    odd = synthetic_clip(np.random.default_rng(0), SyntheticConfig(frames=5, height=40, width=72))
    assert odd.shape == (5, 40, 72, 3)
    assert clip.std() > 5  # a photo, not a flat field


def test_deterministic_by_seed():
    cfg = SyntheticConfig()
    a = [synthetic_clip(np.random.default_rng(7), cfg) for _ in range(2)]
    assert np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], synthetic_clip(np.random.default_rng(8), cfg))


def test_moving_camera_changes_frames():
    cfg = replace(CLEAN, static_prob=0.0, max_sprites=0)
    for seed in range(5):
        clip = synthetic_clip(np.random.default_rng(seed), cfg).astype(int)
        assert np.abs(clip[-1] - clip[0]).mean() > 1.0, seed
        assert np.abs(clip[1] - clip[0]).mean() > 0.0, seed


def test_static_camera_without_sprites_is_still():
    cfg = replace(CLEAN, static_prob=1.0, max_sprites=0)
    clip = synthetic_clip(np.random.default_rng(3), cfg)
    assert (clip == clip[:1]).all()


def test_static_camera_only_sprites_move():
    cfg = replace(CLEAN, static_prob=1.0, max_sprites=3)
    bank = load_bank()
    moved = 0
    for seed in range(6):
        plan = plan_clip(np.random.default_rng(seed), cfg, bank)
        assert plan.static
        clip = render_clip(plan, bank)
        T, H, W = plan.shape
        near = np.zeros((H, W), bool)  # every pixel a sprite ever touches, +1 px
        for s in plan.sprites:
            for y, x in np.floor(s.pos).astype(int):
                near[max(y - 1, 0):max(y + s.h + 2, 0), max(x - 1, 0):max(x + s.w + 2, 0)] = True
        assert (clip[:, ~near] == clip[:1, ~near]).all(), seed
        assert (~near).mean() > 0.2
        moved += bool(np.any(clip != clip[:1]))
    assert moved >= 3


def test_noise_is_small_and_varies():
    cfg = SyntheticConfig(static_prob=1.0, max_sprites=0, noise_std=4.0)
    clip = synthetic_clip(np.random.default_rng(11), cfg).astype(int)
    diff = clip[1:] - clip[:1]
    assert 0 < np.abs(diff).mean() < 10


def test_torch_dataset_yields_unit_range_tensors():
    cfg = SyntheticConfig(frames=4, height=32, width=48)
    clips = list(SyntheticClips(cfg, seed=5, length=3))
    assert len(clips) == 3
    for x in clips:
        assert x.shape == (3, 4, 32, 48) and x.dtype == torch.float32 and x.is_contiguous()
        assert 0.0 <= x.min() and x.max() <= 1.0
    again = list(SyntheticClips(cfg, seed=5, length=3))
    assert all(torch.equal(a, b) for a, b in zip(clips, again))
    other = next(iter(SyntheticClips(cfg, seed=5, rank=1, length=1)))
    assert not torch.equal(other, clips[0])
