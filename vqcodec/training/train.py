"""The two training stages behind `vqcodec train`.

Stage 1 fits autoencoder + residual VQ on clips (B, 3, T, H, W) with
quantizer dropout: each clip keeps a random number of levels L in 1..N, so
every quality is trained. Loss = MSE + commitment (codebooks move by EMA).
A scalar-quantized model draws a random quality (step) per clip instead, and
its loss is MSE + rate_weight * step^2 * estimated bits per pixel
(scalar_quantizer.py).
Stage 2 freezes them and fits the prior on their tokens: for a random group
of the coding schedule, cross-entropy of the tokens in that group given what
the coder would know at that point (prior.training_inputs).

Checkpoints (every `ckpt_every` steps and at the end) are complete models, so
`--resume` continues and the output folder installs as a model as it is.

Under torchrun (distributed.py) every rank runs these loops on its own clips
with the trainable modules wrapped in DDP; only rank 0 writes checkpoints,
the log and the progress bar, whose loss and PSNR are rank 0's batch.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from ..models.autoencoder import copy_prediction, fit_linear_path
from ..config import CodecConfig, PriorConfig
from ..models.residual_vq import QuantizerOutput
from ..models.scalar_quantizer import rate_loss
from ..zoo import build_modules, resolve
from .checkpoint import Progress, load_progress, save_checkpoint
from .data import ClipSampler, ClipShape
from .distributed import SINGLE_PROCESS, Distributed
from .predictive import coded_steps, start_motion


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    name: str = "default"
    ae_steps: int = 2000
    prior_steps: int = 1000
    batch: int = 8
    clip: ClipShape = ClipShape(8, 64, 64)
    prior_clip: ClipShape = ClipShape(8, 128, 128)  # 16x16 latent = four 8x8 prior tiles
    prior_batch: int = 4
    lr: float = 1e-3
    prior_lr: float = 6e-4
    ckpt_every: int = 200
    eval_every: int = 200
    seed: int = 0
    device: str = "cpu"
    synthetic_share: float = 0.5
    log_name: str = "train_log.jsonl"
    # how the autoencoder stage weighs its clips (clip_weights): "mse" (every
    # clip's squared error as it is) or "db" (each clip's loss over its own
    # error, so a dB gained counts the same at every quality)
    weighting: str = "mse"
    # "fast" / "transformer": with an init model whose prior is of the other
    # kind, replace it by a fresh prior of this kind (trained on the frozen
    # tokens); None keeps the init model's
    prior: str | None = None
    # extend the init model with motion-compensated coding (AutoencoderConfig.motion,
    # training/predictive.py); the init model must have the reference branch
    motion: bool = False

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown clip weighting {self.weighting!r} (choose {' or '.join(WEIGHTINGS)})")


WEIGHTINGS = ("mse", "db")  # TrainConfig.weighting's values (the CLI lists them too: it loads no torch)

# share of the clips a model with a reference branch trains without one (intra
# GOPs: one in intra_period / gop of the default's, here more so they stay good)
INTRA_SHARE = 0.2


def _lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def clip_weights(err: torch.Tensor, weighting: str) -> torch.Tensor | None:
    """Per-clip squared errors (B,) of one batch -> weights (B,) of each clip's
    loss (distortion and rate alike), or None for equal weights ("mse").

    With equal weights the batch's mean squared error is dominated by its
    coarse-quality clips, whose errors are 10-20x the fine ones' (20 vs 33 dB),
    so the shared networks learn mostly what the low qualities need. "db"
    divides each clip's loss by its own error (detached): the gradient of
    err / err0 is that of log(err), a dB, so a tenth of a dB weighs the same
    at every quality, as in a BD-rate. Scaled by the batch's mean error so
    the loss keeps its usual size (the gradient clip and Adam's epsilon)."""
    if weighting == "mse":
        return None
    e = err.detach().clamp_min(1e-6)
    return e.mean() / e


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    mse = F.mse_loss(x.clamp(0, 1), y).item()
    return 10 * math.log10(1.0 / max(mse, 1e-10))


class _AutoencoderStep(nn.Module):
    """Stage 1's forward as one module, so DDP sees (and syncs) all of it:
    x (B, 3, T, H, W) in [0, 1], levels (B,) -> (reconstruction, quantizer output)."""

    def __init__(self, ae: nn.Module, vq: nn.Module):
        super().__init__()
        self.ae, self.vq = ae, vq

    def forward(self, x: torch.Tensor, levels: torch.Tensor, ref: torch.Tensor | None = None,
                keep: torch.Tensor | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        qo = self.vq(self.ae.encoder(x - 0.5, levels, ref, keep), levels)
        return self.ae.decoder(qo.quantized, levels, ref, keep) + 0.5, qo


class _PriorStep(nn.Module):
    """The prior's training_loss as a forward, so DDP can wrap it."""

    def __init__(self, prior: nn.Module):
        super().__init__()
        self.prior = prior

    def forward(self, cur, prev, kind, quality):
        return self.prior.training_loss(cur, prev, kind, quality)


class Trainer:
    def __init__(self, tcfg: TrainConfig, mcfg: CodecConfig, sampler: ClipSampler,
                 eval_clip: np.ndarray | None, init: str | None = None, resume: bool = False,
                 dist: Distributed = SINGLE_PROCESS):
        self.t, self.cfg, self.sampler, self.dist = tcfg, replace(mcfg, name=tcfg.name), sampler, dist
        self.device = torch.device(tcfg.device)
        torch.manual_seed(tcfg.seed)
        self.ae, self.vq, self.prior = (m.to(self.device) for m in build_modules(self.cfg))
        self.progress, self.opt_state = Progress("autoencoder", 0, 0.0), None
        if resume:
            self.progress, self.opt_state = load_progress(tcfg.out)
            self._load_weights(str(tcfg.out / f"{self.cfg.name}.json"), extend=False)
        elif init:
            self._load_weights(init)
        elif self.cfg.autoencoder.linear_path:
            self._fit_linear_path()
        if dist.active:  # per-rank dropout draws; the weights are rank 0's (DDP broadcasts them)
            torch.manual_seed(dist.seed(tcfg.seed))
        # held-out clip (T, H, W, 3) uint8 for periodic evaluation
        self.eval_clip = eval_clip
        self.log = None
        if dist.is_main:
            tcfg.out.mkdir(parents=True, exist_ok=True)
            self.log = open(tcfg.out / tcfg.log_name, "a")

    def _fit_linear_path(self, clips: int = 64) -> None:
        """PCA of `clips` training clips -> the linear paths (a fresh run with
        linear_path only). Under torchrun each rank fits on its own clips and
        DDP then broadcasts rank 0's weights."""
        x = torch.cat([self.sampler.batch(min(16, clips - i)) for i in range(0, clips, 16)]).to(self.device)
        kept = fit_linear_path(self.ae, x - 0.5)
        if self.dist.is_main:
            tqdm.write(f"linear path: PCA of {clips} clips keeps {kept:.1%} of the variance")

    def _load_weights(self, name_or_path: str, extend: bool = True) -> None:
        from safetensors.torch import load_file

        entry = resolve(name_or_path)
        cfg = replace(entry.config(), name=self.cfg.name)
        # The init model's architecture wins, except that a scalar model gains
        # the prior's temporal shortcuts (prior.py) and the autoencoder's quality
        # conditioning (autoencoder.QualityFilm) of the requested one: both start
        # at zero, so the extended model computes exactly what the init's did.
        want, have = self.cfg.prior, cfg.prior
        added: set[str] = set()  # parameter names with their module prefix
        fresh_prior = extend and self.t.prior is not None and self.t.prior != have.kind
        if fresh_prior:
            if not cfg.quantizer.scalar and self.t.prior == "fast":
                raise ValueError(f"{name_or_path}: the fast prior codes scalar-quantized tokens, "
                                 "this model uses residual VQ")
            cfg = replace(cfg, prior=want if want.kind == self.t.prior else PriorConfig.fast())
        if extend and not fresh_prior and cfg.quantizer.scalar and (want.copy_radius, want.match_context) != (have.copy_radius, have.match_context) \
                and not (have.copy_radius or have.match_context):
            cfg = replace(cfg, prior=replace(have, copy_radius=want.copy_radius, match_context=want.match_context))
            added = {"prior.copy_w", "prior.copy_b"} if want.copy_radius else set()
            added |= {"prior.same_emb.weight", "prior.diff_emb.weight"} if want.match_context else set()
        qc = self.cfg.autoencoder.quality_conditioned
        conditioning = extend and cfg.quantizer.scalar and qc == cfg.quantizer.qualities \
            and not cfg.autoencoder.quality_conditioned
        if conditioning:
            cfg = replace(cfg, autoencoder=replace(cfg.autoencoder, quality_conditioned=qc))
        # ... and the reference branch (conditional coding), also zero where it counts
        referencing = extend and cfg.quantizer.scalar and self.cfg.autoencoder.reference \
            and not cfg.autoencoder.reference
        if referencing:
            cfg = replace(cfg, autoencoder=replace(cfg.autoencoder, reference=True))
        moving = extend and self.t.motion and not cfg.autoencoder.motion
        if moving:
            if not cfg.autoencoder.reference:
                raise ValueError(f"{name_or_path}: motion-compensated coding extends a model with the reference "
                                 "branch (conditional coding)")
            cfg = replace(cfg, autoencoder=replace(cfg.autoencoder, motion=True))
        if cfg != self.cfg:
            self.cfg = cfg
            self.ae, self.vq, self.prior = (m.to(self.device) for m in build_modules(self.cfg))
        if conditioning:
            added |= {f"autoencoder.{k}" for k in self.ae.state_dict() if ".film" in k or ".gain" in k}
        if referencing:
            added |= {f"autoencoder.{k}" for k in self.ae.state_dict() if ".reference." in k}
        if moving:
            added |= {f"autoencoder.{k}" for k in self.ae.state_dict() if ".detail." in k}
        tensors = load_file(str(entry.weights_path))
        for prefix, m in (("autoencoder.", self.ae), ("quantizer.", self.vq), ("prior.", self.prior)):
            if prefix == "prior." and fresh_prior:
                continue
            state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                missing, unexpected = m.load_state_dict(state, strict=False)
            except RuntimeError as e:  # shapes that differ from the config's
                raise ValueError(f"{name_or_path}: weights do not match its config ({str(e).splitlines()[-1].strip()})") from None
            if unexpected or {prefix + k for k in missing} - added:
                raise ValueError(f"{name_or_path}: weights do not match its config "
                                 f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
        if referencing:  # its prediction starts as the loaded encoder's linear path
            for branch in (self.ae.encoder.reference, self.ae.decoder.reference):
                copy_prediction(self.ae, branch)
        if moving:
            start_motion(self.ae)
        if fresh_prior and self.dist.is_main:
            tqdm.write(f"the {have.kind} prior of {name_or_path} is replaced by a fresh {self.t.prior} prior")
        if added and self.dist.is_main:
            start = "starting as a residual coder" if moving else "zero at the start"
            tqdm.write(f"model extended with {', '.join(sorted(added))} ({start})")

    def _write(self, record: dict) -> None:
        if self.log is not None:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()

    def _checkpoint(self, opt, stage: str, step: int, started: float, base_seconds: float) -> None:
        """On every rank (it checks that the ranks agree); rank 0 writes."""
        self.progress = Progress(stage, step, base_seconds + time.perf_counter() - started)
        self.dist.check_in_sync((self.ae, self.vq, self.prior))
        if self.dist.is_main:
            save_checkpoint(self.t.out, self.cfg, (self.ae, self.vq, self.prior), opt, self.progress)

    # ------------------------------------------------------------ stage 1
    @torch.no_grad()
    def evaluate(self) -> dict:
        """PSNR of the held-out clip at every quality (autoencoder only)."""
        if self.eval_clip is None:
            return {}
        self.ae.eval(), self.vq.eval()
        clip = self.eval_clip
        s, tt = self.cfg.autoencoder.factor_s, self.cfg.autoencoder.factor_t
        T, H, W = (n - n % f for n, f in zip(clip.shape[:3], (tt, s, s)))
        x = torch.from_numpy(clip[:T, :H, :W]).permute(3, 0, 1, 2)[None].float().div(255).to(self.device)
        conditioned = bool(self.cfg.autoencoder.quality_conditioned)
        z = None if conditioned else self.ae.encoder(x - 0.5)
        out = {}
        for q in self.cfg.qualities:
            idx = self.vq.encode(self.ae.encoder(x - 0.5, q) if conditioned else z, q)
            y = self.ae.decoder(self.vq.decode(idx, q), q) + 0.5
            out[f"psnr_q{q}"] = round(psnr(y, x), 3)
        self.ae.train(), self.vq.train()
        return out

    def train_autoencoder(self) -> None:
        t = self.t
        params = list(self.ae.parameters()) + list(self.vq.parameters())  # vq: the scalar rate model, if any
        # the PCA-initialised linear paths move 10x slower than the networks:
        # they start near their optimum, and a large step would throw it away.
        linear = {id(p) for m in (self.ae.encoder.linear, self.ae.decoder.linear) if m is not None
                  for p in m.parameters()}
        groups = [{"params": [p for p in params if id(p) not in linear], "scale": 1.0},
                  {"params": [p for p in params if id(p) in linear], "scale": 0.1}]
        opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=t.lr, weight_decay=0.0, betas=(0.9, 0.99))
        start_step = self.progress.step if self.progress.stage == "autoencoder" else t.ae_steps
        if self.opt_state and self.progress.stage == "autoencoder":
            opt.load_state_dict(self.opt_state)
        if start_step >= t.ae_steps:
            return
        self.ae.train(), self.vq.train()
        model = self.dist.wrap(_AutoencoderStep(self.ae, self.vq))
        qcfg = self.cfg.quantizer
        N = qcfg.qualities
        started, base = time.perf_counter(), self.progress.seconds
        bar = tqdm(range(start_step, t.ae_steps), desc="autoencoder", initial=start_step, total=t.ae_steps,
                   disable=not self.dist.is_main)
        for step in bar:
            for g in opt.param_groups:
                g["lr"] = _lr(step, t.ae_steps, t.lr) * g.get("scale", 1.0)
            x = self.sampler.batch(t.batch).to(self.device)  # (B, 3, T, H, W) in [0, 1]
            levels = torch.randint(1, N + 1, (x.shape[0],), device=self.device)  # quantizer dropout / quality
            source = x[:, :, self.cfg.autoencoder.factor_t - 1]  # the head's last frame, before coding
            x, ref, keep = self._split_reference(x, levels)
            if self.cfg.autoencoder.motion:  # closed-loop predicted steps (training/predictive.py)
                y, qo = coded_steps(model, x, levels, ref, source, keep, self.cfg.autoencoder.factor_t)
            else:
                y, qo = model(x, levels, ref, keep)
            err = (y - x).pow(2).flatten(1).mean(1)  # (B,) per-clip squared error
            rec, w = err.mean(), clip_weights(err, t.weighting)
            loss = (rec if w is None else (w * err).mean()) + qo.commit_loss
            bpp = None
            if qo.rate_bits is not None:  # scalar: rate term at each clip's step
                steps = torch.tensor(qcfg.scalar_steps, device=self.device)[levels - 1]
                pixels = x.shape[2] * x.shape[3] * x.shape[4]
                loss = loss + rate_loss(qo.rate_bits, steps, pixels, qcfg.rate_weight, w)
                bpp = qo.rate_bits.mean().item() / pixels
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            rec_psnr = 10 * math.log10(1.0 / max(rec.item(), 1e-10))
            perp = qo.perplexity.mean().item()
            bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{rec_psnr:.2f}", perp=f"{perp:.0f}", dead=qo.dead_codes)
            rec_log = {"stage": "autoencoder", "step": step + 1, "loss": loss.item(), "psnr": rec_psnr,
                       "perplexity": perp, "dead": qo.dead_codes,
                       "seconds": base + time.perf_counter() - started}
            if bpp is not None:
                rec_log["rate_model_bpp"] = bpp
            if ((step + 1) % t.eval_every == 0 or step + 1 == t.ae_steps) and self.dist.is_main:
                rec_log.update(self.evaluate())
                tqdm.write(json.dumps({k: v for k, v in rec_log.items() if k.startswith("psnr_") or k == "step"}))
            self._write(rec_log)
            if (step + 1) % t.ckpt_every == 0 or step + 1 == t.ae_steps:
                self._checkpoint(opt, "autoencoder", step + 1, started, base)
        self._checkpoint(None, "prior", 0, started, base)
        self.opt_state = None

    @torch.no_grad()
    def _split_reference(self, x: torch.Tensor, levels: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Conditional coding's training pairs: x (B, 3, T, H, W) in [0, 1] ->
        (the clip after its first t frames, ref, keep). The first t frames are
        coded alone at each clip's quality and ref (B, 3, H, W) in [-0.5, 0.5]
        is their last decoded frame, rounded to 8 bits as a stream decoder's
        is: what an inter GOP's reference looks like. keep (B,) is 0 for
        INTRA_SHARE of the clips, which train the intra case. Models without
        the reference branch get (x, None, None)."""
        if not self.cfg.autoencoder.reference:
            return x, None, None
        t = self.cfg.autoencoder.factor_t
        if x.shape[2] < 2 * t:
            raise ValueError(f"a model with a reference branch trains on clips of at least {2 * t} frames "
                             f"(the first {t} make the reference); got {x.shape[2]}")
        head, x = x[:, :, :t], x[:, :, t:]
        keep = (torch.rand(x.shape[0], device=x.device) >= INTRA_SHARE).float()
        was = self.ae.training
        self.ae.eval()
        z = self.ae.encoder(head - 0.5, levels)
        y = self.ae.decoder(self.vq(z, levels).quantized, levels)[:, :, -1]  # (B, 3, H, W)
        self.ae.train(was)
        return x, torch.round((y + 0.5).clamp(0, 1) * 255) / 255 - 0.5, keep

    # ------------------------------------------------------------ stage 2
    @torch.no_grad()
    def _prior_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (cur, prev) latent frames (B', planes, h, w) of true tokens, kind (B',)
        (0 = I, 1 = P latent frame) and quality (B',); prev is MASK for the first
        latent frame of each clip (an intra-period start). A clip is one GOP.
        RVQ clips are coded at all N levels (the quality is drawn later, per
        tile); scalar clips at a random quality each, as their tokens depend on it."""
        t, tile, mask, qcfg = self.t, self.cfg.prior.tile, self.prior.mask_index, self.cfg.quantizer
        x = self.sampler_prior.batch(t.prior_batch).to(self.device)
        qual = torch.randint(1, qcfg.qualities + 1, (x.shape[0],)) if qcfg.scalar else \
            torch.full((x.shape[0],), qcfg.levels)
        t = self.cfg.autoencoder.factor_t
        source, head = x[:, :, t - 1], x[:, :, :t]
        x, ref, keep = self._split_reference(x, qual.to(self.device))
        if self.cfg.autoencoder.motion:  # the intra head's tokens, then each predicted step's
            z = self.ae.encoder(head - 0.5, qual.to(self.device))
            steps = coded_steps(_AutoencoderStep(self.ae, self.vq), x, qual.to(self.device), ref, source, None, t)[1]
            idx = torch.cat([torch.cat([self.vq.encode(z[b:b + 1], int(q)) for b, q in enumerate(qual)]),
                             steps.indices], 2)
        else:
            z = self.ae.encoder(x - 0.5, qual.to(self.device), ref, keep)
            idx = torch.cat([self.vq.encode(z[b:b + 1], int(q)) for b, q in enumerate(qual)])  # (B, planes, T', h, w)
        B, C, T, h, w = idx.shape
        cur = idx.permute(0, 2, 1, 3, 4).reshape(B * T, C, h, w)  # (B*T', planes, h, w)
        prev = torch.cat([torch.full_like(idx[:, :, :1], mask), idx[:, :, :-1]], 2)
        prev = prev.permute(0, 2, 1, 3, 4).reshape(B * T, C, h, w)  # MASK before each clip's first
        kind = torch.tensor([qcfg.frame_kind(f) for f in range(T)]).repeat(B).to(self.device)
        return cur, prev, kind, qual.repeat_interleave(T).to(self.device)

    def train_prior(self, sampler_prior: ClipSampler) -> None:
        t = self.t
        self.sampler_prior = sampler_prior
        self.ae.eval(), self.vq.eval(), self.prior.train()
        opt = torch.optim.AdamW(self.prior.parameters(), lr=t.prior_lr, weight_decay=0.01, betas=(0.9, 0.98))
        # a finished run resumed with more --prior-steps goes on from where it ended
        # (fresh optimizer moments: a finished run keeps none)
        start_step = self.progress.step if self.progress.stage in ("prior", "done") else 0
        if self.progress.stage == "done" and start_step >= t.prior_steps:
            return
        prior = self.dist.wrap(_PriorStep(self.prior))
        if self.opt_state and self.progress.stage == "prior":
            opt.load_state_dict(self.opt_state)
        K = self.cfg.quantizer.codebook_size
        started, base = time.perf_counter(), self.progress.seconds
        bar = tqdm(range(start_step, t.prior_steps), desc="prior", initial=start_step, total=t.prior_steps,
                   disable=not self.dist.is_main)
        for step in bar:
            for g in opt.param_groups:
                g["lr"] = _lr(step, t.prior_steps, t.prior_lr)
            loss = prior(*self._prior_batch())  # mean bits per token
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.prior.parameters(), 1.0)
            opt.step()
            bits = loss.item()
            bar.set_postfix(bits=f"{bits:.3f}", saving=f"{1 - bits / math.log2(K):.1%}")
            self._write({"stage": "prior", "step": step + 1, "bits_per_token": bits,
                         "seconds": base + time.perf_counter() - started})
            if (step + 1) % t.ckpt_every == 0 or step + 1 == t.prior_steps:
                self._checkpoint(opt, "prior", step + 1, started, base)
        self._checkpoint(None, "done", t.prior_steps, started, base)

    def summary(self) -> dict:
        return {"config": asdict(self.t) | {"out": str(self.t.out)}, "progress": asdict(self.progress)}
