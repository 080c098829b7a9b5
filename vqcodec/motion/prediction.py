"""Motion-compensated prediction clips for the full mode's predicted steps.

A model with `AutoencoderConfig.motion` codes, after an intra GOP, every
factor_t frames as one step conditioned on a prediction clip:

    ref      (H, W, 3) uint8   the last decoded frame (encoder and decoder alike)
    source   (H, W) int32      the luma of that frame before coding (encoder only)
    targets  (n, H, W, 3) uint8 the step's frames
    -> fields (n, by, bx, 2)   one motion field per frame, searched against `source`
                               (a field follows what moved, not the reference's
                               coding noise), sent in the stream
    -> clip  (n, H, W, 3) uint8 `ref` warped by each field: the prediction

Frame i of a step lies i + 1 frames after the reference, so its field spans
that distance. Everything is compensation.py's integer arithmetic: the
decoder rebuilds the same clip from the same fields on any machine.
"""
from __future__ import annotations

import numpy as np

from . import compensation as motion


def search(source: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Encoder: source luma (H, W) int32, targets (n, H, W, 3) uint8 -> fields (n, by, bx, 2) int32."""
    return np.stack([motion.estimate(motion.luma(t), source) for t in targets])


def predict(ref: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """ref (H, W, 3) uint8, fields (n, by, bx, 2) -> prediction clip (n, H, W, 3) uint8."""
    return np.stack([motion.warp(ref, f) for f in fields])


def still_fields(n: int, height: int, width: int) -> np.ndarray:
    """n zero fields (n, by, bx, 2): the prediction is the reference held still."""
    return np.zeros((n, *motion.grid_shape(height, width), 2), np.int32)


def predict_batch(refs: np.ndarray, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Training: refs (B, H, W, 3) uint8 decoded, sources (B, H, W, 3) uint8
    originals of the same frames, targets (B, n, H, W, 3) uint8 -> clips
    (B, n, H, W, 3) uint8, each predicted as the coder does."""
    return np.stack([predict(r, search(motion.luma(s), t)) for r, s, t in zip(refs, sources, targets)])
