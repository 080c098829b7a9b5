"""int8.py: 8-bit layers whose exact path gives the same numbers whatever the
product engine, thread count or batch split, and whose training path follows it."""
from __future__ import annotations

import pytest
import torch

from vqcodec.models import int8
from vqcodec.models.int8 import MAX_TERMS, QAttention, QLinear, quantize, row_scale, softmax_table


def _x(*shape, seed=0, scale=3.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def test_products_of_8_bit_operands_are_exact_in_float32():
    """The worst case: MAX_TERMS products of 127 x 127 (and mixed signs), every order."""
    a = torch.full((1, MAX_TERMS), 127.0)
    b = torch.full((MAX_TERMS, 1), 127.0)
    assert (a @ b).item() == MAX_TERMS * 127 * 127 < 2 ** 24
    g = torch.Generator().manual_seed(1)
    a = torch.randint(-127, 128, (64, 1000), generator=g).float()
    b = torch.randint(-127, 128, (1000, 48), generator=g).float()
    want = (a.long() @ b.long()).float()
    assert torch.equal(a @ b, want)
    assert torch.equal(a.double() @ b.double(), want.double())
    perm = torch.randperm(1000, generator=g)
    assert torch.equal(a[:, perm] @ b[perm], want)  # another summation order


def test_quantize_rounds_rows_to_127():
    x = _x(5, 40)
    s = row_scale(x)
    q = quantize(x, s)
    assert q.abs().max() == 127 and torch.equal(q, torch.round(q))
    assert (q * s - x).abs().max() <= s.max() / 2 + 1e-6
    zero = quantize(torch.zeros(2, 3), row_scale(torch.zeros(2, 3)))
    assert torch.equal(zero, torch.zeros(2, 3))  # an all-zero row: no division by zero


def _engine_float64(monkeypatch):
    """Swap every float32 product of int8.py for a float64 one (another engine)."""
    real = torch.Tensor.__matmul__

    def matmul(a, b):
        return real(a.double(), b.double()).float()
    monkeypatch.setattr(torch.Tensor, "__matmul__", matmul)


@pytest.mark.parametrize("layer", ["linear", "attention"])
def test_exact_path_does_not_depend_on_engine_threads_or_batch(layer, monkeypatch):
    torch.manual_seed(0)
    m = QLinear(64, 96) if layer == "linear" else QAttention(32, 4)
    x = _x(6, 16, 64 if layer == "linear" else 32, seed=2)
    with torch.inference_mode():
        want = m.exact(x)
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            one = m.exact(x)
        finally:
            torch.set_num_threads(threads)
        split = torch.cat([m.exact(x[i:i + 2]) for i in range(0, 6, 2)])
        _engine_float64(monkeypatch)
        other = m.exact(x)
    assert torch.equal(one, want) and torch.equal(split, want) and torch.equal(other, want)


@pytest.mark.parametrize("layer", ["linear", "attention"])
def test_training_path_follows_the_exact_path(layer):
    torch.manual_seed(0)
    m = QLinear(64, 96) if layer == "linear" else QAttention(32, 4)
    x = _x(3, 16, 64 if layer == "linear" else 32, seed=3)
    with torch.no_grad():
        fake, exact = m(x), m.exact(x)
        plain = torch.nn.functional.linear(x, m.weight, m.bias) if layer == "linear" else None
    assert (fake - exact).abs().max() < 1e-3 * (exact.abs().max() + 1)
    if plain is not None:  # and 8 bits stay close to float32
        assert (exact - plain).abs().max() < 0.05 * plain.abs().max()


def test_weights_are_rounded_again_after_training():
    m = QLinear(8, 4)
    x = _x(2, 8)
    before = m.exact(x)
    with torch.no_grad():
        m.weight.mul_(2)
    m.train(False)  # what Codec.reset_tables does
    assert not torch.allclose(m.exact(x), before)


def test_too_long_a_product_is_refused():
    with pytest.raises(ValueError, match="at most 1040"):
        QLinear(MAX_TERMS + 1, 4)


def test_softmax_table_is_pinned():
    t = softmax_table()
    assert t[0] == 255 and t[-1] == 0 and bool((t[:-1] >= t[1:]).all())
    assert int(t.sum()) == 8277  # decimal-built: the same on every machine
    assert torch.equal(t, int8._SOFTMAX)
