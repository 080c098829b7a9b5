"""training/prior_growth.py: a trained fast prior grown to finer channel groups or
to neighbour inputs starts where it was."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vqcodec.config import PriorConfig
from vqcodec.models.fast_prior import FastPrior
from vqcodec.training.prior_growth import grow_weights, grown_config, refines
from vqcodec.zoo import load_codec

MODELS = Path(__file__).resolve().parent / "expected" / "models"


def _grown(want: PriorConfig) -> tuple[FastPrior, FastPrior]:
    """(tiny_fast's prior, the same grown to `want`), both in eval mode."""
    codec = load_codec(str(MODELS / "tiny_fast.json"))
    have, qcfg = codec.config.prior, codec.config.quantizer
    cfg = grown_config(have, want, qcfg.planes)
    weights = grow_weights(have, cfg, qcfg.planes, load_file(str(MODELS / "tiny_fast.safetensors")))
    new = FastPrior(cfg, qcfg)
    new.load_state_dict({k[len("prior."):]: v for k, v in weights.items() if k.startswith("prior.")})
    return codec.prior.eval(), new.eval()


def test_refines():
    coarse = [(0, 2), (2, 8)]
    assert refines([(0, 1), (1, 2), (2, 8)], coarse) and refines(coarse, coarse)
    assert not refines([(0, 3), (3, 8)], coarse)


def test_finer_groups_start_as_the_old_passes_restricted_to_their_channels():
    old, new = _grown(replace(load_codec(str(MODELS / "tiny_fast.json")).config.prior, channel_split=(1, 1, 3, 3)))
    assert new.groups == [(0, 1), (1, 2), (2, 5), (5, 8)]
    C, d = old.planes, old.cfg.dim
    ctx, sym = torch.randn(7, d), torch.randint(-8, 8, (7, 3 * C)).float()
    with torch.no_grad():
        for g, (a, b) in enumerate(new.groups):
            G = 0 if b <= 2 else 1
            A, B = old.groups[G]
            for parity in (0, 1):
                # the exact (coding) arithmetic: the same integers whatever the matrix shapes
                want = old.passes[2 * G + parity].exact(ctx, sym).view(7, 5, B - A)[:, :, a - A:b - A]
                got = new.passes[2 * g + parity].exact(ctx, sym).view(7, 5, b - a)
                assert torch.equal(got, want)


def test_a_split_that_does_not_refine_and_other_priors_are_left_alone():
    codec = load_codec(str(MODELS / "tiny_fast.json"))
    have, planes = codec.config.prior, codec.config.quantizer.planes
    assert grown_config(have, replace(have, channel_split=(3, 5)), planes) == have
    assert grown_config(have, PriorConfig(), planes) == have
    weights = load_file(str(MODELS / "tiny_fast.safetensors"))
    assert grow_weights(have, have, planes, weights) is weights


@pytest.mark.parametrize("feature", ["value", "change"])
def test_neighbour_inputs_start_at_zero(feature):
    """Grown to 8 neighbours, the passes give what they gave: same training loss."""
    old, new = _grown(replace(load_codec(str(MODELS / "tiny_fast.json")).config.prior, neighbours=8,
                              neighbour_feature=feature))
    assert new.cfg.neighbours == 8 and new.cfg.neighbour_feature == feature
    K, C = old.K, old.planes
    cur = torch.randint(0, K, (3, C, 8, 12))
    prev = torch.cat([torch.full_like(cur[:1], K), cur[:-1]])
    args = (cur, prev, torch.tensor([0, 1, 1]), torch.tensor([1, 2, 2]))
    with torch.no_grad():
        old.train(), new.train()
        assert torch.equal(new.training_loss(*args), old.training_loss(*args))
