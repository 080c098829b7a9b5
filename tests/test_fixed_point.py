"""fixed_point.py: every primitive against Python's exact integers, the tables pinned,
and the nonlinearities close to their float definitions."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from vqcodec.coding import fixed_point as fx


def _py_round_shift(x: int, k: int) -> int:
    return (x + (1 << (k - 1))) >> k if k > 0 else x << -k  # Python ints: exact, floor shifts


def test_round_shift_matches_python_integers():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(-(1 << 40), 1 << 40, (64, 8)))
    k = torch.from_numpy(rng.integers(-6, 20, (64, 1)))
    got = fx.round_shift(x, k)
    want = [[_py_round_shift(int(v), int(kk[0])) for v in row] for row, kk in zip(x.tolist(), k.tolist())]
    assert got.tolist() == want
    pos = k.clamp(min=1)  # the all-positive fast path
    assert fx.round_shift(x, pos).tolist() == [[_py_round_shift(int(v), int(kk[0])) for v in row]
                                                for row, kk in zip(x.tolist(), pos.tolist())]
    assert fx.round_shift(x, 3).tolist() == [[_py_round_shift(int(v), 3) for v in row] for row in x.tolist()]
    # halves go up, on both signs
    assert fx.round_shift(torch.tensor([3, -3, 5, -5]), 1).tolist() == [2, -1, 3, -2]


def test_isqrt_is_exact_near_squares_and_above_2_53():
    r = torch.tensor([0, 1, 2, 3, 1 << 20, (1 << 26) + 12345, (1 << 31) - 1, (1 << 31) + 7], dtype=torch.int64)
    v = torch.cat([r * r, r * r - 1, r * r + 1, r * r + 2 * r]).clamp(min=0)
    got = fx.isqrt(v)
    assert got.tolist() == [math.isqrt(int(x)) for x in v.tolist()]


def test_to_operand_bounds_and_shifts():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.integers(-(1 << 45), 1 << 45, (16, 32)) >> rng.integers(0, 45, (16, 1)))
    a, s = fx.to_operand(x, (-1,))
    assert int(a.abs().max()) <= 1 << fx.OPERAND_BITS and (s >= 0).all()
    assert torch.equal(a, fx.round_shift(x, s))
    big = s[:, 0] > 0
    assert (a[big].abs().amax(-1) >= 1 << (fx.OPERAND_BITS - 1)).all()  # no precision thrown away
    small = torch.tensor([[3, -7, 100]])
    a, s = fx.to_operand(small, (-1,))
    assert torch.equal(a, small) and s.item() == 0


def _engine_int64(a, b):
    return torch.matmul(a, b)  # integer matmul: another summation entirely


def _engine_reversed(a, b):
    return torch.matmul(a.flip(-1).double(), b.flip(-2).double()).long()


@pytest.mark.parametrize("engine", [_engine_int64, _engine_reversed])
def test_exact_matmul_at_its_bounds_is_engine_independent(monkeypatch, engine):
    rng = np.random.default_rng(2)
    lim = 1 << fx.OPERAND_BITS
    a = torch.from_numpy(rng.choice([-lim, lim - 1, lim, 12345, -1], (8, 4096)))
    b = torch.from_numpy(rng.choice([-lim, lim, 7, -lim + 1], (4096, 5)))
    want = [[sum(int(x) * int(y) for x, y in zip(row, col)) for col in b.t().tolist()] for row in a.tolist()]
    assert fx.exact_matmul(a, b).tolist() == want
    monkeypatch.setattr(fx, "MATMUL_ENGINE", engine)
    assert fx.exact_matmul(a, b).tolist() == want


def test_exact_matmul_refuses_reductions_too_long_to_be_exact():
    with pytest.raises(ValueError, match="too long"):
        fx.exact_matmul(torch.zeros(1, fx.MAX_REDUCTION, dtype=torch.int64),
                        torch.zeros(fx.MAX_REDUCTION, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="exceeds 2"):
        fx.check_operand(torch.tensor([(1 << 15) + 1]))


def test_quantize_tensor_uses_15_bits_and_a_power_of_two():
    w = torch.tensor([[0.5, -0.25], [0.1, 0.003]])
    q, e = fx.quantize_tensor(w)
    assert (1 << 14) <= int(q.abs().max()) <= 1 << 15
    assert torch.allclose(q.double() * 2.0 ** -e, w.double(), atol=2.0 ** -e)
    assert fx.quantize_tensor(torch.zeros(3))[0].tolist() == [0, 0, 0]


def test_tables_are_pinned():
    """The tables are part of format v4: built with decimal arithmetic, never libm."""
    exp, gelu = fx.exp_table(), fx.gelu_fine_table()
    assert exp[0] == 1 << fx.EXP_BITS and exp[fx.EXP_STEPS] == round((1 << 30) / math.e)
    assert len(gelu) == 2 * fx.GELU_RANGE * fx.GELU_FINE + 1
    digest = hashlib.sha256(exp.numpy().tobytes() + gelu.numpy().tobytes()).hexdigest()
    assert digest[:16] == "b9b2a73f11f95c35"


def test_gelu_softmax_layer_norm_follow_their_float_definitions():
    x = torch.linspace(-10, 10, 4001, dtype=torch.float64)
    ref = x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    got = fx.gelu(torch.round(x * 2 ** fx.FRAC).long()).double() / 2 ** fx.FRAC
    assert (got - ref).abs().max() < 3e-4

    z = torch.randn(50, 64, dtype=torch.float64) * 4
    p = fx.softmax(torch.round(z * 2 ** fx.FRAC).long()).double() / 2 ** fx.PROB_BITS
    assert (p - torch.softmax(z, -1)).abs().max() < 2e-4

    h = torch.randn(20, 128, dtype=torch.float64) * 3 + 1
    ln = torch.nn.LayerNorm(128)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.2, 0.2)
    g, ge = fx.quantize_tensor(ln.weight)
    got = fx.layer_norm(torch.round(h * 2 ** fx.FRAC).long(), g, ge, fx.quantize_value(ln.bias), ln.eps)
    want = torch.nn.functional.layer_norm(h, (128,), ln.weight.double(), ln.bias.double(), ln.eps)
    assert (got.double() / 2 ** fx.FRAC - want.detach()).abs().max() < 1e-3


def test_layer_norm_of_a_constant_row_is_its_offset():
    row = torch.full((1, 16), 5 << fx.FRAC, dtype=torch.int64)
    beta = torch.arange(16, dtype=torch.int64)
    out = fx.layer_norm(row, torch.ones(16, dtype=torch.int64), 0, beta, 1e-5)
    assert torch.equal(out, beta[None])
