"""Motion estimation, warping and interpolation for the low-latency mode.

Everything here is integer arithmetic on numpy arrays, so the encoder and the
decoder (and any two machines) compute exactly the same predictions.

Conventions. A motion field is int32 (by, bx, 2) of (dy, dx) in whole pixels,
one vector per BLOCK x BLOCK block of the (edge-padded) frame: the block's
pixels come from `ref[y + dy, x + dx]`. Fields are estimated on luma at half
resolution (2-pixel steps, so a radius of R covers +-2R pixels) and refined by
+-1 pixel at full resolution. Warping is dense: the field is upsampled
bilinearly to one vector per pixel (integer weights, rounded), then each
pixel is fetched with one gather, clamped at the borders. That avoids the
block edges of plain block copying at the cost of one gather per pixel.

    luma             (H, W, 3) uint8 -> (H, W) int32, BT.601 weights / 256
    estimate         target, ref luma -> field (by, bx, 2)     encoder side (sent)
    bilateral        ref0, ref1 luma, a -> fields f0, f1      decoder side (0 bits)
    warp             ref (H, W, 3) uint8, field -> (H, W, 3) uint8 (whole or
                     fractional pixels: format v7's steps use quarter pixels)
    blend            p0, p1, per-block weights in 0..WEIGHT_ONE -> (H, W, 3) uint8
"""
from __future__ import annotations

import functools

import numpy as np

from .workers import pmap, pstack

BLOCK = 16  # pixels per block side at full resolution
RADIUS = 3  # coarse search radius in quarter-resolution pixels (+-12 px at full resolution)
WEIGHT_ONE = 4  # blend weights are w/4 of the second reference: 0, 1/4, ..., 1
_BIAS = 4  # SAD penalty per step (at any scale) away from zero or the dominant motion


