"""motion/interpolation.py: the predicted steps' sub-pixel filters (format v11's
4-tap filter, v7-v10's bilinear one). The fast four-tap warp must equal the
normative rule tap by tap, at the frame's edges and far outside it, with 1 and 2
threads; its search planes must sample as the warp does. v12 moves each block by
its own vector, v13 may overlap the blocks' predictions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vqcodec.format.versions import subpel_filter
from vqcodec.motion import compensation as motion
from vqcodec.motion.interpolation import (BILINEAR, FILTERS, FOUR_TAP, FOUR_TAP_BLOCKS, FOUR_TAP_FILTER,
                                          FOUR_TAP_OVERLAPPED, _row_phases, block_vectors, edge_weights,
                                          reference_sample)


def _slow_warp(ref: np.ndarray, field: np.ndarray, block: int, precision: int) -> np.ndarray:
    """The normative rule, pixel by pixel: each pixel's vector from motion._upsample."""
    H, W, C = ref.shape
    v = motion._upsample(field, H, W, block)
    out = np.empty_like(ref)
    sh = 4 // precision
    for y in range(H):
        for x in range(W):
            iy, fy = divmod(int(v[y, x, 0]), precision)
            ix, fx = divmod(int(v[y, x, 1]), precision)
            out[y, x] = reference_sample(ref, y + iy, x + ix, fy * sh, fx * sh)
    return out


def test_each_phase_sums_to_64_and_phase_0_is_the_pixel():
    assert FOUR_TAP.sum(1).tolist() == [64] * 4
    assert FOUR_TAP[0].tolist() == [0, 64, 0, 0]
    assert FOUR_TAP[3].tolist() == FOUR_TAP[1][::-1].tolist()  # 3/4 mirrors 1/4


