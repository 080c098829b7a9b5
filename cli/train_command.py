"""`vqcodec train`: fit the autoencoder + quantizer, then the prior.

Under torchrun (`torchrun --nproc_per_node N -m vqcodec_cli.main train ...`)
every process runs this command as one DDP rank; rank 0 writes and installs.
"""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import click

from .common import DEVICES, Errors, checked_device


@click.command()
@click.option("--data", "data", multiple=True, metavar="DIR_OR_FILE[:A-B]",
              help="Training videos: folders or files; FILE:0-0.5 keeps the first half. Repeatable.")
@click.option("--synthetic", is_flag=True, help="Add synthetic clips (scikit-image photos under synthetic camera motion).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder for checkpoints and the trained model.")
@click.option("--name", default="custom", show_default=True, help="Model name (the stream records it).")
@click.option("--steps", default=3000, show_default=True, help="Autoencoder + quantizer steps.")
@click.option("--prior-steps", default=1500, show_default=True, help="Prior steps (on frozen tokens).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate of the autoencoder stage (warm-up, then cosine down to a tenth) "
                   "[default: 1e-3]; lower it to fine-tune a trained model.")
@click.option("--prior-lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate of the prior stage [default: 6e-4].")
@click.option("--weighting", type=click.Choice(["mse", "db"]), default="mse", show_default=True,
              help="How the autoencoder stage weighs its clips: by squared error (coarse qualities "
                   "dominate) or by dB (each clip's loss over its own error: every quality alike).")
@click.option("--batch", default=8, show_default=True, help="Clips per autoencoder step (per process under torchrun).")
@click.option("--clip", "clip", default="8,64,64", show_default=True, help="Clip shape T,H,W for the autoencoder; a model with a reference branch codes the first 2 frames to make the reference.")
@click.option("--eval", "eval_video", default=None, help="Held-out video (FILE[:A-B]) for periodic evaluation.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--init", default=None, help="Start from an installed model (e.g. default) or a model path.")
@click.option("--quantizer", type=click.Choice(["rvq", "scalar"]), default="scalar", show_default=True,
              help="Fresh runs: scalar quantization (10 steps, the shipped default's) or residual VQ "
                   "(predictive, 8 levels). --init/--resume keep theirs.")
@click.option("--prior", "prior", type=click.Choice(["fast", "transformer"]), default=None,
              help="The entropy model: fast (format v5, the default's) or transformer (v1-v4). Fresh runs: "
                   "fast unless given. With --init, a different kind replaces the init model's prior by a "
                   "fresh one trained on the frozen tokens (use --steps 0).")
@click.option("--motion", is_flag=True,
              help="With --init: extend the model with motion-compensated coding (after an intra GOP, every "
                   "2 frames are coded against the last decoded frame warped by sent motion; format v6). "
                   "Use --clip 6,64,64 or longer: 2 frames for the intra head, then 2 per predicted step.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--install", is_flag=True, help="Copy the result into the user model folder so --model NAME finds it.")
def train(data, synthetic, out, name, steps, prior_steps, lr, prior_lr, weighting, batch, clip, eval_video, resume, init,
          quantizer, prior, motion, device, seed, install):
    """Train a model on your own footage (and/or synthetic clips).

    \b
    Examples:
      vqcodec train --data ~/camera/ --out runs/cam --name cam --install
      vqcodec train --init default --data ~/camera/ --out runs/cam --steps 500 --prior-steps 300
      vqcodec train --init old.json --prior fast --synthetic --out runs/fast --steps 0 --prior-steps 2000
      vqcodec train --synthetic --out runs/synth --steps 200 --prior-steps 100
      vqcodec train --out runs/cam --resume
      torchrun --nproc_per_node 2 -m vqcodec_cli.main train --synthetic --out runs/ddp
    """
    with Errors():
        from vqcodec.config import CodecConfig
        from vqcodec.training.data import ClipShape
        from vqcodec.training.distributed import session
        from vqcodec.training.run import run_training
        from vqcodec.training.train import TrainConfig
        from vqcodec.zoo import user_models_dir

        out_dir = Path(out)
        if resume and not (out_dir / "progress.json").is_file():
            raise ValueError(f"--resume: no checkpoint in {out_dir}")
        if not resume and (out_dir / "progress.json").is_file():
            raise ValueError(f"{out_dir} already holds a run; use --resume or another --out")
        tcfg = TrainConfig(out=out_dir, name=name, ae_steps=steps, prior_steps=prior_steps, batch=batch,
                           clip=ClipShape.parse(clip), device=checked_device(device), seed=seed, weighting=weighting,
                           prior=prior, motion=motion,
                           **{k: v for k, v in (("lr", lr), ("prior_lr", prior_lr)) if v is not None})
        if motion and not (init or resume):
            raise ValueError("--motion extends a trained model: give --init (e.g. --init default)")
        if prior == "fast" and quantizer == "rvq" and not init:
            raise ValueError("the fast prior codes scalar-quantized tokens: use --quantizer scalar")
        cfg = CodecConfig.recommended(name, quantizer, prior or "fast")
        with session(tcfg.device) as dist:  # a single process unless torchrun started this one
            trainer = run_training(replace(tcfg, device=dist.device), cfg, list(data), synthetic,
                                   eval_video=eval_video, init=init, resume=resume,
                                   log=lambda m: click.echo(m, err=True), dist=dist)
        if install and dist.is_main:
            dest = user_models_dir()
            dest.mkdir(parents=True, exist_ok=True)
            for suffix in (".json", ".safetensors"):
                shutil.copy2(out_dir / f"{trainer.cfg.name}{suffix}", dest / f"{trainer.cfg.name}{suffix}")
            click.echo(f"installed model {trainer.cfg.name!r} in {dest}", err=True)
