"""config.py: JSON round trips, validation, and old configs keep their meaning."""
import json
from dataclasses import replace

import pytest

from vqcodec.config import CodecConfig, PriorConfig, QuantizerConfig


def test_recommended_round_trips_through_json():
    cfg = CodecConfig.recommended("mine", quantizer="rvq")
    assert cfg.autoencoder.linear_path and cfg.quantizer.predictive
    assert cfg.quantizer.frame_kinds == 2 and cfg.quantizer.codebook_count == 2 * cfg.quantizer.levels
    assert CodecConfig.from_json(cfg.to_json()) == cfg


def test_configs_written_before_the_new_fields_load_as_before():
    d = json.loads(CodecConfig().to_json())
    del d["autoencoder"]["linear_path"], d["quantizer"]["predictive"]
    cfg = CodecConfig.from_dict(d)
    assert not cfg.autoencoder.linear_path and not cfg.quantizer.predictive
    assert cfg.quantizer.frame_kinds == 1


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="gop"):
        CodecConfig(gop=7)
    with pytest.raises(ValueError, match="invalid model config"):
        CodecConfig.from_dict({"name": "x"})
    with pytest.raises(ValueError, match="not valid JSON"):
        CodecConfig.from_json("{")


def test_scalar_config_planes_groups_and_qualities():
    cfg = CodecConfig.recommended("s", quantizer="scalar")
    q = cfg.quantizer
    assert q.scalar and not q.predictive and cfg.qualities == list(range(1, len(q.scalar_steps) + 1))
    assert q.planes == q.dim and q.plane_groups == q.channel_groups and q.planes_per_group == q.dim // q.channel_groups
    assert all(q.groups_at(n) == q.channel_groups for n in cfg.qualities)
    assert q.quality_contexts == len(q.scalar_steps)
    back = CodecConfig.from_json(cfg.to_json())
    assert back == cfg and isinstance(back.quantizer.scalar_steps, tuple)


def test_recommended_default_is_the_shipped_architecture():
    assert CodecConfig.recommended("d") == CodecConfig.recommended("d", quantizer="scalar")


def test_quality_conditioning_must_match_the_quantizers_qualities():
    cfg = CodecConfig.recommended("s")
    assert cfg.autoencoder.quality_conditioned == cfg.quantizer.qualities == 10
    assert CodecConfig.recommended("r", quantizer="rvq").autoencoder.quality_conditioned == 0
    with pytest.raises(ValueError, match="quality_conditioned"):
        replace(cfg, autoencoder=replace(cfg.autoencoder, quality_conditioned=4))


def test_rvq_config_keeps_its_meaning():
    q = CodecConfig.recommended("r", quantizer="rvq").quantizer
    assert not q.scalar and q.planes == q.levels == q.plane_groups and q.planes_per_group == 1
    assert q.groups_at(3) == 3 and q.quality_contexts == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(scalar_steps=(1.0, 2.0)), "decreasing"),
    (dict(scalar_steps=(1.0, 0.0)), "decreasing"),
    (dict(scalar_steps=(1.0,), predictive=True), "predictive"),
    (dict(scalar_steps=(1.0,), channel_groups=5), "channel_groups"),
])
def test_bad_scalar_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantizerConfig(**kwargs)


def test_unknown_quantizer_kind_is_refused():
    with pytest.raises(ValueError, match="quantizer"):
        CodecConfig.recommended("x", quantizer="lattice")


def test_recommended_prior_is_fast_and_old_configs_read_as_transformer_priors():
    fast = CodecConfig.recommended("f")
    assert fast.prior.kind == "fast" and fast.prior.channel_split == (16, 48) and fast.intra_period == 128
    assert CodecConfig.from_json(fast.to_json()) == fast  # the tuple survives JSON
    d = fast.to_dict()
    del d["prior"]["kind"], d["prior"]["channel_split"], d["prior"]["pass_hidden"]  # a model saved before v5
    assert CodecConfig.from_dict(d).prior.kind == "transformer"
    with pytest.raises(ValueError, match="unknown prior kind 'slow'"):
        PriorConfig(kind="slow")
    with pytest.raises(ValueError, match="fast prior needs a scalar quantizer"):
        CodecConfig(prior=PriorConfig.fast())
    assert CodecConfig.recommended("r", quantizer="rvq").prior.kind == "transformer"
    cfg = CodecConfig.recommended("s", prior="transformer")
    assert cfg.prior.copy_radius == 2 and cfg.prior.match_context and cfg.intra_period == 128
    assert CodecConfig.recommended("r", quantizer="rvq").prior.copy_radius == 0
    d = cfg.to_dict()
    del d["prior"]["copy_radius"], d["prior"]["match_context"]  # a model saved before they existed
    old = CodecConfig.from_dict(d).prior
    assert old.copy_radius == 0 and not old.match_context