@pytest.mark.parametrize("precision", [2, 4])
@pytest.mark.parametrize("shape, block, reach", [((24, 40), 8, 12), ((20, 28), 16, 200), ((9, 13), 8, 3)])
def test_the_fast_warp_is_the_normative_rule(shape, block, reach, precision):
    """Random frames and fields, vectors up to `reach` pixels (200: far outside the
    frame, where every tap clamps to the edge), frames not a whole number of blocks."""
    rng = np.random.default_rng(shape[0] + reach + precision)
    ref = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    fields = [rng.integers(-reach * precision, reach * precision + 1,
                           (-(-shape[0] // block), -(-shape[1] // block), 2)).astype(np.int32) for _ in range(2)]
    got = FOUR_TAP_FILTER.warps(ref, fields, block, precision)
    for f, g in zip(fields, got):
        assert g.dtype == np.uint8 and g.shape == ref.shape
        assert np.array_equal(g, _slow_warp(ref, f, block, precision))


def test_the_same_pixels_on_one_and_two_threads():
    """Large frames go to torch's threads (workers.pmap): the same integers."""
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    fields = [rng.integers(-40, 41, (16, 16, 2)).astype(np.int32) for _ in range(2)]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = FOUR_TAP_FILTER.warps(ref, fields, 16, 4)
        torch.set_num_threads(2)
        two = FOUR_TAP_FILTER.warps(ref, fields, 16, 4)
    finally:
        torch.set_num_threads(threads)
    assert all(np.array_equal(a, b) for a, b in zip(one, two))


def test_whole_pixels_and_flat_frames():
    """A field of one whole-pixel vector (upsampled, every pixel's vector is that
    one) fetches pixels as the bilinear warp does; a flat frame
    stays flat at every phase (the weights sum to one); a step edge overshoots
    and is clipped to 0..255, not wrapped."""
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    whole = np.tile(np.array([-12, 20], np.int32), (2, 2, 1))  # quarter units: (-3, +5) pixels
    assert np.array_equal(FOUR_TAP_FILTER.warps(ref, [whole], 16, 4)[0], motion.warp(ref, whole, 16, 4))
    assert np.array_equal(FOUR_TAP_FILTER.warps(ref, [whole // 4], 16, 1)[0], motion.warp(ref, whole // 4, 16, 1))
    flat = np.full((32, 32, 3), 77, np.uint8)
    for k in range(-7, 8):
        assert (FOUR_TAP_FILTER.warps(flat, [np.full((2, 2, 2), k, np.int32)], 16, 4)[0] == 77).all()
    edge = np.zeros((16, 16, 3), np.uint8)
    edge[:, 8:] = 255
    out = FOUR_TAP_FILTER.warps(edge, [np.array([[[0, 1]]], np.int32)], 16, 4)[0].astype(int)
    assert out.min() == 0 and out.max() == 255  # -4 x 255 / 64 would wrap in uint8 without the clip
    assert (out[:, :6] == 0).all() and (out[:, 9:] == 255).all()


def test_the_row_phases_fit_int16():
    """The first pass keeps int16: the worst rows (255 under the positive taps, 0
    under the negative ones, and the reverse) give the exact extremes."""
    pad = np.zeros((1, 1, 4), np.int16)
    for f, h in enumerate(FOUR_TAP):
        pad[0, 0] = np.where(h > 0, 255, 0)
        assert _row_phases(pad, 1)[0, f, 0, 0] == 255 * h[h > 0].sum()
        pad[0, 0] = np.where(h < 0, 255, 0)
        assert _row_phases(pad, 1)[0, f, 0, 0] == 255 * h[h < 0].sum()


@pytest.mark.parametrize("precision", [2, 4])
def test_search_planes_sample_as_the_warp_does(precision):
    rng = np.random.default_rng(precision)
    img = rng.integers(0, 256, (16, 24)).astype(np.int32)
    planes = FOUR_TAP_FILTER.planes(img, precision)
    assert planes.shape == (precision, precision, 16, 24)
    assert np.array_equal(planes[0, 0], img)
    rgb = np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)
    sh = 4 // precision
    for a in range(precision):
        for b in range(precision):
            for y, x in ((0, 0), (7, 11), (15, 23)):
                assert planes[a, b, y, x] == reference_sample(rgb, y, x, a * sh, b * sh)[0]


def test_the_format_names_the_filter():
    assert FILTERS[subpel_filter(10)] is BILINEAR and FILTERS[subpel_filter(11)] is FOUR_TAP_FILTER
    with pytest.raises(ValueError, match="halves or quarters"):
        FOUR_TAP_FILTER.warps(np.zeros((8, 8, 3), np.uint8), [np.zeros((1, 1, 2), np.int32)], 8, 8)


def test_block_vectors_move_each_block_by_its_own_vector():
    """Format v12: no vector is interpolated; the last block row and column cover
    a frame that is not a whole number of blocks."""
    field = np.arange(2 * 3 * 2, dtype=np.int32).reshape(2, 3, 2)
    v = block_vectors(field, 20, 40, 16)
    assert v.shape == (20, 40, 2)
    assert (v[:16, :16] == field[0, 0]).all() and (v[16:, 32:] == field[1, 2]).all()
    assert (v[15, 16:32] == field[0, 1]).all() and (v[16, 16:32] == field[1, 1]).all()


@pytest.mark.parametrize("precision", [1, 4])
def test_block_vector_warps_are_the_normative_rule(precision):
    """FourTapBlocks: each pixel sampled by the 4-tap rule at its block's vector;
    whole-pixel fields fetch the pixel at it."""
    rng = np.random.default_rng(9 + precision)
    ref = rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)
    field = rng.integers(-9 * precision, 9 * precision + 1, (3, 4, 2)).astype(np.int32)
    got = FOUR_TAP_BLOCKS.warps(ref, [field], 8, precision)[0]
    for y in range(20):
        for x in range(28):
            vy, vx = (int(c) for c in field[min(y // 8, 2), min(x // 8, 3)])
            if precision == 1:
                want = ref[min(max(y + vy, 0), 19), min(max(x + vx, 0), 27)]
            else:
                want = reference_sample(ref, y + (vy >> 2), x + (vx >> 2), vy & 3, vx & 3)
            assert (got[y, x] == want).all(), (y, x)
    assert FILTERS[subpel_filter(12)] is FOUR_TAP_BLOCKS and FOUR_TAP_BLOCKS.planes is FOUR_TAP_FILTER.planes


def test_overlap_weights():
    """v13's edge ramp: a quarter block each side of an edge, 28/20/12/4 (in 1/64)
    for 16-pixel blocks, nothing at the frame's edges (no neighbour there)."""
    own, nbr, w = edge_weights(40, 3, 16)  # the third block cut short at 8 rows
    assert w[:16].tolist() == [0] * 12 + [4, 12, 20, 28]
    assert w[16:32].tolist() == [28, 20, 12, 4] + [0] * 8 + [4, 12, 20, 28]
    assert w[32:].tolist() == [28, 20, 12, 4] + [0] * 4
    assert nbr[15] == 1 and nbr[16] == 0 and nbr[31] == 2 and nbr[32] == 1 and (own == np.arange(40) // 16).all()
    for block in (8, 16, 32, 64):  # whole numbers at every size, at most one half
        w = edge_weights(4 * block, 4, block)[2]
        assert 0 < w.max() < 32 and w[block - 1] == w[block] and (w > 0).sum() == 3 * block // 2


def _slow_overlapped(ref: np.ndarray, field: np.ndarray, block: int, precision: int) -> np.ndarray:
    """The normative rule: four block-vector warps (FourTapBlocks), by the own
    vector and the neighbours' across the nearer edges, mixed with separable
    weights and rounded once."""
    H, W, _ = ref.shape
    oy, ny, wy = edge_weights(H, field.shape[0], block)
    ox, nx, wx = edge_weights(W, field.shape[1], block)
    f = field * (4 // precision) if precision == 1 else field
    p = 4 if precision == 1 else precision
    acc = np.zeros(ref.shape, np.int64)
    for rows, cols, w in ((oy, ox, (64 - wy)[:, None] * (64 - wx)[None]), (ny, ox, wy[:, None] * (64 - wx)[None]),
                          (oy, nx, (64 - wy)[:, None] * wx[None]), (ny, nx, wy[:, None] * wx[None])):
        # a field whose every pixel names the chosen block (blocks of one pixel)
        warped = FOUR_TAP_BLOCKS.warps(ref, [f[rows][:, cols]], 1, p)[0]
        acc += w[..., None] * warped
    return ((acc + 2048) >> 12).astype(np.uint8)


@pytest.mark.parametrize("precision", [1, 4])
@pytest.mark.parametrize("shape, block", [((40, 56), 16), ((37, 45), 8), ((70, 100), 32)])
def test_overlapped_warps_are_the_normative_rule(shape, block, precision):
    """FourTapOverlapped's fast path (each neighbour sampled only where it has
    weight and another vector) equals the four warps mixed in full."""
    rng = np.random.default_rng(block + precision)
    ref = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    field = rng.integers(-9 * precision, 9 * precision + 1,
                         (*motion.grid_shape(*shape, block), 2)).astype(np.int32)
    field[0, 0] = field[0, 1]  # some neighbours agree
    got = FOUR_TAP_OVERLAPPED.warps(ref, [field], block, precision)[0]
    assert np.array_equal(got, _slow_overlapped(ref, field, block, precision))
    assert not np.array_equal(got, FOUR_TAP_BLOCKS.warps(ref, [field], block, precision)[0])


def test_equal_vectors_overlap_to_the_blocks_prediction():
    """Where all vectors agree the mix gives the blocks' pixels back exactly (the
    weights sum to 4096): a step whose vectors are all equal carries no bit."""
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    field = np.full((3, 4, 2), -7, np.int32)
    assert np.array_equal(FOUR_TAP_OVERLAPPED.warps(ref, [field], 16, 4)[0],
                          FOUR_TAP_BLOCKS.warps(ref, [field], 16, 4)[0])
    assert FILTERS["four-tap-overlapped"] is FOUR_TAP_OVERLAPPED and subpel_filter(13) == "four-tap-blocks"


@pytest.mark.parametrize("precision", [1, 4])
def test_the_encoders_overlap_reuses_the_blocks_prediction(precision):
    """prediction.overlap (the encoder, which has the blocks' clip) gives the
    decoder's clip (predict with the overlapped filter) exactly."""
    from vqcodec.motion.prediction import overlap, predict

    rng = np.random.default_rng(20 + precision)
    ref = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    field = rng.integers(-6 * precision, 6 * precision + 1, (3, 4, 2)).astype(np.int32)
    blocks = predict(ref, field, 2, 16, precision, FOUR_TAP_BLOCKS)
    want = predict(ref, field, 2, 16, precision, FOUR_TAP_OVERLAPPED)
    assert np.array_equal(overlap(ref, field, 2, 16, precision, blocks), want)
    assert not np.array_equal(want, blocks)
