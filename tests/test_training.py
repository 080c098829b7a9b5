"""training/: a tiny two-stage run, checkpoints, resume, install, refusal of
the evaluation clip, and the `vqcodec train` command."""
import io
import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.config import CodecConfig
from vqcodec.training.data import ClipShape, find_videos
from vqcodec.training.run import run_training
from vqcodec.training.train import TrainConfig
from vqcodec.api import compress, decompress


def _codes_every_quality(codec) -> None:
    """A trained model's stream round trip (8 frames of 32x32 noise) at each quality."""
    frames = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    for q in codec.qualities:
        buf = io.BytesIO()
        compress(iter(frames), buf, 32, 32, Fraction(25), q, model=codec)
        buf.seek(0)
        assert np.stack(list(decompress(buf, model=codec))).shape == frames.shape


def _tiny_cfg(tiny_model) -> CodecConfig:
    return CodecConfig.from_json(open(tiny_model).read())


def test_two_stages_checkpoint_and_resume(tmp_path, tiny_model):
    out = tmp_path / "run"
    t = TrainConfig(out=out, name="t1", ae_steps=3, prior_steps=2, batch=2, clip=ClipShape(4, 32, 32),
                    prior_clip=ClipShape(4, 32, 32), prior_batch=1, ckpt_every=2, eval_every=2)
    run_training(t, _tiny_cfg(tiny_model), [], synthetic=True, log=lambda m: None)
    prog = json.loads((out / "progress.json").read_text())
    assert prog["stage"] == "done"
    log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log].count("autoencoder") == 3 and "perplexity" in log[0]
    # more prior steps: resume continues from the checkpoint, not from zero
    t2 = replace(t, prior_steps=4)
    (out / "progress.json").write_text(json.dumps(prog | {"stage": "prior", "step": 2}))
    run_training(t2, _tiny_cfg(tiny_model), [], synthetic=True, resume=True, log=lambda m: None)
    log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["stage"] == "prior"] == [1, 2, 3, 4]
    # a finished run resumed with more prior steps trains on; with as many, it does nothing
    run_training(replace(t, prior_steps=6), _tiny_cfg(tiny_model), [], synthetic=True, resume=True, log=lambda m: None)
    run_training(replace(t, prior_steps=6), _tiny_cfg(tiny_model), [], synthetic=True, resume=True, log=lambda m: None)
    log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["stage"] == "prior"] == [1, 2, 3, 4, 5, 6]
    assert json.loads((out / "progress.json").read_text())["stage"] == "done"
    # the output folder is an installable model
    from vqcodec import load_codec

    codec = load_codec(str(out / "t1.json"))
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    compress(iter(frames), io.BytesIO(), 32, 32, Fraction(25), 2, model=codec)


def test_evaluation_clip_is_refused(tmp_path):
    f = tmp_path / "carphone_pristine.mp4"
    f.write_bytes(b"")
    with pytest.raises(ValueError, match="evaluation clip"):
        find_videos([str(f)])


def test_train_command_with_video_data(tmp_path, tiny_model, tiny_video_file, monkeypatch):
    from vqcodec_cli.main import main

    monkeypatch.setenv("VQCODEC_MODELS", str(tmp_path / "models"))
    r = CliRunner().invoke(main, ["train", "--data", tiny_video_file, "--init", tiny_model, "--out",
                                  str(tmp_path / "r"), "--name", "cam", "--steps", "2", "--prior-steps", "1",
                                  "--batch", "2", "--clip", "4,32,32", "--install"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "models" / "cam.safetensors").is_file()
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "r"), "--synthetic"])
    assert r.exit_code != 0 and "already holds a run" in r.output


