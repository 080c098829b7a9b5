"""Training checkpoints: the model as an installable model (config JSON +
safetensors), plus the optimizer state (safetensors) and progress (JSON).

Nothing is pickled, so a checkpoint is as safe to open as a model.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..config import CodecConfig
from ..zoo import save_model


@dataclass(frozen=True)
class Progress:
    stage: str  # "autoencoder" | "prior" | "done"
    step: int  # steps completed in this stage
    seconds: float  # wall time spent training so far (both stages)


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        idx, _, name = key.partition(".")
        state.setdefault(int(idx), {})[name] = v
    for key, v in meta["scalars"].items():
        idx, _, name = key.partition(".")
        state.setdefault(int(idx), {})[name] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(folder: Path, cfg: CodecConfig, modules, opt: torch.optim.Optimizer | None, progress: Progress) -> None:
    """Write the model, the optimizer and the progress under `folder`."""
    ae, vq, prior = modules
    save_model(folder, cfg, ae, vq, prior)
    meta: dict = {"stage": progress.stage, "step": progress.step, "seconds": progress.seconds}
    if opt is not None:
        tensors, opt_meta = _flatten_optimizer(opt)
        tmp = folder / "optimizer.safetensors.tmp"
        save_file(tensors or {"_empty": torch.zeros(0)}, str(tmp))
        os.replace(tmp, folder / "optimizer.safetensors")
        meta["optimizer"] = opt_meta
    tmp = folder / "progress.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, folder / "progress.json")


def load_progress(folder: Path) -> tuple[Progress, dict | None]:
    """-> (progress, optimizer state_dict or None). Raises FileNotFoundError."""
    meta = json.loads((folder / "progress.json").read_text())
    progress = Progress(meta["stage"], int(meta["step"]), float(meta["seconds"]))
    opt_state = None
    if "optimizer" in meta and (folder / "optimizer.safetensors").is_file():
        tensors = load_file(str(folder / "optimizer.safetensors"))
        tensors.pop("_empty", None)
        opt_state = _unflatten_optimizer(tensors, meta["optimizer"])
    return progress, opt_state
