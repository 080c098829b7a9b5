"""The encoder's symbol choice for scalar models: nearest and rate-distortion rounding."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vqcodec.config import QuantizerConfig
from vqcodec.coding.range_coder import FrequencyRows
from vqcodec.coding.rounding import (
    DEFAULT_LAMBDA,
    NearestRounding,
    RateDistortionRounding,
    nearest_symbols,
    rounding_for,
)
from vqcodec.models.scalar_quantizer import ScalarQuantizer

K = 16


def _uniform(P: int) -> np.ndarray:
    return np.full((P, K), 4096, dtype=np.int64)


def test_nearest_is_the_quantizers_own_rounding():
    """Ties (x.5) and clamping included: numpy and torch both round half to even."""
    cfg = QuantizerConfig(codebook_size=K, dim=4, scalar_steps=(0.5,), channel_groups=2)
    z = torch.tensor([0.25, 0.75, -0.25, -0.75, 1.24, 100.0, -100.0, 0.0]).view(1, 4, 2, 1, 1)
    want = ScalarQuantizer(cfg).encode(z, 1).flatten().numpy()
    u = (z / 0.5).flatten().numpy()
    assert np.array_equal(nearest_symbols(u, K), want)
    assert np.array_equal(NearestRounding().choose(u, FrequencyRows(_uniform(len(u)), None)), want)


def test_zero_lambda_is_nearest():
    u = np.random.default_rng(0).normal(0, 3, 500).astype(np.float32)
    freq = np.random.default_rng(1).integers(1, 1000, (500, K))
    assert np.array_equal(RateDistortionRounding(0.0).choose(u, FrequencyRows(freq, None)), nearest_symbols(u, K))


def test_uniform_tables_change_nothing():
    """Equal code lengths: only distortion counts, so the nearest symbol wins."""
    u = np.random.default_rng(2).normal(0, 3, 500).astype(np.float32)
    assert np.array_equal(RateDistortionRounding(5.0).choose(u, FrequencyRows(_uniform(500), None)), nearest_symbols(u, K))


def test_a_much_likelier_neighbour_wins_when_it_pays():
    # u = 0.4: nearest is 0 (distortion 0.16); 1 costs 0.36, i.e. 0.2 more
    freq = np.ones((1, K), dtype=np.int64)
    freq[0, K // 2 + 1] = 1 << 16  # symbol +1 almost certain, symbol 0 costs ~16 bits
    u = np.array([0.4], dtype=np.float32)
    assert RateDistortionRounding(0.1).choose(u, FrequencyRows(freq, None))[0] == K // 2 + 1
    # a tiny lambda: the 16 bits saved are worth less than 0.2 of distortion
    assert RateDistortionRounding(0.001).choose(u, FrequencyRows(freq, None))[0] == K // 2


def test_moves_at_most_one_step_and_stays_in_the_alphabet():
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.normal(0, 4, 1000), [-50.0, 50.0, -8.4, 7.6]]).astype(np.float32)
    freq = rng.integers(1, 1 << 15, (len(u), K))
    sym = RateDistortionRounding(10.0).choose(u, FrequencyRows(freq, None))
    near = nearest_symbols(u, K)
    assert np.all(np.abs(sym - near) <= 1)
    assert sym.min() >= 0 and sym.max() < K


def test_more_lambda_spends_fewer_bits_and_more_distortion():
    rng = np.random.default_rng(4)
    u = rng.normal(0, 2, 2000).astype(np.float32)
    # tables peaked at zero, as a trained prior's are
    logits = -np.abs(np.arange(K) - K // 2)[None, :] * rng.uniform(0.3, 2.0, (2000, 1))
    freq = np.maximum(1, (np.exp(logits) / np.exp(logits).sum(1, keepdims=True) * 65536).astype(np.int64))
    bits, dist = [], []
    for lmbda in (0.0, 0.05, 0.2, 1.0):
        sym = RateDistortionRounding(lmbda).choose(u, FrequencyRows(freq, None))
        p = freq[np.arange(len(u)), sym] / freq.sum(1)
        bits.append(-np.log2(p).sum())
        dist.append(((u - (sym - K // 2)) ** 2).sum())
    assert all(a >= b for a, b in zip(bits, bits[1:])) and bits[-1] < 0.95 * bits[0]
    assert all(a <= b for a, b in zip(dist, dist[1:]))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_lambda_is_refused(bad):
    with pytest.raises(ValueError, match="lambda"):
        RateDistortionRounding(bad)


def test_rounding_for():
    assert rounding_for(None) == RateDistortionRounding(DEFAULT_LAMBDA)
    assert type(rounding_for(0)) is NearestRounding
    assert rounding_for(0.3) == RateDistortionRounding(0.3)
