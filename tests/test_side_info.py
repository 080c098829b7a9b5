"""motion/side_info.py: side information round-trips exactly, and its bit
estimates are what the range coder spends."""
import numpy as np
import pytest

from vqcodec.motion.side_info import MAX_VECTOR, SideReader, SideWriter


def _random_field(rng, by=5, bx=7, smooth=True):
    if smooth:
        base = rng.integers(-6, 7, 2)
        return np.clip(base + rng.integers(-1, 2, (by, bx, 2)), -MAX_VECTOR, MAX_VECTOR).astype(np.int32)
    return rng.integers(-MAX_VECTOR, MAX_VECTOR + 1, (by, bx, 2)).astype(np.int32)


@pytest.mark.parametrize("smooth", [True, False])
def test_round_trip_of_modes_fields_and_weights(smooth):
    rng = np.random.default_rng(3)
    items = []
    w = SideWriter()
    for i in range(6):
        mode, f0, f1 = int(rng.integers(0, 4)), _random_field(rng, smooth=smooth), _random_field(rng, smooth=smooth)
        weights = rng.integers(0, 5, (5, 7)).astype(np.int32)
        w.mode(mode)
        w.field(f0)
        w.field(f1)
        w.weights(weights)
        items.append((mode, f0, f1, weights))
    data = w.finish()
    r = SideReader(data)
    for mode, f0, f1, weights in items:
        assert r.mode() == mode
        assert np.array_equal(r.field(5, 7), f0)
        assert np.array_equal(r.field(5, 7), f1)
        assert np.array_equal(r.weights(5, 7), weights)
    assert r.crc == w.crc


def test_bit_estimates_match_the_coder():
    rng = np.random.default_rng(4)
    w = SideWriter()
    estimate = 0.0
    for _ in range(20):
        f = _random_field(rng, 18, 22)
        estimate += w.field_bits(f)
        w.field(f)
    actual = 8 * len(w.finish())
    assert estimate <= actual <= estimate + 64  # the coder's flush is at most two 32-bit words


def test_smooth_fields_cost_little():
    w = SideWriter()
    f = np.full((18, 22, 2), 3, np.int32)
    for _ in range(4):
        w.field(f)
    assert w.field_bits(f) < 0.1 * 18 * 22 * 2  # far below a bit per component once learned


def test_vectors_beyond_the_range_are_refused():
    with pytest.raises(ValueError, match="motion vector beyond"):
        SideWriter().field(np.full((2, 2, 2), MAX_VECTOR + 1, np.int32))


def test_step_fields_round_trip_and_a_still_field_costs_its_flag_only():
    rng = np.random.default_rng(5)
    fields = [np.zeros((4, 6, 2), np.int32), _random_field(rng, 4, 6), np.zeros((4, 6, 2), np.int32),
              _random_field(rng, 4, 6, smooth=False)] + [np.zeros((4, 6, 2), np.int32)] * 8
    w, estimate = SideWriter(), 0.0
    for f in fields:
        estimate += w.step_field_bits(f)
        w.step_field(f)
    assert w.step_field_bits(fields[-1]) < 0.3  # a still field after 10 still of 12: p(still) = 241/290
    data = w.finish()
    assert estimate <= 8 * len(data) <= estimate + 64
    r = SideReader(data)
    for f in fields:
        got, precision = r.step_field(4, 6)
        assert np.array_equal(got, f) and precision == 1
    assert r.crc == w.crc


def test_tile_maps_round_trip():
    rng = np.random.default_rng(6)
    masks = [np.zeros((3, 4), bool), rng.random((3, 4)) < 0.3, np.ones((3, 4), bool), np.zeros((3, 4), bool)]
    w = SideWriter()
    for m in masks:
        w.tile_map(m)
    r = SideReader(w.finish())
    for m in masks:
        assert np.array_equal(r.tile_map(3, 4), m)
    assert r.crc == w.crc


def test_quarter_pixel_fields_round_trip_to_four_times_the_range():
    """Format v7: a moving field says whether its vectors are in quarter pixels
    (4 x MAX_VECTOR, their own model) or whole pixels; v6 packets have no such
    flag and refuse quarter pixels."""
    rng = np.random.default_rng(9)
    fine = rng.integers(-4 * MAX_VECTOR, 4 * MAX_VECTOR + 1, (3, 5, 2)).astype(np.int32)
    whole = _random_field(rng, 3, 5)
    w, estimate = SideWriter(precision=4), 0.0
    for f, p in ((fine, 4), (whole, 1), (np.zeros_like(whole), 1), (fine, 4)):
        estimate += w.step_field_bits(f, p)
        w.step_field(f, p)
    data = w.finish()
    assert estimate <= 8 * len(data) <= estimate + 64
    r = SideReader(data, precision=4)
    for f, p in ((fine, 4), (whole, 1), (np.zeros_like(whole), 1), (fine, 4)):
        got, precision = r.step_field(3, 5)
        assert np.array_equal(got, f) and precision == p
    assert r.crc == w.crc
    with pytest.raises(ValueError, match="motion vector beyond"):
        SideWriter(precision=4).field(np.full((2, 2, 2), 4 * MAX_VECTOR + 1, np.int32), 4)
    with pytest.raises(ValueError, match="not 1/4"):
        SideWriter().step_field(fine, 4)
    v6 = SideWriter()
    v6.step_field(whole)
    assert SideReader(v6.finish()).step_field(3, 5)[0].tolist() == whole.tolist()


