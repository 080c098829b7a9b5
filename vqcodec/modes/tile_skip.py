"""Skipped tiles inside a predicted step (format v6): where the prediction is
better than what the step's tokens make of it, the decoder keeps the prediction.

A predicted step's frames are cut into square tiles of `tile` pixels (tile /
factor_s latent positions a side; tile_size says how large). After coding the
step on trial, the encoder keeps the prediction in a tile when

    SSE(prediction) < SSE(decoded) + lambda x (the tile's token bits)

(lambda = 2 ln 2 x SSE / samples of the coded step, as for whole steps; a
tile's token bits are the code lengths of its latent positions' tokens in the
trial coding, which is what keeping it saves. Before format v8 the tile was
charged its share of the step's bits by its share of the non-zero tokens,
which missed what its zero tokens cost). Those tiles' tokens are set to the
zero symbol, the step is coded again, and the tile map is sent before its
tokens (side_info's tile_map: a flag, then a bit per tile). From format v8
the kept tiles' tokens are left out of the range coder (both sides know they
are zero: kept_positions); before, they were coded. The decoder decodes the
tokens and pastes the prediction into the skipped tiles.

Why: the networks' output where the tokens are zero is not the prediction
(about 40 dB apart), and where coding noise is all that is left to correct,
tokens make a tile worse, not better. On carphone with the second motion
model, about a third of 32-pixel tiles at q2-q5 are better predicted than
coded (benchmarks/results/predictive/motion2/README.md).

    frames, pred, decoded   (t, H', W', 3) uint8, H' and W' multiples of factor_s
    tokens                  (planes, h, w) int64, h = H' / factor_s
    mask                    (ty, tx) bool, ty = ceil(H' / tile): True = prediction kept
"""
from __future__ import annotations

import numpy as np

from ..format.versions import finest_tiles, kept_tiles_uncoded
from ..motion.compensation import squared_error
from ..motion.side_info import map_contexts

TILE = 32  # pixels per tile side: formats v6 and v7, and v8 with 64-pixel motion blocks
FINE_TILE = 16  # v8 with motion blocks of 32 or 16 pixels (quality 4 and up); v10 with 32
FINEST_TILE = 8  # v10 with 16-pixel motion blocks (quality 6 and up)


def tile_size(version: int, block: int, factor_s: int = 8) -> int:
    """A packet's tile side in pixels, from its format version and motion block.
    Since v8 a kept tile costs no token bits, and at the qualities with finer
    motion 16-pixel tiles pay for their 4x larger map: on held-out bikes and
    synthetic:static they need 2-3 % fewer bytes at q5-q9, and at q1-q3 up to
    20 % more (benchmarks/results/tiles_v8/README.md). From v10, whose maps
    are coded with context, 8-pixel tiles with 16-pixel blocks: held-out bikes
    -2.2 %, synthetic:static -0.8 % at q5-q10 (docs/history.md). Never finer
    than one latent position (factor_s pixels: 8 for every shipped model)."""
    if finest_tiles(version) and block <= 16:
        return max(FINEST_TILE, factor_s)
    return max(FINE_TILE if kept_tiles_uncoded(version) and block < 64 else TILE, factor_s)


def tile_grid(height: int, width: int, tile: int) -> tuple[int, int]:
    """Tiles (ty, tx) covering a height x width frame."""
    return -(-height // tile), -(-width // tile)


def _tile_sums(x: np.ndarray, tile: int) -> np.ndarray:
    """(t, H, W) -> (ty, tx) sums over each tile (edges zero-padded)."""
    t, H, W = x.shape
    ty, tx = tile_grid(H, W, tile)
    p = np.pad(x, ((0, 0), (0, ty * tile - H), (0, tx * tile - W)))
    return p.reshape(t, ty, tile, tx, tile).sum(axis=(0, 2, 4))


def choose_tiles(frames: np.ndarray, pred: np.ndarray, decoded: np.ndarray, tile_bits: np.ndarray,
                 tile: int, scale: float = 1.0, map_bits: tuple | None = None,
                 map_scale: float = 1.0) -> np.ndarray:
    """The tiles of `tile` pixels where the prediction is cheaper than the coded
    step -> mask (ty, tx). tile_bits (ty, tx): what each tile's tokens cost in the
    trial coding (what keeping it saves: format v8 codes no token of a kept
    tile), weighted by scale. map_bits (format v10: SideInfo.map_code_lengths):
    each tile's own bit in the map is priced too, weighted by map_scale, row by
    row (a bit's context is the bit chosen above it and the previous map's)."""
    d_pred = _tile_sums(squared_error(pred, frames), tile)  # integers: the same choice on every machine
    d_coded = _tile_sums(squared_error(decoded, frames), tile)
    lam = 2 * np.log(2) * d_coded.sum() / frames.size
    if map_bits is None:
        return d_pred < d_coded + lam * scale * tile_bits
    lengths, last = map_bits  # (9, 2) bits per context and bit; (ty, tx) bool or None
    keep_gain = d_coded + lam * scale * tile_bits - d_pred  # (ty, tx): > 0 where keeping pays, map aside
    ty, tx = keep_gain.shape
    mask = np.zeros((ty, tx), bool)
    for r in range(ty):  # greedy: each row's contexts from the row chosen above it
        ctx = map_contexts(mask, r, last)  # (tx,) the models the coder will use
        extra = lengths[ctx, 1] - lengths[ctx, 0]  # (tx,) what a kept bit costs over a coded one
        mask[r] = keep_gain[r] > lam * map_scale * extra
    return mask


def tile_bits(position_bits: np.ndarray, factor_s: int, tile: int) -> np.ndarray:
    """position_bits (h, w), each latent position's code length -> (ty, tx) per tile."""
    return _tile_sums(position_bits[None], tile // factor_s)  # a tile is tile / factor_s positions a side


def _cells(mask: np.ndarray, n: int, h: int, w: int) -> np.ndarray:
    """mask (ty, tx) spread to the (h, w) cells it covers, n x n per tile."""
    return mask.repeat(n, 0).repeat(n, 1)[:h, :w]


def kept_positions(mask: np.ndarray, factor_s: int, tile: int, h: int, w: int) -> np.ndarray:
    """The latent positions (h, w) bool inside the skipped tiles of mask (ty, tx)."""
    return _cells(mask, tile // factor_s, h, w)


def zero_tiles(tokens: np.ndarray, zero: np.ndarray, mask: np.ndarray, factor_s: int, tile: int) -> np.ndarray:
    """tokens with every latent position of a skipped tile set to the zero symbol."""
    kept = kept_positions(mask, factor_s, tile, tokens.shape[1], tokens.shape[2])  # (h, w)
    return np.where(kept[None], zero, tokens)


def paste_tiles(decoded: np.ndarray, pred: np.ndarray, mask: np.ndarray, tile: int) -> np.ndarray:
    """The decoded step with the prediction in the skipped tiles."""
    pixels = _cells(mask, tile, *decoded.shape[1:3])  # (H, W)
    return np.where(pixels[None, :, :, None], pred, decoded)
