"""cdf.py: the float -> int boundary. Exact sums, minimum frequency, pinned
table values and rows, and invariance to things that must not matter."""
import numpy as np
import pytest

from vqcodec.coding import cdf


def test_rows_sum_to_total_and_respect_min_freq():
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((500, 256)) * rng.uniform(0.1, 30, (500, 1))).astype(np.float32)
    f = cdf.frequencies(logits)
    assert f.dtype == np.int64
    assert (f.sum(1) == cdf.TOTAL).all()
    assert f.min() >= cdf.MIN_FREQ


def test_extreme_logits_are_codable():
    logits = np.full((3, 16), -1e30, np.float32)
    logits[:, 0] = 1e30
    logits[1] = 0.0  # uniform
    f = cdf.frequencies(logits)
    assert (f.sum(1) == cdf.TOTAL).all() and f.min() >= 1
    assert f[0, 0] == cdf.TOTAL - 15  # everything else at the minimum
    assert len(set(f[1])) <= 2  # uniform up to the remainder


def test_exp2_table_is_pinned():
    # Built with software decimal arithmetic: these words are the same everywhere.
    t = cdf.EXP2_TABLE
    assert t[0] == 1 << 32
    assert t[cdf.LOG2_STEPS] == 1 << 31
    assert t[1] == 4248701965  # round(2^32 * 2^(-1/64))
    assert (np.diff(t) <= 0).all() and t[-1] >= 1


def test_pinned_row():
    logits = np.array([[0.0, 1.0, -2.0, 3.5]], np.float32)
    f = cdf.frequencies(logits)
    assert f.tolist() == [[454666, 1231466, 61310, 15029774]]


def test_shift_invariance_and_row_independence():
    rng = np.random.default_rng(1)
    lg = rng.standard_normal((64, 32)).astype(np.float32)
    f = cdf.frequencies(lg)
    # a row's table depends on that row only (batching must not matter)
    assert (cdf.frequencies(lg[10:11]) == f[10:11]).all()
    assert (cdf.frequencies(lg[::-1])[::-1] == f).all()
    # adding a power-of-two constant is exact in float32 and must not change tables
    assert (cdf.frequencies(lg + np.float32(4.0)) == f).all()


def test_ideal_and_coded_bits_close():
    rng = np.random.default_rng(2)
    lg = (rng.standard_normal((2000, 64)) * 2).astype(np.float32)
    p = np.exp(lg - lg.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    sym = np.array([rng.choice(64, p=row) for row in p])
    ideal = cdf.ideal_bits(lg, sym)
    coded = cdf.coded_bits(cdf.frequencies(lg), sym)
    assert abs(coded / ideal - 1) < 1e-3


@pytest.mark.parametrize("shape", [(4,), (3, 1), (2, 3, 4)])
def test_bad_shapes(shape):
    with pytest.raises(ValueError):
        cdf.frequencies(np.zeros(shape, np.float32))


def test_nan_and_huge_logits_are_defined():
    lg = np.array([[np.nan, 0.0, 1e38, -1e38], [np.inf, 0.0, 1.0, 2.0]], np.float32)
    f = cdf.frequencies(lg[:1])
    assert f.sum() == cdf.TOTAL and f.min() >= 1 and f[0, 2] == f.max()


def test_steps_from_fixed_match_the_float_steps():
    """The integer prior's logits (fixed point) give the steps quantize_logits gives
    the same logits as floats, within the one step a different rounding can move."""
    rng = np.random.default_rng(5)
    lg = (rng.standard_normal((200, 33)) * 6).astype(np.float32)
    fixed = np.round(lg.astype(np.float64) * 2 ** 16).astype(np.int64)
    got, want = cdf.steps_from_fixed(fixed, 16), cdf.quantize_logits(lg)
    assert np.abs(got - want).max() <= 1 and (got == want).mean() > 0.99
    assert (got.max(axis=1) == 0).all() and got.min() >= -cdf.MAX_DEPTH
    f = cdf.frequencies_from_fixed(fixed, 16)
    assert (f.sum(1) == cdf.TOTAL).all() and f.min() >= cdf.MIN_FREQ


def test_steps_from_fixed_clamp_huge_gaps_and_refuse_bad_precision():
    fixed = np.array([[0, -(1 << 60), 1 << 40]], dtype=np.int64)  # no overflow
    assert cdf.steps_from_fixed(fixed, 16).tolist() == [[-cdf.MAX_DEPTH, -cdf.MAX_DEPTH, 0]]
    with pytest.raises(ValueError, match="0..20 fractional bits"):
        cdf.steps_from_fixed(fixed, 30)
    with pytest.raises(ValueError, match="shape"):
        cdf.frequencies_from_fixed(np.zeros((3, 1), np.int64), 16)
