"""Regenerate the pinned test files under tests/expected/ (run by hand, then
review the diff: a change here is a format or model change).

    python tests/make_expected.py

- models/tiny.{json,safetensors}: a tiny random model (seeded codebooks) so
  tests exercise every stage quickly without the shipped weights;
- tiny_q2.vqv: the golden stream of the `tiny_frames` fixture at quality 2;
- tiny_lowlatency_q2.vqv: the same frames in the low-latency mode (keyframes
  every 4 frames, latency 1: forward-predicted and interpolated frames both).
- models/tiny_predictive.* and tiny_predictive_q2.vqv: the same for a model
  with the linear path and predictive (I/P) quantization, GOPs of 8 frames
  (4 latent frames: I P P P).
- models/tiny_scalar.* and tiny_scalar_q2.vqv: a scalar-quantized model
  (linear path, steps 0.4 and 0.1, 16 symbols, prior groups of 4 channels),
  its encoder rounding to the nearest symbol; tiny_scalar_q2_rdo.vqv: the
  same with rate-distortion rounding at lambda SCALAR_RDO_LAMBDA.
- models/tiny_fast.*, tiny_fast_q2.vqv, tiny_fast_q2_rdo.vqv and
  tiny_fast_lowlatency_q2.vqv: tiny_scalar with the fast prior (format v5),
  its weights drawn at random so the streams pin them.
- models/tiny_motion.* and tiny_motion_q2.vqv: tiny_fast with motion-compensated
  coding (format v14, quarter-pixel motion sampled by the 4-tap filter, block vectors, kept tiles' tokens not coded, a finer intra step,
  side information coded with context from the step before): intra GOPs of 4 frames, intra period 8,
  2-frame predicted steps; its reference branch's features drawn at random. Coded
  without the encoder's rate-distortion skip (its random step tokens never pay for
  themselves). tiny_motion_pan_q2.vqv: 12 frames of vqcodec.bench.scenes.pan_scene
  (64x48) the same way, with FINE_LAMBDA 0, so that its fields are in quarter pixels.
  tiny_motion_tiles_q2.vqv: 21 frames of the tiny pattern with the tile skip on
  (StepEncoder.TILE_LAMBDA 0.1), so that some tiles keep the prediction and their
  tokens are left out. tiny_motion_overlap16_q2.vqv: the same 21 frames in 16-pixel
  motion blocks with StepEncoder.OVERLAP_GAIN 10, so that every step whose vectors
  differ is sent with overlapped blocks. tiny_motion_lowlatency_q2.vqv and
  tiny_motion_lowlatency_l3_q2.vqv: the tiny pattern in the low-latency mode of
  format v14 (predicted steps) at latency 0 (one-frame steps and packets,
  keyframes every 4 frames) and latency 3 (packets of 4 frames, 2-frame steps,
  keyframes every 8), coded as tiny_motion_q2.vqv is but with intra steps of 2 frames.
- models/tiny_copy.* and tiny_copy_q2.vqv: tiny_scalar with the prior's
  temporal shortcuts (copy head, radius 2, and match context), their
  weights drawn at random rather than left at zero so the stream pins them.
Older goldens (tiny_q2_v1.vqv: format version 1; tiny_q2_v2.vqv and
tiny_lowlatency_q2_v2.vqv: version 2; tiny_q2_v3.vqv and
tiny_lowlatency_q2_v3.vqv: version 3, the last coded with the float prior;
tiny_motion_q2_v6.vqv: version 6, whole-pixel motion; tiny_motion_q2_v7.vqv: version 7,
kept tiles coded; tiny_motion_q2_v8.vqv: version 8, the intra step at the stream's quality;
tiny_motion_pan_q2_v9.vqv and tiny_motion_tiles_q2_v9.vqv: version 9, side information
without context; tiny_motion_pan_q2_v10.vqv: version 10, bilinear sampling between pixels;
tiny_motion_pan16_q2_v11.vqv: version 11, vectors interpolated between block centres, the
pan in 16-pixel motion blocks with StepEncoder.block 16; tiny_motion_pattern16_q2_v12.vqv:
version 12, no overlap bits, 21 frames of the tiny pattern in 16-pixel motion blocks;
tiny_motion_q2_v13.vqv: version 13, the last before v14's low-latency steps;
tiny_motion_lowlatency_q2_v13.vqv: version 13's low-latency mode of a motion model,
keyframes and motion-compensated frames between, made as tiny_lowlatency_q2.vqv is)
are never regenerated: they pin that old streams keep decoding. The model is
rewritten only with --model.
"""
from __future__ import annotations

