"""motion/workers.py: the motion code's jobs in threads give exactly what they
give on one thread, in order, and nested or failing jobs neither hang nor hide."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from vqcodec.bench.scenes import pan_scene
from vqcodec.motion import compensation as motion
from vqcodec.motion import workers
from vqcodec.motion.prediction import predict, refine


@pytest.fixture
def threaded(monkeypatch):
    """Threads for every job, whatever its size, on 2 threads."""
    monkeypatch.setattr(workers, "MIN_PIXELS", 0)
    monkeypatch.setattr(workers, "threads", lambda: 2)


def test_pmap_keeps_the_order_and_uses_other_threads(threaded):
    names = set()

    def job(i):
        names.add(threading.current_thread().name)
        return i * i

    assert workers.pmap(job, range(7), 10**6) == [i * i for i in range(7)]
    assert len(names) == 2  # the caller's thread and one of the pool's


def test_small_jobs_and_one_thread_stay_on_the_calling_thread(monkeypatch):
    me = threading.current_thread().name
    seen = []
    workers.pmap(lambda i: seen.append(threading.current_thread().name), range(4), workers.MIN_PIXELS - 1)
    monkeypatch.setattr(workers, "threads", lambda: 1)
    workers.pmap(lambda i: seen.append(threading.current_thread().name), range(4), 10**7)
    assert set(seen) == {me}


def test_nested_jobs_run_inline_and_errors_reach_the_caller(threaded):
    out = workers.pmap(lambda i: workers.pmap(lambda j: (i, j), range(3), 10**6), range(4), 10**6)
    assert out == [[(i, j) for j in range(3)] for i in range(4)]

    def fail(i):
        if i == 3:
            raise ValueError("job 3 failed")
        return i

    with pytest.raises(ValueError, match="job 3 failed"):
        workers.pmap(fail, range(4), 10**6)


def test_search_refine_and_warps_are_the_same_on_two_threads(monkeypatch):
    frames = pan_scene(3, 96, 64)
    src, last = motion.luma(frames[0]), frames[2]

    def run():
        field = motion.estimate(motion.luma(last), src, block=16, bias=64)
        fine = refine(src, last, field, 16, 4)
        planes = motion.phase_planes(src, 4)
        return field, fine, planes, predict(frames[0], fine, 2, 16, 4), predict(frames[0], field, 2, 16)

    alone = run()
    monkeypatch.setattr(workers, "MIN_PIXELS", 0)
    monkeypatch.setattr(workers, "threads", lambda: 2)
    together = run()
    assert alone[0].any() and alone[1].any()  # the pan moved: real vectors, real sub-pixel work
    for a, b in zip(alone, together):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_threads_follow_torch():
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert workers.threads() == 1
    finally:
        torch.set_num_threads(old)
