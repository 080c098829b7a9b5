"""Format v5's coding loop: the fast prior's passes over one latent frame.

    prev (C, h, w) tokens --context (once)--> ctx (dim, h, w)
    for each pass (channel group x checkerboard half), in a fixed order:
        the pass's MLP at its positions -> (bases, flags, means, scales) -> LaplaceRows
        -> the caller's step: encode the true symbols, or decode them
        -> the symbols land in cur, where the next passes see them

ONE loop for the encoder and the decoder, as in codec.code_latent_frame for
v1-v4: only the step differs, so the encoder never uses a probability the
decoder cannot compute. Everything the prior sees is tokens; its arithmetic
is 8-bit exact (models/int8.py), so the tables match on every machine.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..models.fast_prior import FastPrior
from ..models.prior import checkerboard
from .laplace_tables import LaplaceRows

# (rows of the pass, the pass's channels, positions (P,) flat in h*w) -> symbols (P*G,) position-major
FastStep = Callable[[LaplaceRows, slice, np.ndarray], np.ndarray]


class FastTables:
    """Version 5: the fast prior, its passes and its Laplace tables."""

    def __init__(self, prior: FastPrior, tile_batch: int | None = None):
        self.prior, self.tile_batch = prior, tile_batch
        self._last: tuple[int, torch.Tensor, torch.Tensor] | None = None  # (quality, prev, its context)
        self._rows: dict[int, tuple] = {}  # pass index -> (ctx, pos, inputs, tables) of its last run

    @torch.inference_mode()
    def context(self, prev: torch.Tensor, quality: int) -> torch.Tensor:
        """The prior's context of prev (C, h, w) -> (dim, h, w): its transformer over
        the previous latent frame, the heaviest part of a latent frame's coding.
        The last one is kept: the encoder codes a predicted step a second time
        against the same prev when it keeps tiles of its prediction
        (modes/predicted.py), and the same tokens and quality give the same
        context (compared in full, not by identity)."""
        last = self._last  # one read: another thread may replace it
        if last is not None and last[0] == quality and last[1].shape == prev.shape and torch.equal(last[1], prev):
            return last[2]
        ctx = self.prior.context(prev, quality, self.tile_batch)
        self._last = (quality, prev.clone(), ctx)
        return ctx

    @torch.inference_mode()
    def code_latent_frame(self, prev: torch.Tensor, quality: int, step: FastStep,
                          skip: np.ndarray | None = None) -> torch.Tensor:
        """prev (C, h, w) int64 tokens of the previous latent frame (MASK where
        absent) -> this frame's tokens (C, h, w), coded or decoded by `step`.

        skip (h, w) bool or None: positions whose tokens both sides know to be
        the zero symbol (format v8: the tiles of a predicted step that keep the
        prediction). They are not coded; they enter the passes as zeros, as
        coded zeros would (a value of 0 either way), so the tables of the other
        positions are the ones a coding of every position computes."""
        P = self.prior
        C, h, w = prev.shape
        ctx = self.context(prev, quality)  # (dim, h, w)
        prev_v = P.values(prev)  # (C, h, w)
        cur = torch.full_like(prev, P.mask_index)
        board = checkerboard(h, w, prev.device).reshape(-1)
        positions = [torch.nonzero(board == bool(p)).reshape(-1) for p in (0, 1)]
        coded = None
        if skip is not None and skip.any():
            known = torch.from_numpy(np.ascontiguousarray(skip).reshape(-1)).to(prev.device)  # (h*w,)
            cur.view(C, -1)[:, known] = P.half  # the zero symbol: the next frame's context sees it
            coded = [~known[pos] for pos in positions]  # (P,) per parity: the positions still coded
        for index, a, b, parity in P.schedule():
            pos, here = positions[parity], None if coded is None else coded[parity]
            if pos.numel() == 0 or (here is not None and not here.any()):
                continue
            tables = self._pass(index, ctx, cur, prev_v, pos, here)  # base, k, m, j: (P, G) each
            pos = pos if here is None else pos[here]
            rows = LaplaceRows(*(t.cpu().numpy() for t in tables), P.K)
            sym = step(rows, slice(a, b), pos.cpu().numpy())  # (P*G,) position-major
            sym = torch.from_numpy(np.ascontiguousarray(sym)).to(cur.device).view(-1, b - a).t()
            cur[a:b].reshape(b - a, -1)[:, pos] = sym
        return cur

    def _pass(self, index: int, ctx: torch.Tensor, cur: torch.Tensor, prev_v: torch.Tensor,
              pos: torch.Tensor, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The pass's tables (FastPrior.pass_tables). When the pass last ran on the
        same context (the cached one: same prev and quality) at the same positions,
        only the rows whose symbol inputs changed are recomputed: the encoder codes
        a predicted step again after zeroing the tokens of the tiles it keeps
        (modes/predicted.py), which changes the inputs there and next to them
        only. Rows are independent (FastPrior.pass_rows), so the tables are the
        ones a full run gives; tests/test_fast_prior.py compares them.

        rows (P,) bool or None: only these positions' tables are wanted (format
        v8 codes no token of a kept tile). After a run at every position of the
        pass (the encoder's first coding) they come from the cached rows as
        above; otherwise (a decoder) only they are computed."""
        P = self.prior
        last = self._rows.get(index)
        if rows is not None and not (last is not None and last[0] is ctx and torch.equal(last[1], pos)):
            return P.pass_tables(index, ctx, cur, prev_v, pos[rows])
        self._keep(index, ctx, pos, P.pass_inputs(cur, prev_v, pos), last)  # (P, 3C) inputs
        tables = self._rows[index][3]
        return tables if rows is None else tuple(t[rows] for t in tables)

    def _keep(self, index: int, ctx: torch.Tensor, pos: torch.Tensor, sym: torch.Tensor, last) -> None:
        """The pass's tables at every position pos, recomputing only the rows whose
        inputs sym (P, 3C) differ from the last run's, into self._rows[index]."""
        P = self.prior
        if last is not None and last[0] is ctx and torch.equal(last[1], pos):
            changed = torch.nonzero((sym != last[2]).any(1)).reshape(-1)
            tables = tuple(t.clone() for t in last[3])
            if changed.numel():
                ctx_c = ctx.reshape(ctx.shape[0], -1)[:, pos[changed]].t().contiguous()
                for t, new in zip(tables, P.pass_rows(index, ctx_c, sym[changed])):
                    t[changed] = new
        else:
            tables = P.pass_rows(index, ctx.reshape(ctx.shape[0], -1)[:, pos].t().contiguous(), sym)
        self._rows[index] = (ctx, pos, sym, tables)