import io
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import _tiny_pattern  # noqa: E402

from vqcodec.config import AutoencoderConfig, CodecConfig, PriorConfig, QuantizerConfig  # noqa: E402
from vqcodec.zoo import build_modules, load_codec, save_model  # noqa: E402
from vqcodec.api import compress

TINY = CodecConfig(
    name="tiny",
    autoencoder=AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1, attn_heads=2, embed_dim=8),
    quantizer=QuantizerConfig(levels=3, codebook_size=16, dim=8),
    prior=PriorConfig(dim=16, layers=1, heads=2, tile=4),
    gop=4,
    intra_period=8,
)

TINY_PREDICTIVE = replace(
    TINY,
    name="tiny_predictive",
    autoencoder=replace(TINY.autoencoder, linear_path=True),
    quantizer=replace(TINY.quantizer, predictive=True),
    gop=8,
    intra_period=16,
)

TINY_SCALAR = replace(
    TINY,
    name="tiny_scalar",
    autoencoder=replace(TINY.autoencoder, linear_path=True),
    quantizer=QuantizerConfig(codebook_size=16, dim=8, scalar_steps=(0.4, 0.1), channel_groups=2),
    gop=8,
    intra_period=16,
)


TINY_COPY = replace(TINY_SCALAR, name="tiny_copy", prior=replace(TINY.prior, copy_radius=2, match_context=True))

# the fast prior (format v5) on tiny_scalar's shapes: a context block 16 wide,
# coding groups of 2 and 6 channels
TINY_FAST = replace(TINY_SCALAR, name="tiny_fast",
                    prior=PriorConfig(kind="fast", dim=16, layers=1, heads=2, tile=4, mlp_ratio=2,
                                      channel_split=(2, 6), pass_hidden=16))

# motion-compensated coding (format v6) on tiny_fast's shapes: the reference
# branch and the prediction's detail, intra GOPs of 4 frames, then 2-frame steps
TINY_MOTION = replace(TINY_FAST, name="tiny_motion",
                      autoencoder=replace(TINY_FAST.autoencoder, reference=True, motion=True), gop=4, intra_period=8)


def make_tiny_model(folder: Path, cfg: CodecConfig = TINY, seed: int = 0) -> Path:
    from vqcodec.models.autoencoder import fit_linear_path

    torch.manual_seed(seed)
    ae, vq, prior = build_modules(cfg)
    clips = torch.rand(2, 3, cfg.gop, 32, 32) - 0.5
    if cfg.autoencoder.linear_path:
        fit_linear_path(ae, clips)
    vq.train()
    with torch.no_grad():  # seed the codebooks from encoder outputs of random clips
        vq(ae.encoder(clips))
    vq.eval()
    if cfg.prior.copy_radius:  # zero at birth (prior.py); random here, so streams depend on them
        with torch.no_grad():
            prior.copy_w.normal_(0, 0.5), prior.copy_b.normal_(0, 2.0)
            prior.same_emb.weight.normal_(0, 0.5), prior.diff_emb.weight.normal_(0, 0.5)
    if cfg.prior.kind == "fast":  # outputs start flat (fast_prior.PassNet); random, so streams pin them
        with torch.no_grad():
            for net in prior.passes:
                net.head.weight.normal_(0, 0.3), net.head.bias.normal_(0, 0.5)
            prior.prev_emb.weight.normal_(0, 0.5)
    if cfg.autoencoder.motion:  # a residual coder (as training starts one), its branch features random
        from vqcodec.training.predictive import start_motion

        start_motion(ae)
        with torch.no_grad():
            for branch in (ae.encoder.reference, ae.decoder.reference):
                branch.hi.weight.normal_(0, 0.05), branch.lat.weight.normal_(0, 0.05)
    return save_model(folder, cfg, ae, vq, prior).config_path


LOWLATENCY_KEYINT, LOWLATENCY_LATENCY = 4, 1


def lowlatency_stream(codec, frames) -> bytes:
    from vqcodec.modes.keyframes import FixedKeyframes
    from vqcodec.modes.lowlatency import LowLatencySettings

    buf = io.BytesIO()
    compress(frames, buf, frames.shape[2], frames.shape[1], Fraction(25), 2, "lowlatency", codec,
             keyframes=FixedKeyframes(LOWLATENCY_KEYINT), settings=LowLatencySettings(latency=LOWLATENCY_LATENCY))
    return buf.getvalue()


