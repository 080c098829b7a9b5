"""Model registry: name -> config JSON + safetensors weights + sha256.

A model is two files side by side, `<name>.json` (a CodecConfig) and
`<name>.safetensors` (tensors prefixed `autoencoder.`, `quantizer.`,
`prior.`). Models are looked up, in order, in:
  1. the package's own `weights/` folder (ships "default"),
  2. the folder named by $VQCODEC_MODELS, else ~/.local/share/vqcodec/models
     (where `vqcodec train --install NAME` puts trained models),
or given directly as a path to either file. Weights are only ever read with
safetensors: a file a user hands us is never unpickled.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .codec import Codec, ModelId
from .config import CodecConfig
from .errors import ModelNotFound
from .models.autoencoder import Autoencoder
from .models.fast_prior import FastPrior
from .models.prior import Prior
from .models.residual_vq import ResidualVQ
from .models.scalar_quantizer import ScalarQuantizer

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
# earlier shipped defaults, kept so that their streams still decode: found by
# the sha256 a stream names, never listed or chosen by name
LEGACY_WEIGHTS = PACKAGE_WEIGHTS / "legacy"


def user_models_dir() -> Path:
    env = os.environ.get("VQCODEC_MODELS")
    return Path(env) if env else Path.home() / ".local" / "share" / "vqcodec" / "models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config_path: Path
    weights_path: Path

    def config(self) -> CodecConfig:
        try:
            return CodecConfig.from_json(self.config_path.read_text())
        except OSError as e:
            raise ModelNotFound(f"cannot read model config {self.config_path}: {e.strerror}") from None

    def sha256(self) -> bytes:
        h = hashlib.sha256()
        with open(self.weights_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.digest()


def _entry(config_path: Path) -> ModelEntry | None:
    weights = config_path.with_suffix(".safetensors")
    if config_path.is_file() and weights.is_file():
        return ModelEntry(config_path.stem, config_path, weights)
    return None


def available_models() -> list[ModelEntry]:
    """Every installed model, package models first; names are unique."""
    seen: dict[str, ModelEntry] = {}
    for folder in (PACKAGE_WEIGHTS, user_models_dir()):
        if folder.is_dir():
            for cfg in sorted(folder.glob("*.json")):
                e = _entry(cfg)
                if e and e.name not in seen:
                    seen[e.name] = e
    return list(seen.values())


def resolve(name_or_path: str) -> ModelEntry:
    p = Path(name_or_path)
    if p.suffix in (".json", ".safetensors") or os.sep in name_or_path:
        e = _entry(p.with_suffix(".json"))
        if e is None:
            raise ModelNotFound(f"no model at {name_or_path} (need {p.stem}.json and {p.stem}.safetensors)")
        return e
    for e in available_models():
        if e.name == name_or_path:
            return e
    names = ", ".join(e.name for e in available_models()) or "none"
    raise ModelNotFound(f"model {name_or_path!r} is not installed (installed: {names})")


def build_modules(cfg: CodecConfig) -> tuple[Autoencoder, ResidualVQ | ScalarQuantizer, Prior | FastPrior]:
    vq = ScalarQuantizer(cfg.quantizer) if cfg.quantizer.scalar else ResidualVQ(cfg.quantizer)
    prior = FastPrior(cfg.prior, cfg.quantizer) if cfg.prior.kind == "fast" else Prior(cfg.prior, cfg.quantizer)
    return Autoencoder(cfg.autoencoder), vq, prior


def load_codec(name_or_path: str = "default", device: str = "cpu") -> Codec:
    """Load an installed model (or one given by path) as a ready Codec."""
    entry = resolve(name_or_path)
    cfg = entry.config()
    ae, vq, prior = build_modules(cfg)
    try:
        tensors = load_file(str(entry.weights_path))
    except (SafetensorError, OSError) as e:
        raise ModelNotFound(f"cannot read weights {entry.weights_path}: {e}") from None
    for prefix, module in (("autoencoder.", ae), ("quantizer.", vq), ("prior.", prior)):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise ModelNotFound(f"weights {entry.weights_path} do not fit config: {first}") from None
    return Codec(cfg, ae, vq, prior, ModelId(cfg.name, entry.sha256()), device)


def save_model(folder: Path, cfg: CodecConfig, ae: Autoencoder, vq: ResidualVQ, prior: Prior,
               half: bool = False) -> ModelEntry:
    """Write <folder>/<cfg.name>.json and .safetensors (atomically, via rename).
    half: store float tensors as float16 (half the file; loading upcasts them
    to float32, so the model computes exactly as the float16 values say)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in (("autoencoder.", ae), ("quantizer.", vq), ("prior.", prior)):
        for k, v in module.state_dict().items():
            v = v.detach().to("cpu")
            tensors[prefix + k] = (v.half() if half and v.is_floating_point() else v).contiguous()
    weights = folder / f"{cfg.name}.safetensors"
    config = folder / f"{cfg.name}.json"
    tmp_w, tmp_c = weights.with_suffix(".safetensors.tmp"), config.with_suffix(".json.tmp")
    save_file(tensors, str(tmp_w), metadata={"name": cfg.name, "format": "vqcodec-1"})
    tmp_c.write_text(cfg.to_json() + "\n")
    os.replace(tmp_w, weights)
    os.replace(tmp_c, config)
    return ModelEntry(cfg.name, config, weights)


def ship(name_or_path: str, folder: Path = PACKAGE_WEIGHTS, name: str = "default",
         intra_period: int | None = None) -> ModelEntry:
    """Copy a trained model into `folder` as `name`, weights in float16: how the
    shipped default is made from a training run (recipes/default.sh, docs/training.md).
        python -c "from vqcodec.zoo import ship; ship('runs/default/default.json')"
    intra_period (frames, a multiple of the GOP): the prior-context reset
    interval its encoder uses; None keeps the run's. It is an encoder setting
    (streams record it, decoders follow their packets), not a weight.
    """
    from dataclasses import replace

    codec = load_codec(name_or_path)
    cfg = replace(codec.config, name=name)
    if intra_period is not None:
        cfg = replace(cfg, intra_period=intra_period)  # __post_init__ checks the multiple
    return save_model(Path(folder), cfg, codec.autoencoder, codec.quantizer, codec.prior, half=True)


def legacy_model(name: str, sha256: bytes) -> ModelEntry | None:
    """The earlier shipped model called `name` whose weights have this sha256, if any."""
    if LEGACY_WEIGHTS.is_dir():
        for cfg in sorted(LEGACY_WEIGHTS.glob("*.json")):
            e = _entry(cfg)
            if e and e.config().name == name and e.sha256() == sha256:
                return e
    return None


def codec_for(header, model: str | None = None, device: str = "cpu") -> Codec:
    """The codec that decodes the stream `header` describes: `model` if given, else the
    installed model the stream names, or the earlier shipped model of that name
    with the stream's weights (legacy/). Its weights' sha256 must be the stream's."""
    try:
        codec = load_codec(model or header.model_name, device)
    except ModelNotFound as e:
        if model:
            raise
        raise ModelNotFound(
            f"the stream needs model {header.model_name!r} (weights sha256 {header.weights_sha256.hex()[:16]}...), "
            f"which is not installed: {e}; install it, or pass --model PATH") from None
    if not model and codec.model_id.sha256 != header.weights_sha256:
        # only a stream the installed model did not write makes us hash the legacy weights
        legacy = legacy_model(header.model_name, header.weights_sha256)
        if legacy is not None:
            codec = load_codec(str(legacy.config_path), device)
    codec.check_header(header)
    return codec
