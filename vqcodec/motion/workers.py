"""The motion code's independent jobs (candidate vectors, frames to warp,
phase planes) run on the cores torch is allowed, in threads.

Why threads: the search and the warps are numpy, which runs on one core while
the second one idles (the networks run on both); numpy lets go of the GIL in
its loops, so two threads on two cores nearly halve a warp at 352x288 (12.6
-> 5.9 ms for a step's two frames, quarter pixels; a scratch timing of 20
runs). Below MIN_PIXELS the hand-over costs more than it saves (176x144:
2.6 -> 3.6 ms), so small frames stay on the calling thread.

Exactness: every job computes exactly what it computed alone (integers, or
sums of integers), and pmap returns the results in the order of the items, so
fields and predictions do not depend on the thread count; the golden streams
check it.

How many: torch.get_num_threads() (the CLI's and the batch workers' setting,
1 = no threads). A job that itself calls pmap runs its items inline (no job
ever waits on the pool, so the pool cannot deadlock).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import numpy as np

import torch

T = TypeVar("T")
R = TypeVar("R")

MIN_PIXELS = 50_000  # pixels an item works on, below which pmap stays on one thread
STACK_PIXELS = 1 << 20  # pixels one pstack slice works on at most (its index arrays: a few MB)

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_state = threading.local()  # .busy: this thread is running a pmap job


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                       thread_name_prefix="vqcodec-motion")
        return _pool


def threads() -> int:
    """How many threads pmap may use: torch's setting."""
    return max(1, torch.get_num_threads())


def _run(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    busy = getattr(_state, "busy", False)
    _state.busy = True
    try:
        return [fn(x) for x in chunk]
    finally:
        _state.busy = busy


def pmap(fn: Callable[[T], R], items: Iterable[T], pixels: int) -> list[R]:
    """[fn(x) for x in items], split over threads() threads (the caller's own
    thread takes the first share) when each item works on at least MIN_PIXELS
    pixels."""
    items = list(items)
    n = min(threads(), len(items))
    if n < 2 or pixels < MIN_PIXELS or getattr(_state, "busy", False):
        return [fn(x) for x in items]
    bounds = [len(items) * i // n for i in range(n + 1)]
    chunks = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    futures = [_executor().submit(_run, fn, c) for c in chunks[1:]]
    out = _run(fn, chunks[0])
    for f in futures:
        out.extend(f.result())
    return out


def pstack(fn: Callable[[np.ndarray], np.ndarray], stack: np.ndarray, pixels: int) -> np.ndarray:
    """fn over a stack of items (n, ...) -> (n, ...): fn takes and returns stacks,
    so small items (candidate fields of a small frame) go in one call instead of
    n; slices of at most STACK_PIXELS pixels (pixels: per item), one per thread
    at least when the items are big, run by pmap."""
    n = len(stack)
    per = max(1, min(n, STACK_PIXELS // max(1, pixels)))
    if pixels >= MIN_PIXELS:
        per = min(per, -(-n // threads()))
    slices = [stack[i:i + per] for i in range(0, n, per)]
    return np.concatenate(pmap(fn, slices, pixels * per))