def test_shaped_vector_models_round_trip_and_make_small_vectors_cheap():
    """Format v8's predicted steps start their vector models shaped around a
    zero residual (counts SHAPE_PEAK >> |r|, at least 1): fields round-trip
    with a shaped reader, the bit estimates are what the coder spends, and a
    smooth field costs less than with flat models (a wild one, more)."""
    from vqcodec.motion.side_info import SHAPE_PEAK, AdaptiveModel

    counts = AdaptiveModel(9, shaped=True).counts
    assert counts.tolist() == [max(1, SHAPE_PEAK >> abs(i - 4)) for i in range(9)] and counts[4] == SHAPE_PEAK
    rng = np.random.default_rng(12)
    smooth, wild = _random_field(rng, 3, 5), _random_field(rng, 3, 5, smooth=False)
    for field, cheaper in ((smooth, True), (wild, False)):
        sizes = []
        for shaped in (True, False):
            w = SideWriter(precision=4, shaped=shaped)
            estimate = w.step_field_bits(field, 4)
            w.step_field(field, 4)
            data = w.finish()
            assert estimate <= 8 * len(data) <= estimate + 64
            got, precision = SideReader(data, precision=4, shaped=shaped).step_field(3, 5)
            assert np.array_equal(got, field) and precision == 4
            sizes.append(estimate)
        assert (sizes[0] < sizes[1]) == cheaper


def _steps(rng, n=10, by=4, bx=6, ty=3, tx=5):
    """A packet's worth of steps: (intra, skipped, field, precision, mask) with a
    pan that drifts, still steps, an intra step in the middle and maps that persist."""
    steps, base, mask = [], rng.integers(-20, 21, 2), rng.random((ty, tx)) < 0.5
    for i in range(n):
        intra, skipped = i == 5, i in (3, 8)
        precision = 4 if i % 4 else 1
        base = np.clip(base + rng.integers(-2, 3, 2), -40, 40)
        field = np.clip(base + rng.integers(-1, 2, (by, bx, 2)), -MAX_VECTOR * 4, MAX_VECTOR * 4)
        field = (field // 4 if precision == 1 else field).astype(np.int32)
        if i == 2:
            field[:] = 0  # a still field
        mask = mask ^ (rng.random((ty, tx)) < 0.15)
        steps.append((intra, skipped, field, precision, None if intra or skipped else mask.copy()))
    return steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_side_information_with_context_round_trips(seed):
    """Format v10 (contexts=True): a step's field leans on the previous step's
    (median of left, up and that vector), its tile map on the bit above and the
    previous map's bit; an intra step clears both, a skipped one keeps every
    tile. The reader follows the writer through intra, skipped, still and moving
    steps at both precisions, and the estimates are what the coder spends."""
    steps = _steps(np.random.default_rng(seed))
    w, estimate = SideWriter(precision=4, shaped=True, contexts=True), 0.0
    for intra, skipped, field, precision, mask in steps:
        w.step_begins(intra, skipped, (3, 5))
        if not intra:
            estimate += w.step_field_bits(field, precision)
            w.step_field(field, precision)
        if mask is not None:
            w.tile_map(mask)
    data = w.finish()
    r = SideReader(data, precision=4, shaped=True, contexts=True)
    for intra, skipped, field, precision, mask in steps:
        r.step_begins(intra, skipped, (3, 5))
        if not intra:
            got, p = r.step_field(4, 6)
            assert np.array_equal(got, field) and p == (precision if field.any() else 1)
        if mask is not None:
            assert np.array_equal(r.tile_map(3, 5), mask)
    assert r.crc == w.crc
    with pytest.raises(AssertionError):  # a reader without the contexts reads something else
        r9 = SideReader(data, precision=4, shaped=True)
        for intra, skipped, field, precision, mask in steps[:2]:
            assert np.array_equal(r9.step_field(4, 6)[0], field)
            assert np.array_equal(r9.tile_map(3, 5), mask)


def test_context_makes_a_steady_pan_and_a_still_background_cheap():
    """The same moving field step after step, and a map whose kept tiles stay kept:
    with the step before as context (v10) they cost well under what v9 spends."""
    rng = np.random.default_rng(5)
    field = np.clip(np.array([9, -22]) + rng.integers(-3, 4, (6, 8, 2)), -60, 60).astype(np.int32)
    mask = np.zeros((6, 8), bool)
    mask[:, :5] = True  # a still background on the left
    sizes = []
    for contexts in (False, True):
        w = SideWriter(precision=4, shaped=True, contexts=contexts)
        for _ in range(8):
            w.step_begins(False, False, mask.shape)
            w.step_field(field, 4)
            w.tile_map(mask)
        sizes.append(len(w.finish()))
    assert sizes[1] < 0.7 * sizes[0], sizes  # (396 and 240 bytes when written)


def test_a_model_bank_is_its_models_side_by_side():
    """ModelBank (v10's tile-map models) updates and tables exactly as one
    AdaptiveModel per context would, halving included."""
    from vqcodec.coding.cdf import frequencies_from_counts
    from vqcodec.motion.side_info import AdaptiveModel, ModelBank

    rng = np.random.default_rng(4)
    bank, models = ModelBank(3, 4), [AdaptiveModel(4) for _ in range(3)]
    for _ in range(400):  # 400 rows of 20: every model passes _LIMIT several times
        ctx, sym = rng.integers(0, 3, 20), rng.integers(0, 4, 20)
        want = np.stack([frequencies_from_counts(models[c].counts) for c in ctx])
        assert np.array_equal(bank.tables(ctx), want)
        bank.update(ctx, sym)
        for c in range(3):
            if (ctx == c).any():
                models[c].update(sym[ctx == c])
    assert np.array_equal(bank.counts, np.stack([m.counts for m in models]))
