"""The fast prior's integer tables (coding/laplace_tables.py)."""
from __future__ import annotations

import numpy as np
import pytest

from vqcodec.coding import laplace_tables as lt
from vqcodec.coding.range_coder import RangeDecoder, RangeEncoder
from vqcodec.models import laplace


@pytest.mark.parametrize("high", [64, 256, 5000])
def test_runs_is_the_stable_order_by_table(high):
    # uint8 radix sort below 256 tables, numpy's int64 stable sort above: one order
    index = np.random.default_rng(high).integers(0, high, 20_000)
    order, runs = lt._runs(index)
    assert np.array_equal(order, np.argsort(index, kind="stable"))
    assert sum(b - a for a, b, _ in runs) == len(index)
    for a, b, j in runs:
        assert (index[order[a:b]] == j).all()


def test_runs_of_nothing():
    order, runs = lt._runs(np.zeros(0, dtype=np.int64))
    assert len(order) == 0 and runs == []


def test_rows_sum_to_total():
    assert (lt.frequencies().sum(1) == lt.TOTAL).all()
    assert (lt.flag_frequencies().sum(1) == lt.TOTAL).all()
    assert (lt.frequencies() >= 1).all()


def test_laplace_rows_round_trip():
    rng = np.random.default_rng(1)
    n, K = 3000, 128
    base = rng.integers(0, K, n)
    k, j = rng.integers(0, laplace.FLAGS, n), rng.integers(0, laplace.SCALES, n)
    m = rng.integers(-K // 2, K // 2, n)
    sym = np.where(rng.random(n) < 0.5, base, rng.integers(0, K, n))
    rows = lt.LaplaceRows(base, k, m, j, K)
    enc = RangeEncoder()
    rows.encode(enc, sym)
    data = enc.finish()
    assert np.array_equal(lt.LaplaceRows(base, k, m, j, K).decode(RangeDecoder(data)), sym)
    assert rows.ideal_bits(sym) == pytest.approx(rows.symbol_bits(sym).sum())