def luma(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) int32 luma (0..255), integer BT.601."""
    f = frame.astype(np.int32)
    return (77 * f[..., 0] + 150 * f[..., 1] + 29 * f[..., 2] + 128) >> 8


def grid_shape(height: int, width: int, block: int = BLOCK) -> tuple[int, int]:
    """Blocks (by, bx) of block x block pixels covering a height x width frame."""
    return -(-height // block), -(-width // block)


def _pad_to_blocks(y: np.ndarray, block: int) -> np.ndarray:
    H, W = y.shape
    return np.pad(y, ((0, -H % block), (0, -W % block)), mode="edge")


def _half(y: np.ndarray) -> np.ndarray:
    """(H, W) int32, H and W even -> (H/2, W/2) 2x2 means (rounded down)."""
    return (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2]) >> 2


def _pyramid(y: np.ndarray, block: int = BLOCK) -> list[np.ndarray]:
    """Luma (H, W) -> [full, half, quarter], padded to whole blocks."""
    full = _pad_to_blocks(y, block)
    half = _half(full)
    return [full, half, _half(half)]


def _block_sums(d: np.ndarray, block: int) -> np.ndarray:
    """(..., H, W) -> (..., H/block, W/block) sums over each block."""
    *lead, H, W = d.shape
    return d.reshape(*lead, H // block, block, W // block, block).sum(axis=(-3, -1))


def _shifted(y: np.ndarray, pad: int, dy: int, dx: int) -> np.ndarray:
    """View of y (already edge-padded by `pad`) moved by (dy, dx): out[i, j] = y[i+dy, j+dx]."""
    H, W = y.shape[0] - 2 * pad, y.shape[1] - 2 * pad
    return y[pad + dy: pad + dy + H, pad + dx: pad + dx + W]


def _offsets(radius: int) -> np.ndarray:
    """(C, 2) candidate steps within +-radius, smallest first (argmin keeps the
    first minimum, so ties go to the smaller vector)."""
    offs = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    return np.array(sorted(offs, key=lambda o: (abs(o[0]) + abs(o[1]), o)), dtype=np.int32)


def _pick(costs: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """costs (C, by, bx), cands (C, by, bx, 2) -> the cheapest (by, bx, 2)."""
    pick = np.argmin(costs, axis=0)
    iy, ix = np.indices(pick.shape)
    return cands[pick, iy, ix]


def _dominant(field: np.ndarray) -> np.ndarray:
    """The per-component median vector of a field (by, bx, 2) -> (2,) int."""
    return np.median(field.reshape(-1, 2), axis=0).round().astype(np.int32)


def _bias(cands: np.ndarray, dominant: np.ndarray, bias: int = _BIAS) -> np.ndarray:
    """(..., 2) candidate vectors -> (...) SAD penalty per step of the distance
    to zero or to the dominant motion, whichever is nearer. Flat blocks then
    follow the scene instead of noise: a field that is cheap to code."""
    d0 = np.abs(cands).sum(axis=-1)
    d1 = np.abs(cands - dominant).sum(axis=-1)
    return bias * np.minimum(d0, d1)


def estimate(target: np.ndarray, ref: np.ndarray, radius: int = RADIUS, block: int = BLOCK,
             bias: int = _BIAS) -> np.ndarray:
    """Block matching of `target` luma (H, W) into `ref` luma (H, W): a full
    search of +-radius at quarter resolution, then +-1 refinements at half and
    at full resolution, with a SAD penalty of `bias` per pixel step away from
    zero or the dominant motion. -> int32 (by, bx, 2) in full-resolution pixels,
    one vector per block x block block (a power of two, at least 16)."""
    tp, rp = _pyramid(target, block), _pyramid(ref, block)
    tq, rq = tp[2], np.pad(rp[2], radius, mode="edge")
    offs = _offsets(radius)
    windows = np.lib.stride_tricks.sliding_window_view(rq, tq.shape)  # (2r+1, 2r+1, h, w) views

    def sads(o: np.ndarray) -> np.ndarray:  # offsets (n, 2) -> (n, by, bx)
        return _block_sums(np.abs(tq - windows[o[:, 0] + radius, o[:, 1] + radius]), block // 4)

    sad = pstack(sads, offs, tq.size)  # (C, by, bx)
    dominant = _dominant(offs[np.argmin(sad, axis=0)])
    field = offs[np.argmin(sad + _bias(offs, dominant, bias)[:, None, None], axis=0)]
    for level in (1, 0):  # half, then full resolution
        field, dominant = 2 * field, 2 * dominant
        field = _refine(tp[level], rp[level], field, dominant, block >> level, bias)
    return _propagate(tp[0], rp[0], field, block, bias)


def _propagate(target: np.ndarray, ref: np.ndarray, field: np.ndarray, block: int = BLOCK,
               bias: int = _BIAS) -> np.ndarray:
    """One pass of candidate propagation at full resolution: each block may take
    the vector of a neighbour or the frame's dominant one if that matches better
    (flat blocks that the coarse search missed then join the motion around them)."""
    def sad(f: np.ndarray) -> np.ndarray:  # fields (n, by, bx, 2) -> (n, by, bx)
        return _block_sums(np.abs(target - _block_copy(ref, f, block)), block)

    return _propagated(field, sad, True, bias, target.size)


def _propagated(field: np.ndarray, sad, toward_dominant: bool, bias: int = _BIAS, pixels: int = 0) -> np.ndarray:
    """Candidates own / dominant / up / down / left / right, scored by sad(fields) +
    bias; sad takes a stack of fields (n, by, bx, 2) -> (n, by, bx) (pixels: what
    one field's sad works on; workers.pstack splits big stacks over threads)."""
    dominant = _dominant(field)
    p = np.pad(field, ((1, 1), (1, 1), (0, 0)), mode="edge")
    cands = np.stack([field, np.broadcast_to(dominant, field.shape), p[:-2, 1:-1], p[2:, 1:-1],
                      p[1:-1, :-2], p[1:-1, 2:]]).astype(np.int32)  # (6, by, bx, 2)
    anchor = dominant if toward_dominant else np.zeros(2, np.int32)
    return _pick(pstack(sad, cands, pixels) + _bias(cands, anchor, bias), cands)


def _refine(target: np.ndarray, ref: np.ndarray, field: np.ndarray, dominant: np.ndarray,
            block: int, bias: int = _BIAS) -> np.ndarray:
    """+-1 pixel around each block's vector (block copies at this scale)."""
    cands = field[None] + _offsets(1)[:, None, None, :]  # (9, by, bx, 2)
    costs = pstack(lambda f: _block_sums(np.abs(target - _block_copy(ref, f, block)), block),
                   cands, target.size) + _bias(cands, dominant, bias)
    return _pick(costs, cands)


def bilateral(ref0: np.ndarray, ref1: np.ndarray, num: int, den: int,
              radius: int = RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """Decoder-side motion for a frame at time a = num/den between ref0 (a=0)
    and ref1 (a=1), both luma (H, W): for each block, the motion v from ref0
    to ref1 whose two ends match best, with the block at -a*v in ref0 and at
    (1-a)*v in ref1 (a symmetric search, so the field has no holes). Coarse at
    quarter resolution (|v| up to 2*radius), refined by +-1 at half resolution.
    -> (field into ref0, field into ref1), each int32 (by, bx, 2), full-res pixels."""
    p0, p1 = _pyramid(ref0), _pyramid(ref1)
    span = 2 * radius
    q0, q1 = np.pad(p0[2], span, mode="edge"), np.pad(p1[2], span, mode="edge")
    vs = _offsets(span)[: (2 * radius + 1) ** 2]  # the smallest total motions
    costs = np.stack([
        _block_sums(np.abs(_shifted(q0, span, *u0) - _shifted(q1, span, *u1)), BLOCK // 4)
        for u0, u1 in zip(*_split(vs, num, den))]) + _bias(vs, np.zeros(2, np.int32))[:, None, None]
    v = 2 * vs[np.argmin(costs, axis=0)]  # (by, bx, 2) at half resolution
    cands = v[None] + _offsets(1)[:, None, None, :]  # (9, by, bx, 2)
    hb = BLOCK // 2
    costs = []
    for c in cands:
        u0, u1 = _split(c, num, den)
        d = np.abs(_block_copy(p0[1], u0, hb)
                   - _block_copy(p1[1], u1, hb))
        costs.append(_block_sums(d, hb))
    best = _pick(np.stack(costs) + _bias(cands, np.zeros(2, np.int32)), cands)

    def sad(v: np.ndarray) -> np.ndarray:  # symmetric matching cost at half resolution
        u0, u1 = _split(v, num, den)
        return _block_sums(np.abs(_block_copy(p0[1], u0, hb)
                                  - _block_copy(p1[1], u1, hb)), hb)

    u0, u1 = _split(_propagated(best, sad, False, pixels=p0[1].size), num, den)
    return 2 * u0, 2 * u1


def _split(v: np.ndarray, num: int, den: int) -> tuple[np.ndarray, np.ndarray]:
    """Total motion v (..., 2) from ref0 to ref1 -> (u0, u1) with u1 - u0 = v and
    u0 = -round(v * num / den): where the frame at num/den finds each reference."""
    v = np.asarray(v, dtype=np.int32)
    u0 = -((2 * v * num + den) // (2 * den))
    return u0, v + u0


def _upsample(values: np.ndarray, height: int, width: int, block: int = BLOCK) -> np.ndarray:
    """Per-block values (by, bx, C) int -> per-pixel (height, width, C) int32 by
    bilinear interpolation between block centres, in integer arithmetic
    (separable: rows of blocks first, then columns); each axis weight is
    n / (2*block) and the result is rounded to the nearest integer."""
    by, bx = values.shape[:2]
    two_b = 2 * block
    y0, y1, wy = _axis_weights(height, by, block)
    x0, x1, wx = _axis_weights(width, bx, block)
    # int32 throughout: |values| * (2*block)^2 stays far below 2^31 for vectors and weights (block <= 64)
    v = values.astype(np.int32)
    rows = v[:, x0] * (two_b - wx)[None, :, None] + v[:, x1] * wx[None, :, None]  # (by, W, C)
    # rows[y0] (2b - wy) + rows[y1] wy = 2b rows[y0] + wy (rows[y1] - rows[y0]): y1 is y0 + 1, or
    # y0 itself where the edge clamps both (weight 0 there); two full-size passes fewer
    step = rows[np.minimum(np.arange(by) + 1, by - 1)] - rows  # (by, W, C)
    acc = (rows * two_b)[y0]  # (H, W, C)
    acc += step[y0] * np.where(y1 == y0, 0, wy).astype(np.int32)[:, None, None]
    acc += two_b * two_b // 2
    acc >>= 2 * (two_b.bit_length() - 1)  # floor division by (2*block)^2, a power of two
    return acc


@functools.lru_cache(maxsize=16)
def _axis_weights(n: int, blocks: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For n pixels over `blocks` blocks: the two nearest block centres and the
    weight (0..2*block-1) of the second, clamped at the frame edges."""
    two_b = 2 * block
    pos = 2 * np.arange(n, dtype=np.int32) + 1 - block  # 2*block * (pixel centre / block - 1/2)
    i0 = np.floor_divide(pos, two_b)
    w1 = (pos - i0 * two_b).astype(np.int32)
    return np.clip(i0, 0, blocks - 1), np.clip(i0 + 1, 0, blocks - 1), w1


def _block_copy(img: np.ndarray, field: np.ndarray, block: int) -> np.ndarray:
    """img (H, W) int, H and W multiples of block, each block fetched from
    (y + dy, x + dx) of its vector in field (..., by, bx, 2), clamped to the
    frame -> (..., H, W): leading axes are candidate fields, fetched at once."""
    H, W = img.shape
    by, bx = H // block, W // block
    r = np.arange(block, dtype=np.int32)
    ys = (np.arange(by, dtype=np.int32)[:, None] * block + r[None, :])[:, :, None, None]  # (by, B, 1, 1)
    xs = (np.arange(bx, dtype=np.int32)[:, None] * block + r[None, :])[None, None]  # (1, 1, bx, B)
    ys = np.clip(ys + field[..., :, None, :, None, 0], 0, H - 1)  # (..., by, B, bx, 1)
    xs = np.clip(xs + field[..., :, None, :, None, 1], 0, W - 1)  # (..., by, 1, bx, B)
    return np.take(img.reshape(-1), ys * W + xs).reshape(*field.shape[:-3], H, W)


def _gather(img: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """img (H, W[, C]) sampled at (y + dy, x + dx), clamped to the frame."""
    H, W = dy.shape
    ys = np.clip(np.arange(H, dtype=np.int32)[:, None] + dy, 0, img.shape[0] - 1)
    xs = np.clip(np.arange(W, dtype=np.int32)[None, :] + dx, 0, img.shape[1] - 1)
    flat = img.reshape(img.shape[0] * img.shape[1], -1)
    out = np.take(flat, (ys * img.shape[1] + xs).ravel(), axis=0)
    return out.reshape(H, W, *img.shape[2:])


def warp(ref: np.ndarray, field: np.ndarray, block: int = BLOCK, precision: int = 1) -> np.ndarray:
    """Dense warp: ref (H, W, 3) uint8 by field (by, bx, 2) of block x block
    blocks, in 1/precision pixels -> (H, W, 3) uint8. Between pixels
    (precision > 1) each pixel is the bilinear mix of its four neighbours."""
    H, W = ref.shape[:2]
    v = _upsample(field, H, W, block)  # (H, W, 2) in 1/precision pixels
    if precision == 1:
        return _gather(ref, v[..., 0], v[..., 1])
    iy, fy = np.divmod(v[..., 0], precision)  # whole pixels, and the fraction in 0..precision-1
    ix, fx = np.divmod(v[..., 1], precision)
    # one index into ref padded by one pixel all round (edges repeated): its four
    # neighbours are +0, +1, +W+2, +W+3 away, and clamping the whole part to
    # [-1, H-1] gives each neighbour the clamped pixel _gather would fetch.
    # Planar (C, pixels), so the per-pixel weights broadcast along the last axis.
    C, w = ref.shape[2], W + 2
    pad = np.ascontiguousarray(np.pad(ref, ((1, 1), (1, 1), (0, 0)), mode="edge").transpose(2, 0, 1)).reshape(C, -1)
    ys = np.clip(np.arange(H, dtype=np.int32)[:, None] + iy, -1, H - 1) + 1
    xs = np.clip(np.arange(W, dtype=np.int32)[None, :] + ix, -1, W - 1) + 1
    at = (ys * w + xs).ravel()
    out = _bilinear(lambda dy, dx: np.take(pad, at + dy * w + dx, axis=1), fy.ravel(), fx.ravel(), precision)
    return out.T.reshape(H, W, C)


def _bilinear(at, fy: np.ndarray, fx: np.ndarray, p: int) -> np.ndarray:
    """at(dy, dx): the image (values 0..255) sampled one pixel down/right of the
    whole-pixel positions; fy, fx in 0..p-1 the fractions (broadcasting against
    it), p a power of two up to 8 -> the bilinear mix, rounded half up, uint8.
    Integer arithmetic: the weighted sum is at most 255 p^2 + p^2/2 < 2^16."""
    if p & (p - 1) or p > 8:
        raise ValueError(f"a warp's precision is a power of two up to 8, got {p}")
    fy, fx = np.asarray(fy, np.uint16), np.asarray(fx, np.uint16)
    acc = p * p // 2 + at(0, 0).astype(np.uint16) * ((p - fx) * (p - fy))
    acc += at(0, 1).astype(np.uint16) * (fx * (p - fy))
    acc += at(1, 0).astype(np.uint16) * ((p - fx) * fy)
    acc += at(1, 1).astype(np.uint16) * (fx * fy)
    return (acc >> (2 * (p.bit_length() - 1))).astype(np.uint8)


def phase_planes(img: np.ndarray, p: int) -> np.ndarray:
    """img (H, W) luma -> (p, p, H, W) int32: img sampled at (y + fy/p, x + fx/p)
    for every fraction, as warp samples it (the edges repeated): a sub-pixel
    search reads them with block_copy_fine."""
    pad = np.pad(img, ((0, 1), (0, 1)), mode="edge")
    H, W = img.shape
    fx = np.arange(p, dtype=np.int32)[None, :, None, None]
    rows = pmap(lambda fy: _bilinear(lambda dy, dx: pad[dy:dy + H, dx:dx + W], fy, fx, p).astype(np.int32),
                np.arange(p, dtype=np.int32)[:, None, None, None, None], H * W)  # fy: (1, 1, 1, 1) each
    return np.concatenate(rows)


def block_copy_fine(planes: np.ndarray, field: np.ndarray, block: int) -> np.ndarray:
    """planes (p, p, H, W) of phase_planes, field (..., by, bx, 2) in 1/p pixels ->
    (..., H, W): each block fetched at its vector (clamped to the frame), the
    sub-pixel search's block-constant stand-in for warp (leading axes: candidates)."""
    p, H, W = planes.shape[0], planes.shape[2], planes.shape[3]
    shift = p.bit_length() - 1  # p is a power of two: floor division and remainder by bits
    by, bx = field.shape[-3:-1]
    r = np.arange(block, dtype=np.int64)
    ys = np.clip((np.arange(by)[:, None] * block + r)[:, :, None, None] + (field[..., :, None, :, None, 0] >> shift),
                 0, H - 1)  # (..., by, B, bx, 1)
    xs = np.clip((np.arange(bx)[:, None] * block + r)[None, None] + (field[..., :, None, :, None, 1] >> shift),
                 0, W - 1)  # (..., by, 1, bx, B)
    phase = ((field[..., 0] & (p - 1)) * p + (field[..., 1] & (p - 1))).astype(np.int64)[..., :, None, :, None]
    return np.take(planes, phase * (H * W) + ys * W + xs).reshape(*field.shape[:-3], H, W)


def blend(p0: np.ndarray, p1: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """p0, p1 (H, W, 3) uint8; weights (by, bx) in 0..WEIGHT_ONE: the share of p1
    per block, upsampled smoothly (occlusions: 0 = only p0, WEIGHT_ONE = only p1)."""
    H, W = p0.shape[:2]
    one = 64 * WEIGHT_ONE  # 256: uint16 holds 255 * 256
    w = _upsample(weights[..., None] * 64, H, W).astype(np.uint16)  # (H, W, 1) in 0..256
    acc = p0.astype(np.uint16) * (one - w) + p1.astype(np.uint16) * w  # <= 255 * 256
    return ((acc.astype(np.uint32) + one // 2) >> 8).astype(np.uint8)


def squared_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, 3) pair -> (..., H, W) int32 squared error summed over the
    channels (int16 differences, int32 squares and sums: exact, and a fifth of
    the time of float64)."""
    d = np.subtract(a, b, dtype=np.int16).astype(np.int32)
    d *= d
    return d[..., 0] + d[..., 1] + d[..., 2]


def block_sse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 pair -> (by, bx) int64 sum of squared errors per block."""
    H, W = a.shape[:2]
    e = np.pad(squared_error(a, b), ((0, -H % BLOCK), (0, -W % BLOCK)))
    return _block_sums(e, BLOCK)


def time_weight(num: int, den: int) -> int:
    """The blend weight (0..WEIGHT_ONE) of the later reference at time num/den."""
    return (2 * WEIGHT_ONE * num + den) // (2 * den)