MOTION_LOWLATENCY_KEYINT = {0: 4, 3: 8}  # latency -> keyframe interval of the v14 goldens


def motion_lowlatency_stream(codec, frames, latency: int) -> bytes:
    buf = io.BytesIO()
    compress(frames, buf, frames.shape[2], frames.shape[1], Fraction(25), 2, "lowlatency", codec,
             keyint=MOTION_LOWLATENCY_KEYINT[latency], latency=latency)
    return buf.getvalue()


SCALAR_RDO_LAMBDA = 1.0  # large: the untrained tiny prior's tables are nearly flat


def full_stream(codec, frames) -> bytes:
    buf = io.BytesIO()
    compress(iter(frames), buf, frames.shape[2], frames.shape[1], Fraction(25), 2, model=codec)
    return buf.getvalue()


def main() -> None:
    models, frames = HERE / "expected" / "models", _tiny_pattern()
    for cfg in (TINY_SCALAR, TINY_PREDICTIVE, TINY_COPY, TINY_FAST, TINY_MOTION):  # model (made once, or with --model) and its q2 golden
        path = models / f"{cfg.name}.json"
        if "--model" in sys.argv or not path.is_file():
            make_tiny_model(models, cfg)
        codec = load_codec(str(path))
        if cfg in (TINY_SCALAR, TINY_FAST):
            codec.use_rounding(SCALAR_RDO_LAMBDA)
            (HERE / "expected" / f"{cfg.name}_q2_rdo.vqv").write_bytes(full_stream(codec, frames))
        if cfg.quantizer.scalar:  # the goldens' reference encoder: nearest rounding
            codec.use_rounding(0)
        if cfg is TINY_MOTION:  # its random step tokens never pay: code them anyway (no RD skip)
            from vqcodec.modes.steps import StepEncoder

            StepEncoder.rd_skip = StepEncoder.rd_tiles = False
            from vqcodec.modes.predicted import PredictedEncoder

            PredictedEncoder.INTRA_FRAMES = cfg.gop  # a whole GOP coded alone (test_predicted's layout)
        (HERE / "expected" / f"{cfg.name}_q2.vqv").write_bytes(full_stream(codec, frames))
        if cfg is TINY_MOTION:  # half-pixel fields pinned too
            from vqcodec.bench.scenes import pan_scene

            StepEncoder.FINE_LAMBDA = 0.0
            (HERE / "expected" / "tiny_motion_pan_q2.vqv").write_bytes(full_stream(codec, pan_scene(12, 64, 48)))
            # tiles that keep the prediction (v8), some in each step: a low weight of bits (at the
            # shipped 3 the tiny random model keeps every tile, and such a step is sent as skipped)
            StepEncoder.FINE_LAMBDA, StepEncoder.rd_tiles, StepEncoder.TILE_LAMBDA = 1.0, True, 0.1
            (HERE / "expected" / "tiny_motion_tiles_q2.vqv").write_bytes(full_stream(codec, _tiny_pattern(21)))
            StepEncoder.rd_tiles = False
            # v13: 16-pixel blocks, where the square and the background move apart, every
            # step whose vectors differ sent overlapped
            StepEncoder.block, StepEncoder.OVERLAP_GAIN = 16, 10.0
            (HERE / "expected" / "tiny_motion_overlap16_q2.vqv").write_bytes(full_stream(codec, _tiny_pattern(21)))
            StepEncoder.block, StepEncoder.OVERLAP_GAIN = None, 0.98
            PredictedEncoder.INTRA_FRAMES = None  # v14: the low-latency mode's steps, intra steps of 2 frames
            for latency, name in ((0, ""), (3, "_l3")):
                (HERE / "expected" / f"tiny_motion_lowlatency{name}_q2.vqv").write_bytes(
                    motion_lowlatency_stream(codec, frames, latency))
        if cfg is TINY_FAST:
            (HERE / "expected" / f"{cfg.name}_lowlatency_q2.vqv").write_bytes(lowlatency_stream(codec, frames))
    cfg_path = make_tiny_model(models) if "--model" in sys.argv else models / "tiny.json"
    codec = load_codec(str(cfg_path))
    (HERE / "expected" / "tiny_q2.vqv").write_bytes(full_stream(codec, frames))
    (HERE / "expected" / "tiny_lowlatency_q2.vqv").write_bytes(lowlatency_stream(codec, frames))
    print("wrote tiny_q2.vqv and tiny_lowlatency_q2.vqv with", cfg_path)


if __name__ == "__main__":
    main()
