"""config.py: JSON round trips, validation, and old configs keep their meaning."""
import json

import pytest

from vqcodec.config import CodecConfig


def test_recommended_round_trips_through_json():
    cfg = CodecConfig.recommended("mine")
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
