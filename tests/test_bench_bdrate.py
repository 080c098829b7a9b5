"""BD-rate / BD-PSNR on curves with known answers."""
import numpy as np
import pytest

from vqcodec.bench.bdrate import bd_psnr, bd_rate, points_bd_rate, quality_overlap, rate_overlap

RATES = [100.0, 200.0, 400.0, 800.0]  # log-linear in PSNR: PCHIP is exact
PSNR = [30.0, 33.0, 36.0, 39.0]


def test_identical_curves_give_zero():
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-9)


def test_half_the_rate_everywhere_is_minus_fifty_percent():
    half = [r / 2 for r in RATES]
    assert bd_rate(RATES, PSNR, half, PSNR) == pytest.approx(-50.0, abs=0.5)
    assert bd_rate(half, PSNR, RATES, PSNR) == pytest.approx(100.0, abs=0.5)
    assert bd_psnr(RATES, PSNR, half, PSNR) > 0  # same quality for fewer bits


def test_points_bd_rate_reads_bytes_and_psnr_of_each_point():
    """The probes' rows {"quality", "bytes", "psnr_rgb"} give bd_rate of their columns."""
    rows = [{"quality": q, "bytes": r, "psnr_rgb": d} for q, (r, d) in enumerate(zip(RATES, PSNR))]
    half = [dict(p, bytes=p["bytes"] / 2) for p in rows]
    assert points_bd_rate(rows, half) == bd_rate(RATES, PSNR, [r / 2 for r in RATES], PSNR)
    assert points_bd_rate(rows, half) == pytest.approx(-50.0, abs=0.5)


def test_one_db_better_everywhere():
    better = [q + 1.0 for q in PSNR]
    assert bd_psnr(RATES, PSNR, RATES, better) == pytest.approx(1.0, abs=1e-9)


def test_point_order_and_count_do_not_matter():
    rng = np.random.default_rng(0)
    order = rng.permutation(4)
    test_r = [r * 0.8 for r in RATES + [1600.0]]
    test_q = PSNR + [42.0]
    shuffled = bd_rate(np.array(RATES)[order], np.array(PSNR)[order], test_r[::-1], test_q[::-1])
    assert shuffled == pytest.approx(bd_rate(RATES, PSNR, test_r, test_q))
    assert shuffled == pytest.approx(-20.0, abs=1e-6)  # the extra point lies outside the overlap


def test_only_the_overlap_counts():
    # test covers 34.5..45 dB: only the anchor's 34.5..39 part is compared
    test_r = [r * 0.5 for r in [400.0, 600.0, 1100.0, 2000.0]]
    test_q = [34.5, 39.0, 42.0, 45.0]
    ov = quality_overlap(PSNR, test_q)
    assert (ov.lo, ov.hi) == (34.5, 39.0)
    assert 0 < ov.fraction < 1
    assert np.isfinite(bd_rate(RATES, PSNR, test_r, test_q))


def test_non_overlapping_curves_raise():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(RATES, PSNR, RATES, [q + 20 for q in PSNR])
    with pytest.raises(ValueError, match="do not overlap"):
        bd_psnr(RATES, PSNR, [r * 100 for r in RATES], PSNR)
    with pytest.raises(ValueError):
        rate_overlap([1, 2], [3, 4])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="at least 2"):
        bd_rate([100.0], [30.0], RATES, PSNR)
    with pytest.raises(ValueError, match="finite"):
        bd_rate(RATES, PSNR[:3] + [float("inf")], RATES, PSNR)
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0.0] + RATES[1:], PSNR, RATES, PSNR)
    with pytest.raises(ValueError, match="same quality"):
        bd_rate(RATES, [30.0, 30.0, 36.0, 39.0], RATES, PSNR)
    with pytest.raises(ValueError, match="equal length"):
        bd_rate(RATES, PSNR[:3], RATES, PSNR)
