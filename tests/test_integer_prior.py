"""integer_prior.py: the format-v4 probability path. It follows the float prior, and its
integers do not move with the summation engine, the thread count, the tile batch or
the device; the float arithmetic stays available as format v3."""
from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest
import torch

from vqcodec.coding import cdf
from vqcodec.coding import fixed_point as fx
from vqcodec.format.container import StreamHeader
from vqcodec.coding.integer_prior import IntegerPrior
from vqcodec.stream import StreamEncoder
from vqcodec.api import decompress


@pytest.fixture(scope="module")
def default_codec():
    """The previous shipped default (transformer prior, format v4), kept for its streams."""
    from vqcodec import load_codec
    from vqcodec.zoo import LEGACY_WEIGHTS

    return load_codec(str(LEGACY_WEIGHTS / "default-v4.json"))


def _inputs(prior, batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    S = prior.cfg.tile ** 2
    # planes: RVQ levels or scalar channels; groups: every (quality context, kind, level, parity)
    cur = torch.randint(0, prior.K + 1, (batch, prior.planes, S), generator=g)
    prev = torch.randint(0, prior.K + 1, (batch, prior.planes, S), generator=g)
    return cur, prev, torch.randint(0, prior.group_emb.num_embeddings, (batch,), generator=g)


@pytest.mark.parametrize("which", ["tiny", "default"])
def test_integer_logits_follow_the_float_prior(which, tiny_codec, default_codec):
    prior = (tiny_codec if which == "tiny" else default_codec).prior
    cur, prev, group = _inputs(prior, 6)
    with torch.inference_mode():
        want = prior(cur, prev, group).double()
    got = IntegerPrior(prior)(cur, prev, group)
    assert got.dtype == torch.int64
    assert (got.double() / 2 ** fx.FRAC - want).abs().max() < 5e-3
    steps_f = cdf.quantize_logits(want.reshape(-1, prior.K).float().numpy())
    steps_i = cdf.steps_from_fixed(got.reshape(-1, prior.K).numpy(), fx.FRAC)
    assert np.abs(steps_f - steps_i).max() <= 2 and (steps_f == steps_i).mean() > 0.98


def _int64_engine(a, b):
    return torch.matmul(a, b)


def _chunked_engine(a, b):  # another summation order: four partial products, added last to first
    parts = [torch.matmul(x.double(), y.double()) for x, y in
             zip(a.chunk(4, dim=-1), b.chunk(4, dim=-2))]
    return sum(reversed(parts)).long()


@pytest.mark.parametrize("engine", [_int64_engine, _chunked_engine])
def test_integers_do_not_depend_on_the_summation_engine(monkeypatch, default_codec, engine):
    ip = IntegerPrior(default_codec.prior)
    cur, prev, group = _inputs(default_codec.prior, 5, seed=1)
    want = ip(cur, prev, group)
    monkeypatch.setattr(fx, "MATMUL_ENGINE", engine)
    assert torch.equal(ip(cur, prev, group), want)


def test_integers_do_not_depend_on_threads_or_batching(default_codec):
    ip = IntegerPrior(default_codec.prior)
    cur, prev, group = _inputs(default_codec.prior, 7, seed=2)
    want = ip(cur, prev, group)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ip(cur, prev, group)
    finally:
        torch.set_num_threads(threads)
    split = torch.cat([ip(cur[i:i + 2], prev[i:i + 2], group[i:i + 2]) for i in range(0, 7, 2)])
    assert torch.equal(one, want) and torch.equal(split, want)


def _compress(codec, frames, **kw) -> bytes:
    buf = io.BytesIO()
    StreamEncoder(frames.shape[2], frames.shape[1], Fraction(25), 2, mode="full", model=codec, **kw) \
        .write(iter(frames), buf)
    return buf.getvalue()


def _decode(codec, data: bytes) -> np.ndarray:
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


def test_stream_made_with_one_engine_decodes_with_another(monkeypatch, tiny_codec, tiny_frames):
    data = _compress(tiny_codec, tiny_frames)
    frames = _decode(tiny_codec, data)
    monkeypatch.setattr(fx, "MATMUL_ENGINE", _int64_engine)
    assert np.array_equal(_decode(tiny_codec, data), frames)
    assert _compress(tiny_codec, tiny_frames) == data


def test_float_arithmetic_writes_version_3_and_costs_the_same_rate(tiny_codec, tiny_frames):
    integer = _compress(tiny_codec, tiny_frames)
    floating = _compress(tiny_codec, tiny_frames, arithmetic="float")
    assert StreamHeader.read(io.BytesIO(integer)).version == 4
    assert StreamHeader.read(io.BytesIO(floating)).version == 3
    assert np.array_equal(_decode(tiny_codec, integer), _decode(tiny_codec, floating))
    assert abs(len(integer) - len(floating)) <= 0.01 * len(floating) + 4
    with pytest.raises(ValueError, match="unknown prior arithmetic 'fast'"):
        StreamEncoder(64, 48, 25, 2, model=tiny_codec, arithmetic="fast")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_encoded_on_cuda_decodes_on_cpu_and_back(tiny_model, tiny_frames):
    """The prior's integers are the same on both devices, so each stream decodes on the
    other (token CRCs pass). Pixels come from the float synthesis network: compared,
    not required equal (report the difference)."""
    from vqcodec import load_codec

    cpu, gpu = load_codec(tiny_model), load_codec(tiny_model, "cuda")
    ip = IntegerPrior(cpu.prior)
    cur, prev, group = _inputs(cpu.prior, 4)
    on_gpu = IntegerPrior(cpu.prior).to("cuda")(cur.cuda(), prev.cuda(), group.cuda()).cpu()
    assert torch.equal(on_gpu, ip(cur, prev, group))
    for enc, dec in ((gpu, cpu), (cpu, gpu)):
        data = _compress(enc, tiny_frames)
        there, here = _decode(dec, data), _decode(enc, data)
        assert there.shape == here.shape
        assert np.abs(there.astype(int) - here.astype(int)).max() <= 2
