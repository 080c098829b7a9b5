"""Grow a trained fast prior into a larger one that starts where it was.

`vqcodec train --init MODEL` keeps the init model's architecture, except
where the requested one only adds to it (train.Trainer._load_weights). For
the fast prior (models/fast_prior.py) two such additions exist:

- **Finer channel groups.** A requested `channel_split` that refines the
  init's (every new group lies inside one old group, e.g. (16, 48) ->
  (4, 4, 8, 16, 16, 16)) gives each new group's two passes the weights of
  the old group's passes, the output head cut down to the new group's
  channels. The passes keep their input layout (every channel's
  [cur, nbr, prev]), so a new pass starts as the old one did and then
  learns to use the channels of the earlier groups, which it now sees
  decoded at its position: the channel context of ELIC-style coders.
- **Neighbour inputs** (`neighbours` 4 or 8): every pass's symbol layer
  gains the new input columns at zero, so the passes compute exactly what
  the init's did.

Both act on the weights as stored (safetensors names, "prior." prefix).
"""
from __future__ import annotations

from dataclasses import replace

import torch

from ..config import PriorConfig
from ..models.fast_prior import NEIGHBOURHOODS, channel_groups

HEAD_PARTS = 5  # a pass's head gives f, a, b, d, l per channel of its group, in that order


def refines(fine: list[tuple[int, int]], coarse: list[tuple[int, int]]) -> bool:
    """Every (first, end) group of `fine` lies inside one group of `coarse`."""
    return all(any(A <= a and b <= B for A, B in coarse) for a, b in fine)


def grown_config(have: PriorConfig, want: PriorConfig, planes: int) -> PriorConfig:
    """The init prior `have` with what of `want` can be added to it (both fast
    priors); `have` itself when nothing can."""
    if not (have.kind == want.kind == "fast"):
        return have
    cfg = have
    if want.neighbours and not have.neighbours:
        cfg = replace(cfg, neighbours=want.neighbours, neighbour_feature=want.neighbour_feature)
    old, new = channel_groups(have.channel_split, planes), channel_groups(want.channel_split, planes)
    if new != old and refines(new, old):
        cfg = replace(cfg, channel_split=tuple(b - a for a, b in new))
    return cfg


def grow_weights(have: PriorConfig, grown: PriorConfig, planes: int,
                 tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stored weights of prior `have` -> weights of prior `grown` (grown_config's)."""
    if grown == have:
        return tensors
    old, new = channel_groups(have.channel_split, planes), channel_groups(grown.channel_split, planes)
    width = (3 + len(NEIGHBOURHOODS[grown.neighbours])) * planes
    out = {k: v for k, v in tensors.items() if not k.startswith("prior.passes.")}
    for g, (a, b) in enumerate(new):
        G = next(i for i, (A, B) in enumerate(old) if A <= a and b <= B)
        A, B = old[G]
        # head rows of channels a..b-1 in each of the 5 parts of the old group's output
        rows = torch.tensor([k * (B - A) + c - A for k in range(HEAD_PARTS) for c in range(a, b)])
        for parity in (0, 1):
            src, dst = f"prior.passes.{2 * G + parity}.", f"prior.passes.{2 * g + parity}."
            for k, v in tensors.items():
                if not k.startswith(src):
                    continue
                name = k[len(src):]
                if name.startswith("head."):
                    v = v[rows]
                elif name == "sym.weight" and v.shape[1] < width:  # (hidden, 3C) -> (hidden, width)
                    v = torch.cat([v, v.new_zeros(v.shape[0], width - v.shape[1])], 1)
                out[dst + name] = v.clone()
    return out
