"""Motion-compensated prediction clips for the full mode's predicted steps.

A model with `AutoencoderConfig.motion` codes, after an intra GOP, every
factor_t frames as one step conditioned on a prediction clip:

    ref      (H, W, 3) uint8   the last decoded frame (encoder and decoder alike)
    source   (H, W) int32      the luma of that frame before coding (encoder only)
    targets  (n, H, W, 3) uint8 the step's frames
    -> field  (by, bx, 2)       ONE motion field for the step, searched for its last
                               frame against `source` (a field follows what moved,
                               not the reference's coding noise), sent in the stream
    -> clip  (n, H, W, 3) uint8 frame i: `ref` warped by the field scaled to its
                               distance, round(field x (i + 1) / n): the prediction

One field per step, not one per frame: motion over two frames is close to
twice the motion over one, and a field costs as much to send as the step's
tokens at low rates. The last frame's vector is searched (at distance n, where
an integer vector is the finer fraction of the motion) and the frames before
it take their share, rounded as the low-latency mode's bilateral split does.
Everything is compensation.py's integer arithmetic: the decoder rebuilds the
same clip from the same field on any machine.

The block size (one vector per block x block pixels: 16, 32 or 64) is the
encoder's choice per packet (it is in the packet's head): at low rates a field
of 16x16 blocks costs more than the prediction it buys (carphone, 120 frames:
1.8 kB of fields at 16x16 against 0.6 kB at 32x32, for 0.75 dB less prediction
PSNR; benchmarks/results/predictive/motion_fields_*.md). The search's penalty
for leaving zero or the dominant motion (SEARCH_BIAS, SAD per pixel step) is
higher than the low-latency mode's: at 64 (format v6) it cut the fields' bits
by a fifth (carphone) to a quarter (bikes) for at most 0.1 dB of prediction.
Under v13, 32 measured -0.3 % on 64 frames of held-out bikes and -0.9 % on
synthetic:static (benchmarks/block_table.py --search-biases), but +0.3 % on
the whole held-out clip's bench: 64 stays (docs/history.md).
"""
from __future__ import annotations

import numpy as np

from . import compensation as motion, side_info
from .interpolation import BILINEAR, FOUR_TAP_OVERLAPPED, Bilinear, FourTap
from .workers import pstack


SEARCH_BIAS = 64
# refine()'s SAD penalty per 1/precision pixel away from the whole-pixel vector:
# a block leaves it only for a clear gain (a fractional vector costs bits)
REFINE_BIAS = 16


def search(source: np.ndarray, last: np.ndarray, block: int = motion.BLOCK, precision: int = 1,
           interp: Bilinear | FourTap = BILINEAR) -> np.ndarray:
    """Encoder: source luma (H, W) int32, the step's last frame (H, W, 3) uint8
    -> field (by, bx, 2) int32 in 1/precision pixels, one vector per block x
    block pixels: whole pixels first (motion.estimate), then refine()."""
    field = motion.estimate(motion.luma(last), source, block=block, bias=SEARCH_BIAS)
    return field if precision == 1 else refine(source, last, field, block, precision, interp)


def refine(source: np.ndarray, last: np.ndarray, field: np.ndarray, block: int, precision: int,
           interp: Bilinear | FourTap = BILINEAR) -> np.ndarray:
    """A whole-pixel field (by, bx, 2) -> the same in 1/precision pixels: each
    halving of the step (half pixel, quarter ...) tries the 8 vectors around
    each block's best, by block SAD against the source sampled between pixels
    by the stream's sub-pixel filter (interpolation.py)."""
    planes = interp.planes(motion._pad_to_blocks(source, block), precision)  # (p, p, H', W')
    target = motion._pad_to_blocks(motion.luma(last), block)
    limit = side_info.MAX_VECTOR * precision

    def sad(f: np.ndarray) -> np.ndarray:  # fields (n, by, bx, 2) -> (n, by, bx)
        return motion._block_sums(np.abs(target - motion.block_copy_fine(planes, f, block)), block)

    field = field * precision
    whole = field
    cost, step = sad(field[None])[0], precision // 2
    while step:
        # the 8 neighbours, nearest first: (8, by, bx, 2)
        cands = np.clip(field[None] + step * motion._offsets(1)[1:, None, None], -limit, limit)
        for cand, c in zip(cands, pstack(sad, cands, target.size)):  # costs at once, choices in order
            c = c + REFINE_BIAS * np.abs(cand - whole).sum(-1)
            better = c < cost
            field, cost = np.where(better[..., None], cand, field), np.where(better, c, cost)
        step //= 2
    return field


def scaled(field: np.ndarray, num: int, den: int) -> np.ndarray:
    """field x num / den, rounded half up (as compensation._split rounds)."""
    v = np.asarray(field, dtype=np.int32)
    return (2 * v * num + den) // (2 * den)


def predict(ref: np.ndarray, field: np.ndarray, n: int, block: int = motion.BLOCK, precision: int = 1,
            interp: Bilinear | FourTap = BILINEAR) -> np.ndarray:
    """ref (H, W, 3) uint8, the step's field (by, bx, 2) of block x block blocks
    in 1/precision pixels, n frames -> prediction clip (n, H, W, 3) uint8,
    sampled between pixels by interp (the stream's filter: interpolation.py)."""
    return np.stack(interp.warps(ref, [scaled(field, i + 1, n) for i in range(n)], block, precision))


def overlap(ref: np.ndarray, field: np.ndarray, n: int, block: int, precision: int,
            blocks: np.ndarray) -> np.ndarray:
    """predict()'s clip by the overlapped filter (format v13), given blocks, the
    same clip (n, H, W, 3) by FourTapBlocks, whose pixels are its own hypotheses
    (the encoder has it: it then samples only where neighbours differ)."""
    return np.stack(FOUR_TAP_OVERLAPPED.warps(ref, [scaled(field, i + 1, n) for i in range(n)], block, precision,
                                              list(blocks)))


def still_field(height: int, width: int, block: int = motion.BLOCK) -> np.ndarray:
    """A zero field (by, bx, 2): the prediction is the reference held still."""
    return np.zeros((*motion.grid_shape(height, width, block), 2), np.int32)


def predict_batch(refs: np.ndarray, sources: np.ndarray, targets: np.ndarray, precision: int = 1,
                  interp: Bilinear | FourTap = BILINEAR) -> np.ndarray:
    """Training: refs (B, H, W, 3) uint8 decoded, sources (B, H, W, 3) uint8
    originals of the same frames, targets (B, n, H, W, 3) uint8 -> clips
    (B, n, H, W, 3) uint8, each predicted as the coder does (16x16 blocks,
    vectors in 1/precision pixels, sampled between pixels by interp)."""
    return np.stack([predict(r, search(motion.luma(s), t[-1], precision=precision, interp=interp), len(t),
                             precision=precision, interp=interp)
                     for r, s, t in zip(refs, sources, targets)])
