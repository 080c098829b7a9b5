"""zoo.py: the shipped default model, lookups, safetensors only, save/load."""
import json
from pathlib import Path

import pytest

from vqcodec.zoo import ModelNotFound, available_models, load_codec, resolve, save_model
from vqcodec.format.versions import FORMAT_VERSION


def test_default_model_ships_with_the_package():
    names = [e.name for e in available_models()]
    assert "default" in names
    e = resolve("default")
    assert e.weights_path.suffix == ".safetensors" and e.weights_path.stat().st_size < 30e6
    cfg = e.config()
    assert len(cfg.qualities) >= 4


def test_the_default_codes_motion_compensated_steps_in_the_current_format():
    """The shipped default is a motion-compensated model: it writes FORMAT_VERSION (6),
    whose streams decode with no --model; the v5 default is refused them by name and sha256."""
    import io
    from fractions import Fraction

    import numpy as np

    from vqcodec.api import compress, decompress
    from vqcodec.errors import CodecError
    from vqcodec.format.container import StreamHeader
    from vqcodec.format.versions import FORMAT_VERSION, has_motion
    from vqcodec.zoo import LEGACY_WEIGHTS, codec_for

    codec = load_codec("default")
    assert codec.uses_motion and codec.version_for() == FORMAT_VERSION and has_motion(FORMAT_VERSION)
    base = (np.arange(40 * 40 * 3) * 7 % 251).astype(np.uint8).reshape(40, 40, 3)
    frames = np.stack([np.roll(base, i, axis=1)[:32, :32] for i in range(6)])  # a pan
    buf = io.BytesIO()
    compress(iter(frames), buf, 32, 32, Fraction(25), 3, model=codec)
    header = StreamHeader.read(io.BytesIO(buf.getvalue()))
    assert header.version == FORMAT_VERSION and header.weights_sha256 == codec.model_id.sha256
    assert len(list(decompress(io.BytesIO(buf.getvalue())))) == 6
    with pytest.raises(CodecError, match=rf"stream needs model 'default' \(sha256 {codec.model_id.sha256.hex()[:12]}"):
        codec_for(header, str(LEGACY_WEIGHTS / "default-v5.json"))


def test_load_by_path_and_id(tiny_model):
    codec = load_codec(tiny_model)
    assert codec.model_id.name == "tiny"
    assert len(codec.model_id.sha256) == 32
    assert resolve(tiny_model.replace(".json", ".safetensors")).name == "tiny"


def test_unknown_model_names_what_is_installed():
    with pytest.raises(ModelNotFound, match="not installed.*default"):
        resolve("nope")


def test_weights_that_do_not_fit_are_refused(tmp_path, tiny_model):
    import shutil

    shutil.copy(tiny_model.replace(".json", ".safetensors"), tmp_path / "x.safetensors")
    cfg = json.loads(open(tiny_model).read())
    cfg["quantizer"]["levels"] = 4
    (tmp_path / "x.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelNotFound, match="do not fit"):
        load_codec(str(tmp_path / "x.json"))


def test_pickles_are_never_loaded(tmp_path, tiny_model):
    import shutil

    shutil.copy(tiny_model, tmp_path / "evil.json")
    (tmp_path / "evil.safetensors").write_bytes(b"\x80\x04\x95" + b"pickle" * 10)
    with pytest.raises(ModelNotFound, match="cannot read weights"):
        load_codec(str(tmp_path / "evil.json"))


def test_user_folder_install(tmp_path, monkeypatch, tiny_codec):
    monkeypatch.setenv("VQCODEC_MODELS", str(tmp_path))
    from dataclasses import replace

    cfg = replace(tiny_codec.config, name="mine")
    save_model(tmp_path, cfg, tiny_codec.autoencoder, tiny_codec.quantizer, tiny_codec.prior)
    assert load_codec("mine").model_id.name == "mine"


def test_ship_stores_half_precision_that_loads_as_float32(tmp_path):
    """ship() writes float16 weights (half the file) that load into the float32
    modules with exactly the float16 values."""
    import torch
    from safetensors.torch import load_file

    from vqcodec.zoo import ship

    src = Path(__file__).resolve().parent / "expected" / "models" / "tiny_scalar.json"
    entry = ship(str(src), tmp_path, name="shipped")
    assert entry.name == "shipped" and entry.config().name == "shipped"
    stored = load_file(str(entry.weights_path))
    assert all(t.dtype == torch.float16 for t in stored.values() if t.is_floating_point())
    assert entry.weights_path.stat().st_size < 0.6 * src.with_suffix(".safetensors").stat().st_size
    codec = load_codec(str(entry.config_path))
    w = codec.prior.head_w
    assert w.dtype == torch.float32 and torch.equal(w, stored["prior.head_w"].float())


def test_ship_can_set_the_intra_period_but_only_to_a_multiple_of_the_gop(tmp_path):
    from vqcodec.zoo import ship

    src = Path(__file__).resolve().parent / "expected" / "models" / "tiny_copy.json"
    entry = ship(str(src), tmp_path, name="long", intra_period=32)
    cfg = entry.config()
    assert cfg.intra_period == 32 and cfg.gop == 8 and cfg.prior.copy_radius == 2
    assert load_codec(str(entry.config_path)).prior.copy_w.abs().sum() > 0  # the shortcuts travel
    with pytest.raises(ValueError, match="multiple"):
        ship(str(src), tmp_path / "bad", name="bad", intra_period=12)


@pytest.mark.parametrize("legacy, version, sha", [("default-v4", 4, "0b63e2c3927b"), ("default-v5", 5, "b498c79aafda"),
                                                  ("default-stage15", FORMAT_VERSION, "64402bf878b2")])
def test_streams_of_the_previous_default_still_decode(legacy, version, sha):
    """A stream written by an earlier shipped default (same name, other sha256;
    the motion models' streams in this build's format) decodes with no --model: the decoder finds that model in weights/legacy/ by sha256."""
    import io
    from fractions import Fraction

    import numpy as np

    from vqcodec.api import compress, decompress
    from vqcodec.format.container import StreamHeader
    from vqcodec.zoo import LEGACY_WEIGHTS, codec_for, legacy_model

    old = load_codec(str(LEGACY_WEIGHTS / f"{legacy}.json"))
    new = load_codec("default")
    assert old.model_id.name == new.model_id.name == "default" and old.model_id.sha256 != new.model_id.sha256
    assert old.model_id.sha256.hex().startswith(sha)  # the weights its streams name
    frames = (np.arange(8 * 16 * 16 * 3) % 251).astype(np.uint8).reshape(8, 16, 16, 3)
    buf = io.BytesIO()
    compress(iter(frames), buf, 16, 16, Fraction(25), 3, model=old)
    header = StreamHeader.read(io.BytesIO(buf.getvalue()))
    assert header.version == version and legacy_model("default", header.weights_sha256) is not None
    assert codec_for(header).model_id.sha256 == old.model_id.sha256
    got = np.stack(list(decompress(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(got, np.stack(list(decompress(io.BytesIO(buf.getvalue()), old))))
    assert legacy_model("default", b"\0" * 32) is None
    forged = StreamHeader(**{**header.__dict__, "weights_sha256": b"\1" * 32})
    with pytest.raises(Exception, match="stream needs model 'default' \\(sha256 0101010101"):
        codec_for(forged)