def test_train_command_passes_learning_rates_and_refuses_bad_ones(tmp_path, monkeypatch):
    """--lr / --prior-lr reach the trainer (unset: its defaults); zero or a word is a one-line error."""
    import vqcodec.training.run as run
    from vqcodec_cli.main import main

    seen = []
    monkeypatch.setattr(run, "run_training", lambda tcfg, *a, **k: seen.append(tcfg))
    base = ["train", "--synthetic", "--steps", "1", "--prior-steps", "1"]
    r = CliRunner().invoke(main, base + ["--out", str(tmp_path / "a"), "--lr", "4e-4", "--prior-lr", "1e-4"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, base + ["--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert (seen[0].lr, seen[0].prior_lr) == (4e-4, 1e-4)
    assert (seen[1].lr, seen[1].prior_lr) == (TrainConfig.lr, TrainConfig.prior_lr)
    for bad in (["--lr", "0"], ["--prior-lr", "-1"], ["--lr", "fast"]):
        r = CliRunner().invoke(main, base + ["--out", str(tmp_path / "c")] + bad)
        assert r.exit_code == 2 and "Traceback" not in r.output and bad[0] in r.output
    assert len(seen) == 2 and not (tmp_path / "c").exists()


def test_db_weighting_weighs_each_clip_by_its_own_error():
    """--weighting db: a clip's weight is the batch's mean error over its own,
    detached, so d(loss) is the same for the same dB at any quality; mse keeps
    equal weights; anything else is refused."""
    import torch

    from vqcodec.training.train import clip_weights

    assert clip_weights(torch.tensor([0.01, 0.001]), "mse") is None
    err = torch.tensor([0.02, 0.002, 0.0005], requires_grad=True)
    w = clip_weights(err, "db")
    assert not w.requires_grad
    assert torch.allclose(w * err.detach(), torch.full((3,), float(err.mean())))  # equal weighted errors
    # a 1 % smaller error lowers every clip's weighted loss by the same amount
    (w * err).sum().backward()
    assert torch.allclose(err.grad * err.detach(), torch.full((3,), float(err.mean())))
    assert clip_weights(torch.zeros(2), "db").isfinite().all()  # a perfect clip does not divide by zero
    with pytest.raises(ValueError, match="weighting"):
        TrainConfig(out=Path("x"), weighting="psnr")


def test_train_command_passes_the_weighting(tmp_path, monkeypatch):
    import vqcodec.training.run as run
    from vqcodec_cli.main import main

    seen = []
    monkeypatch.setattr(run, "run_training", lambda tcfg, *a, **k: seen.append(tcfg))
    base = ["train", "--synthetic", "--steps", "1", "--prior-steps", "1"]
    assert CliRunner().invoke(main, base + ["--out", str(tmp_path / "a"), "--weighting", "db"]).exit_code == 0
    assert CliRunner().invoke(main, base + ["--out", str(tmp_path / "b")]).exit_code == 0
    assert [t.weighting for t in seen] == ["db", "mse"]
    r = CliRunner().invoke(main, base + ["--out", str(tmp_path / "c"), "--weighting", "loud"])
    assert r.exit_code == 2 and "--weighting" in r.output and "Traceback" not in r.output


def test_predictive_run_fits_the_linear_path_and_trains_p_groups(tmp_path):
    """A fresh run of a linear-path, predictive model: the PCA sets the linear
    paths before step 1, the prior sees I and P latent frames (one prior clip
    is one GOP), and the result codes a stream."""
    import torch

    from vqcodec import load_codec
    from vqcodec.config import AutoencoderConfig, PriorConfig, QuantizerConfig
    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import Trainer

    cfg = CodecConfig(name="p", autoencoder=AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1,
                                                              attn_heads=2, embed_dim=8, linear_path=True),
                      quantizer=QuantizerConfig(levels=2, codebook_size=16, dim=8, predictive=True),
                      prior=PriorConfig(dim=16, layers=1, heads=2, tile=4), gop=8, intra_period=16)
    out = tmp_path / "run"
    t = TrainConfig(out=out, name="p", ae_steps=2, prior_steps=2, batch=2, clip=ClipShape(8, 32, 32),
                    prior_clip=ClipShape(8, 32, 32), prior_batch=1, ckpt_every=2, eval_every=2)
    sampler = ClipSampler([], t.clip, 1.0, seed=0)
    fresh = Trainer(t, cfg, sampler, None)
    w = fresh.ae.encoder.linear.conv.weight.reshape(8, -1)
    assert torch.allclose(w @ w.T, torch.eye(8), atol=1e-4)  # PCA rows are orthonormal
    fresh.sampler_prior = ClipSampler([], t.prior_clip, 1.0, seed=1)
    _, _, kind, _ = fresh._prior_batch()
    assert set(kind.tolist()) == {0, 1}  # 4 latent frames: I P P P
    run_training(t, cfg, [], synthetic=True, log=lambda m: None)
    codec = load_codec(str(out / "p.json"))
    frames = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    compress(iter(frames), io.BytesIO(), 32, 32, Fraction(25), 2, model=codec)


def test_scalar_run_trains_rate_and_every_quality_context(tmp_path):
    """A scalar model: stage 1 logs the rate model's bits and lowers the loss
    with them; stage 2 trains the prior on tokens of random qualities; the
    result codes a stream at every quality."""
    import torch

    from vqcodec.config import AutoencoderConfig, PriorConfig, QuantizerConfig
    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import Trainer

    cfg = CodecConfig(name="s", autoencoder=AutoencoderConfig(channels=8, latent_channels=16, res_blocks=1,
                                                              attn_heads=2, embed_dim=8, linear_path=True),
                      quantizer=QuantizerConfig(codebook_size=16, dim=8, scalar_steps=(0.5, 0.2), channel_groups=2),
                      prior=PriorConfig(dim=16, layers=1, heads=2, tile=4), gop=8, intra_period=16)
    out = tmp_path / "run"
    t = TrainConfig(out=out, name="s", ae_steps=3, prior_steps=3, batch=2, clip=ClipShape(8, 32, 32),
                    prior_clip=ClipShape(8, 32, 32), prior_batch=2, ckpt_every=3, eval_every=3)
    clip = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    tr = Trainer(t, cfg, ClipSampler([], t.clip, 1.0, seed=0), clip)
    scale = tr.vq.log_scale.detach().clone()
    tr.train_autoencoder()
    assert not torch.equal(scale, tr.vq.log_scale)  # the rate model is trained with the autoencoder
    tr.sampler_prior = ClipSampler([], t.prior_clip, 1.0, seed=1)
    cur, prev, kind, quality = tr._prior_batch()
    assert cur.shape[1] == 8 and set(quality.tolist()) <= {1, 2} and not kind.any()
    tr.train_prior(tr.sampler_prior)
    log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    ae = [r for r in log if r["stage"] == "autoencoder"]
    assert all(r["rate_model_bpp"] > 0 for r in ae) and {"psnr_q1", "psnr_q2"} <= set(ae[-1])
    from vqcodec import load_codec

    _codes_every_quality(load_codec(str(out / "s.json")))


def test_train_command_refuses_an_unknown_quantizer(tmp_path):
    from vqcodec_cli.main import main

    r = CliRunner().invoke(main, ["train", "--synthetic", "--quantizer", "lattice", "--out", str(tmp_path / "r")])
    assert r.exit_code != 0 and "lattice" in r.output


def test_init_from_a_scalar_model_without_shortcuts_extends_its_prior(tmp_path, tiny_model):
    """--init keeps the init model's architecture, except that a scalar model's prior
    gains the requested temporal shortcuts, at zero: it predicts what it did. A resume
    never extends (its optimizer state holds the old parameters)."""
    import torch

    from vqcodec import load_codec
    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import Trainer

    init = tiny_model.replace("tiny.json", "tiny_scalar.json")
    old = load_codec(init)
    want = replace(old.config, prior=replace(old.config.prior, copy_radius=2, match_context=True))
    t = TrainConfig(out=tmp_path / "run", name="ext", ae_steps=0, prior_steps=0)
    tr = Trainer(t, want, ClipSampler([], t.clip, 1.0, seed=0), None, init=init)
    assert tr.cfg.prior.copy_radius == 2 and tr.cfg.prior.match_context and tr.cfg.quantizer == old.config.quantizer
    assert (tr.prior.copy_w == 0).all() and (tr.prior.same_emb.weight == 0).all()
    p = old.prior
    cur = torch.randint(0, p.K + 1, (3, p.planes, p.cfg.tile ** 2))
    prev = torch.randint(0, p.K + 1, (3, p.planes, p.cfg.tile ** 2))
    group = torch.tensor([p.group(0, 0, 0, 1), p.group(0, 1, 1, 2), p.group(0, 0, 1, 2)])
    tr.prior.eval()
    with torch.no_grad():
        assert torch.equal(tr.prior(cur, prev, group), p(cur, prev, group))
    # an RVQ init is left as it is
    tr = Trainer(replace(t, out=tmp_path / "rvq"), want, ClipSampler([], t.clip, 1.0, seed=0), None,
                 init=tiny_model)
    assert tr.cfg.prior.copy_radius == 0 and not tr.cfg.quantizer.scalar


def test_init_from_an_unconditioned_scalar_model_adds_quality_conditioning(tmp_path, tiny_model):
    """A scalar init gains the requested autoencoder quality conditioning at zero:
    it encodes and decodes what it did, at every quality; training then moves the
    conditioning, and the trained model codes a stream at every quality."""
    import torch

    from vqcodec import load_codec
    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import Trainer

    init = tiny_model.replace("tiny.json", "tiny_scalar.json")
    old = load_codec(init)
    Q = old.config.quantizer.qualities
    want = replace(old.config, autoencoder=replace(old.config.autoencoder, quality_conditioned=Q))
    t = TrainConfig(out=tmp_path / "run", name="cond", ae_steps=2, prior_steps=1, batch=2,
                    clip=ClipShape(8, 32, 32), prior_clip=ClipShape(8, 32, 32), prior_batch=1)
    tr = Trainer(t, want, ClipSampler([], t.clip, 1.0, seed=0), None, init=init)
    assert tr.cfg.autoencoder.quality_conditioned == Q
    x = torch.rand(1, 3, 8, 32, 32) - 0.5
    tr.ae.eval()
    with torch.no_grad():
        z = old.autoencoder.encoder(x)
        for q in range(1, Q + 1):
            assert torch.equal(tr.ae.encoder(x, q), z)
            assert torch.equal(tr.ae.decoder(z, q), old.autoencoder.decoder(z))
        with pytest.raises(ValueError, match="conditioned on the quality"):
            tr.ae.encoder(x)
        with pytest.raises(ValueError, match="outside"):
            tr.ae.decoder(z, Q + 1)
    tr.ae.train()
    tr.train_autoencoder()
    assert tr.ae.decoder.film.shift.abs().sum() > 0  # the conditioning trains
    tr.train_prior(ClipSampler([], t.prior_clip, 1.0, seed=1))
    _codes_every_quality(load_codec(str(t.out / "cond.json")))


def test_init_weights_that_do_not_fit_their_config_are_refused(tmp_path, tiny_model):
    import shutil

    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import Trainer

    folder = tmp_path / "m"
    folder.mkdir()
    cfg = json.loads(open(tiny_model).read())
    cfg["prior"]["dim"] = 24  # the weights hold dim 16
    (folder / "tiny.json").write_text(json.dumps(cfg))
    shutil.copy(tiny_model.replace(".json", ".safetensors"), folder / "tiny.safetensors")
    t = TrainConfig(out=tmp_path / "run", name="bad", ae_steps=0, prior_steps=0)
    with pytest.raises(ValueError, match="do not match"):
        Trainer(t, _tiny_cfg(tiny_model), ClipSampler([], t.clip, 1.0, seed=0), None, init=str(folder / "tiny.json"))


def test_init_adds_the_reference_branch_and_trains_it(tmp_path, tiny_model):
    """A scalar init gains the requested reference branch (conditional
    coding): its prediction starts as the init's linear path and everything
    else at zero, so the model encodes and decodes what the init did, with or
    without a reference. Training pairs come from the clip: its first t
    frames are coded to make the reference, and the branch then trains."""
    import torch

    from vqcodec import load_codec
    from vqcodec.training.data import ClipSampler
    from vqcodec.training.train import INTRA_SHARE, Trainer

    init = tiny_model.replace("tiny.json", "tiny_scalar.json")
    old = load_codec(init)
    want = replace(old.config, autoencoder=replace(old.config.autoencoder, reference=True))
    t = TrainConfig(out=tmp_path / "run", name="ref", ae_steps=3, prior_steps=1, batch=4,
                    clip=ClipShape(6, 32, 32), prior_clip=ClipShape(10, 32, 32), prior_batch=1)
    tr = Trainer(t, want, ClipSampler([], t.clip, 1.0, seed=0), None, init=init)
    assert tr.cfg.autoencoder.reference
    branch = tr.ae.encoder.reference
    if old.autoencoder.encoder.linear is not None:
        assert torch.equal(branch.predict.weight, old.autoencoder.encoder.linear.conv.weight)
    x, ref = torch.rand(1, 3, 4, 32, 32) - 0.5, torch.rand(1, 3, 32, 32) - 0.5
    tr.ae.eval()
    with torch.no_grad():
        z = old.autoencoder.encoder(x, 1)
        assert torch.equal(tr.ae.encoder(x, 1, ref), z)
        assert torch.equal(tr.ae.decoder(z, 1, ref), old.autoencoder.decoder(z, 1))
    clips = torch.rand(5, 3, 6, 32, 32)
    rest, ref, keep = tr._split_reference(clips, torch.tensor([1, 2, 1, 2, 1]))
    assert rest.shape == (5, 3, 4, 32, 32) and torch.equal(rest, clips[:, :, 2:])
    assert ref.shape == (5, 3, 32, 32) and torch.equal(torch.round((ref + 0.5) * 255), (ref + 0.5) * 255)
    assert set(keep.tolist()) <= {0.0, 1.0} and 0 < INTRA_SHARE < 1
    with pytest.raises(ValueError, match="at least 4 frames"):
        tr._split_reference(clips[:, :, :3], torch.tensor([1] * 5))
    tr.ae.train()
    tr.train_autoencoder()
    assert tr.ae.decoder.reference.alpha.abs().sum() > 0  # the branch trains
    tr.train_prior(ClipSampler([], t.prior_clip, 1.0, seed=1))
    codec = load_codec(str(t.out / "ref.json"))
    assert codec.uses_reference
    _codes_every_quality(codec)


def test_reference_needs_a_scalar_quantizer():
    from vqcodec.config import AutoencoderConfig

    rvq = CodecConfig.recommended("r", "rvq")
    with pytest.raises(ValueError, match="reference.*scalar"):
        replace(rvq, autoencoder=replace(rvq.autoencoder, reference=True))
    assert CodecConfig.recommended("s").autoencoder.reference
    assert not AutoencoderConfig().reference  # older model files read as models without it
