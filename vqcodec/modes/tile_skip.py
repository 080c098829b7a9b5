"""Skipped tiles inside a predicted step (format v6): where the prediction is
better than what the step's tokens make of it, the decoder keeps the prediction.

A predicted step's frames are cut into TILE x TILE pixel tiles (TILE / factor_s
latent positions a side). After coding the step on trial, the encoder keeps the
prediction in a tile when

    SSE(prediction) < SSE(decoded) + lambda x (the tile's share of the token bits)

(lambda = 2 ln 2 x SSE / samples of the coded step, as for whole steps; a
tile's share is its share of the step's non-zero tokens). Those tiles' tokens
are set to the zero symbol, the step is coded again, and the tile map is sent
before its tokens (side_info's tile_map: a flag, then a bit per tile). The
decoder decodes the tokens and pastes the prediction into the skipped tiles.

Why: the networks' output where the tokens are zero is not the prediction
(about 40 dB apart), and where coding noise is all that is left to correct,
tokens make a tile worse, not better. On carphone with the second motion
model, about a third of 32-pixel tiles at q2-q5 are better predicted than
coded (benchmarks/results/predictive/motion2/README.md).

    frames, pred, decoded   (t, H', W', 3) uint8, H' and W' multiples of factor_s
    tokens                  (planes, h, w) int64, h = H' / factor_s
    mask                    (ty, tx) bool, ty = ceil(H' / TILE): True = prediction kept
"""
from __future__ import annotations

import numpy as np

from ..motion.compensation import squared_error

TILE = 32  # pixels per tile side


def tile_grid(height: int, width: int) -> tuple[int, int]:
    """Tiles (ty, tx) covering a height x width frame."""
    return -(-height // TILE), -(-width // TILE)


def _tile_sums(x: np.ndarray) -> np.ndarray:
    """(t, H, W) -> (ty, tx) sums over each tile (edges zero-padded)."""
    t, H, W = x.shape
    ty, tx = tile_grid(H, W)
    p = np.pad(x, ((0, 0), (0, ty * TILE - H), (0, tx * TILE - W)))
    return p.reshape(t, ty, TILE, tx, TILE).sum(axis=(0, 2, 4))


def choose_tiles(frames: np.ndarray, pred: np.ndarray, decoded: np.ndarray, tokens: np.ndarray,
                 zero: np.ndarray, bits: float) -> np.ndarray:
    """The tiles where the prediction is cheaper than the coded step -> mask (ty, tx)."""
    d_pred = _tile_sums(squared_error(pred, frames))  # integers: the same choice on every machine
    d_coded = _tile_sums(squared_error(decoded, frames))
    lam = 2 * np.log(2) * d_coded.sum() / frames.size
    s = frames.shape[1] // tokens.shape[1]  # pixels per latent position
    nonzero = (tokens != zero).sum(0).astype(np.float64)  # (h, w)
    share = _tile_sums(nonzero.repeat(s, 0).repeat(s, 1)[None]) / (s * s) / max(nonzero.sum(), 1.0)
    return d_pred < d_coded + lam * bits * share


def zero_tiles(tokens: np.ndarray, zero: np.ndarray, mask: np.ndarray, factor_s: int) -> np.ndarray:
    """tokens with every latent position of a skipped tile set to the zero symbol."""
    n = TILE // factor_s
    keep = ~mask.repeat(n, 0).repeat(n, 1)[: tokens.shape[1], : tokens.shape[2]]  # (h, w)
    return np.where(keep[None], tokens, zero)


def paste_tiles(decoded: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The decoded step with the prediction in the skipped tiles."""
    H, W = decoded.shape[1:3]
    pixels = mask.repeat(TILE, 0).repeat(TILE, 1)[:H, :W]  # (H, W)
    return np.where(pixels[None, :, :, None], pred, decoded)
