"""motion.py: estimation finds known shifts, warping reproduces shifted frames,
bilateral interpolation lands between its keyframes, blends are exact."""
import numpy as np
import pytest

from vqcodec.motion import compensation as motion
from vqcodec.bench.scenes import static_scene


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return static_scene(1, 176, 144)[0]  # (144, 176, 3) a textured photo


def _shift(frame: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[y, x] = frame[y - dy, x - dx] with edge replication (no wrap-around)."""
    H, W = frame.shape[:2]
    ys = np.clip(np.arange(H) - dy, 0, H - 1)
    xs = np.clip(np.arange(W) - dx, 0, W - 1)
    return frame[ys][:, xs]


@pytest.mark.parametrize("dy,dx", [(0, 0), (2, -4), (3, -5), (-7, 2), (11, 9)])
def test_global_shift_is_found_and_warping_reproduces_the_shifted_frame(photo, dy, dx):
    shifted = _shift(photo, dy, dx)
    field = motion.estimate(motion.luma(shifted), motion.luma(photo))
    assert field.shape == (*motion.grid_shape(144, 176), 2)
    inner = field[1:-1, 1:-1].reshape(-1, 2)
    assert (inner == [-dy, -dx]).all(axis=1).mean() > 0.9
    warped = motion.warp(photo, np.broadcast_to(np.array([-dy, -dx], np.int32), field.shape))
    m = 16  # away from the borders, where the shift brings in replicated edges
    assert np.array_equal(warped[m:-m, m:-m], shifted[m:-m, m:-m])
    estimated = motion.warp(photo, field)
    assert np.mean(estimated[m:-m, m:-m] == shifted[m:-m, m:-m]) > 0.8


def test_zero_field_is_the_identity_and_weights_pick_sides(photo):
    by, bx = motion.grid_shape(144, 176)
    zero = np.zeros((by, bx, 2), np.int32)
    assert np.array_equal(motion.warp(photo, zero), photo)
    other = 255 - photo
    assert np.array_equal(motion.blend(photo, other, np.zeros((by, bx), np.int32)), photo)
    assert np.array_equal(motion.blend(photo, other, np.full((by, bx), motion.WEIGHT_ONE, np.int32)), other)
    half = motion.blend(photo, other, np.full((by, bx), 2, np.int32))
    expected = (photo.astype(int) + other + 1) // 2
    assert np.abs(half.astype(int) - expected).max() <= 1


def test_bilateral_interpolation_lands_between_the_keyframes(photo):
    k0, mid, k1 = photo, _shift(photo, 2, 4), _shift(photo, 4, 8)  # linear motion 2, 4 px / frame
    u0, u1 = motion.bilateral(motion.luma(k0), motion.luma(k1), 1, 2)
    inner0, inner1 = u0[1:-1, 1:-1].reshape(-1, 2), u1[1:-1, 1:-1].reshape(-1, 2)
    assert (inner0 == [-2, -4]).all(axis=1).mean() > 0.8
    assert (inner1 == [2, 4]).all(axis=1).mean() > 0.8
    w = np.full(u0.shape[:2], motion.time_weight(1, 2), np.int32)
    pred = motion.blend(motion.warp(k0, u0), motion.warp(k1, u1), w)
    m = 16
    err = np.abs(pred[m:-m, m:-m].astype(int) - mid[m:-m, m:-m]).mean()
    naive = np.abs(((k0.astype(int) + k1) // 2)[m:-m, m:-m] - mid[m:-m, m:-m]).mean()
    assert err < 0.25 * naive


def test_time_weight():
    assert [motion.time_weight(n, 8) for n in range(9)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_odd_sizes_and_integer_results():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    b = np.roll(a, 3, axis=1)
    f = motion.estimate(motion.luma(b), motion.luma(a))
    assert f.shape == (3, 4, 2) and f.dtype == np.int32
    assert np.abs(f).max() <= 15
    out = motion.warp(a, f)
    assert out.shape == a.shape and out.dtype == np.uint8
    assert motion.block_sse(a, a).sum() == 0


@pytest.mark.parametrize("block", [32, 64])
def test_larger_blocks_find_the_shift_and_warp_it(photo, block):
    """The predicted steps' larger motion blocks: fewer vectors, same search and warp."""
    dy, dx = 3, -5
    shifted = _shift(photo, dy, dx)
    field = motion.estimate(motion.luma(shifted), motion.luma(photo), block=block, bias=64)
    assert field.shape == (*motion.grid_shape(144, 176, block), 2)
    assert (field.reshape(-1, 2) == [-dy, -dx]).all(axis=1).mean() > 0.5
    warped = motion.warp(photo, np.broadcast_to(np.array([-dy, -dx], np.int32), field.shape), block)
    m = 16
    assert np.array_equal(warped[m:-m, m:-m], shifted[m:-m, m:-m])


def test_fractional_warps_mix_their_neighbours(photo):
    """Format v7's quarter pixels: a whole-pixel field in quarter pixels warps
    exactly as the whole-pixel warp does, a half pixel is the rounded mean of
    the two whole-pixel warps around it, and any fraction stays between them."""
    f = np.broadcast_to(np.array([2, -3], np.int32), (*motion.grid_shape(144, 176), 2))
    assert np.array_equal(motion.warp(photo, 4 * f, precision=4), motion.warp(photo, f))
    a = motion.warp(photo, f).astype(int)
    b = motion.warp(photo, f + np.array([0, 1], np.int32)).astype(int)
    assert np.array_equal(motion.warp(photo, 4 * f + np.array([0, 2], np.int32), precision=4), (a + b + 1) // 2)
    q = motion.warp(photo, 4 * f + np.array([0, 1], np.int32), precision=4).astype(int)
    assert (np.minimum(a, b) <= q).all() and (q <= np.maximum(a, b)).all()


def test_phase_planes_and_fine_block_copies_sample_as_warp_does(photo):
    y = motion.luma(photo)  # (144, 176)
    planes = motion.phase_planes(y, 4)
    assert planes.shape == (4, 4, 144, 176) and np.array_equal(planes[0, 0], y)
    field = np.broadcast_to(np.array([5, -6], np.int32), (*motion.grid_shape(144, 176), 2))  # (1.25, -1.5) px
    m = 16
    want = motion.luma(motion.warp(photo, field, precision=4))  # luma of the warped RGB: rounding differs by 1
    got = motion.block_copy_fine(planes, field, 16)
    assert np.abs(got[m:-m, m:-m] - want[m:-m, m:-m]).max() <= 2
    assert np.array_equal(motion.block_copy_fine(planes, 4 * field, 16), motion._block_copy(y, 4 * field // 4, 16))


def test_upsample_equals_the_two_sided_bilinear_formula():
    """_upsample's one-gather form gives exactly rows[y0] (2b - wy) + rows[y1] wy,
    clamped edges and every block size included."""
    rng = np.random.default_rng(4)
    for H, W, block in ((144, 176, 16), (72, 88, 64), (40, 24, 32), (16, 16, 16)):
        by, bx = -(-H // block), -(-W // block)
        values = rng.integers(-300, 300, (by, bx, 2)).astype(np.int32)
        two_b = 2 * block
        y0, y1, wy = motion._axis_weights(H, by, block)
        x0, x1, wx = motion._axis_weights(W, bx, block)
        rows = values[:, x0] * (two_b - wx)[None, :, None] + values[:, x1] * wx[None, :, None]
        ref = rows[y0] * (two_b - wy)[:, None, None] + rows[y1] * wy[:, None, None]
        ref = (ref + two_b * two_b // 2) >> 2 * (two_b.bit_length() - 1)
        assert np.array_equal(motion._upsample(values, H, W, block), ref)
