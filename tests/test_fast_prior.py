"""fast_prior.py, fast_schedule.py, laplace_tables.py: format v5. Golden streams,
exact round trips, tables the same everywhere, the training loss is the code
length, and clear errors where a stream and a model's prior do not match."""
from __future__ import annotations

import hashlib
import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from vqcodec.api import compress, decompress
from vqcodec.coding import laplace_tables as lt
from vqcodec.coding.cdf import TOTAL
from vqcodec.coding.range_coder import RangeDecoder, RangeEncoder
from vqcodec.errors import CodecError, EntropyCodingError
from vqcodec.format.container import StreamHeader
from vqcodec.models import laplace
from vqcodec.models.fast_prior import channel_groups
from vqcodec.stream import StreamEncoder

EXPECTED = Path(__file__).resolve().parent / "expected"


@pytest.fixture(scope="module")
def fast_codec():
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / "tiny_fast.json"))
    codec.use_rounding(0)
    return codec


def _compress(codec, frames, quality=2, **kw) -> bytes:
    buf = io.BytesIO()
    compress(iter(frames), buf, frames.shape[2], frames.shape[1], Fraction(25), quality, model=codec, **kw)
    return buf.getvalue()


def _decompress(codec, data: bytes) -> np.ndarray:
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


# ------------------------------------------------------------------ streams
def test_golden_streams(fast_codec, tiny_frames):
    from make_expected import LOWLATENCY_KEYINT, SCALAR_RDO_LAMBDA, lowlatency_stream

    data = _compress(fast_codec, tiny_frames)
    assert StreamHeader.read(io.BytesIO(data)).version == 5
    assert data == (EXPECTED / "tiny_fast_q2.vqv").read_bytes()
    assert lowlatency_stream(fast_codec, tiny_frames) == (EXPECTED / "tiny_fast_lowlatency_q2.vqv").read_bytes()
    try:
        fast_codec.use_rounding(SCALAR_RDO_LAMBDA)
        rdo = _compress(fast_codec, tiny_frames)
    finally:
        fast_codec.use_rounding(0)
    assert rdo == (EXPECTED / "tiny_fast_q2_rdo.vqv").read_bytes() and rdo != data
    assert LOWLATENCY_KEYINT == 4


@pytest.mark.parametrize("quality", [1, 2])
def test_stream_decodes_to_the_direct_reconstruction(fast_codec, tiny_frames, quality):
    data = _compress(fast_codec, tiny_frames, quality)
    tokens = fast_codec.encode_tokens(fast_codec.padded(tiny_frames[:8]), quality)
    assert np.array_equal(_decompress(fast_codec, data)[:8], fast_codec.decode_tokens(tokens, quality)[:8])


def test_payload_round_trip_is_exact_with_rdo_write_back(fast_codec, tiny_frames):
    """RDO changes symbols while coding; the written-back tokens are what decodes."""
    fast_codec.use_rounding(1.0)
    try:
        tokens, latents = fast_codec.quantize(fast_codec.padded(tiny_frames[:8]), 2)
    finally:
        fast_codec.use_rounding(0)
    assert latents is not None
    tokens = tokens.copy()
    prev = fast_codec.empty_context(tokens.shape[2], tokens.shape[3])
    fast_codec.use_rounding(1.0)
    try:
        payload, ideal, nxt = fast_codec.encode_payload(tokens, prev, 5, 2, latents)
    finally:
        fast_codec.use_rounding(0)
    back, nxt2 = fast_codec.decode_payload(payload, tokens.shape[0], 2, prev, 5)
    assert np.array_equal(back, tokens) and torch.equal(nxt, nxt2)
    assert abs(len(payload) * 8 - ideal) < 0.02 * ideal + 64  # the range coder spends what the tables say


def test_streams_do_not_depend_on_threads_tile_batch_or_engine(fast_codec, tiny_frames, monkeypatch):
    from vqcodec import load_codec

    want = _compress(fast_codec, tiny_frames)
    one = load_codec(str(EXPECTED / "models" / "tiny_fast.json"))
    one.use_rounding(0)
    one.tile_batch = 1
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _compress(one, tiny_frames) == want
    finally:
        torch.set_num_threads(threads)
    real = torch.Tensor.__matmul__
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: real(a.double(), b.double()).float())
    assert _compress(fast_codec, tiny_frames) == want
    assert np.array_equal(_decompress(fast_codec, want), _decompress(one, want))


# ----------------------------------------------------- models and versions
def test_float_arithmetic_and_wrong_priors_are_refused(fast_codec, tiny_codec, tiny_frames):
    with pytest.raises(CodecError, match="fast prior computes in integer arithmetic only"):
        StreamEncoder(64, 48, 25, 2, model=fast_codec, arithmetic="float")
    v4 = (EXPECTED / "tiny_q2.vqv").read_bytes()
    v5 = (EXPECTED / "tiny_fast_q2.vqv").read_bytes()
    with pytest.raises(CodecError):
        _decompress(fast_codec, v4)
    with pytest.raises(CodecError):
        _decompress(tiny_codec, v5)
    header = StreamHeader.read(io.BytesIO(v5))
    from dataclasses import replace
    forged = replace(header, model_name=tiny_codec.model_id.name, weights_sha256=tiny_codec.model_id.sha256)
    with pytest.raises(CodecError, match="coded with the fast prior; model 'tiny' has the transformer prior"):
        tiny_codec.check_header(forged)


def test_channel_groups():
    assert channel_groups((), 64) == [(0, 16), (16, 64)]
    assert channel_groups((2, 6), 8) == [(0, 2), (2, 8)]
    with pytest.raises(ValueError, match="summing to 8"):
        channel_groups((3, 3), 8)


def test_training_loss_is_the_code_length(fast_codec, tiny_frames):
    """training_loss (what `vqcodec train` minimises) and the coder's ideal bits agree."""
    prior = fast_codec.prior
    tokens = torch.from_numpy(fast_codec.encode_tokens(fast_codec.padded(tiny_frames[:8]), 2))  # (T', C, h, w)
    mask = torch.full_like(tokens[:1], prior.mask_index)
    prev = torch.cat([mask, tokens[:-1]])
    with torch.no_grad():
        prior.train()
        try:
            bits = prior.training_loss(tokens, prev, torch.zeros(len(tokens)), torch.full((len(tokens),), 2))
        finally:
            prior.train(False)
            fast_codec.reset_tables()
    _, ideal, _ = fast_codec.encode_payload(tokens.numpy().copy(), fast_codec.empty_context(*tokens.shape[2:]), 5, 2)
    assert abs(bits.item() * tokens.numel() - ideal) < 0.03 * ideal


# ------------------------------------------------------------------ tables
def test_laplace_tables_are_pinned():
    f = lt.frequencies()
    assert f.shape == (laplace.SCALES, lt.ALPHABET)
    assert (f.sum(1) == TOTAL).all() and f.min() >= 1
    assert (np.argmax(f, 1) == lt.RADIUS).all()  # zero-mean: the residual 0 is the most likely
    assert hashlib.sha256(f.tobytes()).hexdigest()[:16] == "fae1c927a389d2fc"


def test_scale_index_is_monotone_and_clamped():
    l = torch.linspace(-10, 10, 1001)
    j = laplace.scale_index(l)
    assert j[0] == 0 and j[-1] == laplace.SCALES - 1 and bool((j[1:] >= j[:-1]).all())


def test_flag_tables_are_pinned():
    f = lt.flag_frequencies()
    assert f.shape == (laplace.FLAGS, 2) and (f.sum(1) == TOTAL).all() and f.min() >= 1
    assert f[laplace.FLAGS // 2, 0] == f[laplace.FLAGS // 2, 1] and bool((np.diff(f[:, 1]) > 0).all())


def test_laplace_rows_round_trip_and_refuse_impossible_symbols():
    rng = np.random.default_rng(0)
    n, K = 500, 128
    base = rng.integers(0, K, n)
    k = rng.integers(0, laplace.FLAGS, n)
    m = rng.integers(-64, 64, n)
    j = rng.integers(0, laplace.SCALES, n)
    sym = np.where(rng.random(n) < 0.5, base, np.clip(m + 64 + rng.integers(-3, 4, n), 0, K - 1))
    rows = lt.LaplaceRows(base, k, m, j, K)
    enc = RangeEncoder()
    rows.encode(enc, sym)
    data = enc.finish()
    assert np.array_equal(rows.decode(RangeDecoder(data)), sym)
    assert abs(len(data) * 8 - rows.ideal_bits(sym)) < 64
    # the tables give every residual -127..127 a code; one that lands outside 0..K-1 is damage
    far = lt.LaplaceRows(np.array([0]), np.array([0]), np.array([63]), np.array([laplace.SCALES - 1]), K)
    enc = RangeEncoder()
    enc.encode_with(np.array([0], dtype=np.int32), lt._flag_models()[0])  # "not equal to the base"
    enc.encode_with(np.array([lt.RADIUS + 60], dtype=np.int32), lt._models()[laplace.SCALES - 1])
    with pytest.raises(EntropyCodingError, match="outside the alphabet"):
        far.decode(RangeDecoder(enc.finish()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_encoded_on_cuda_decodes_on_cpu_and_back(tiny_frames):
    """8-bit exact products give the same tables on both devices: each stream decodes
    on the other (token CRCs pass) and the streams are the same bytes."""
    from vqcodec import load_codec

    path = str(EXPECTED / "models" / "tiny_fast.json")
    cpu, gpu = load_codec(path), load_codec(path, "cuda")
    cpu.use_rounding(0), gpu.use_rounding(0)
    on_cpu, on_gpu = _compress(cpu, tiny_frames), _compress(gpu, tiny_frames)
    assert _decompress(cpu, on_gpu).shape == _decompress(gpu, on_cpu).shape == tiny_frames.shape
    assert np.abs(_decompress(cpu, on_gpu).astype(int) - _decompress(gpu, on_gpu).astype(int)).max() <= 2


@pytest.mark.parametrize("content", ["all zero", "none zero", "mixed tiles"])
def test_payload_round_trip_whatever_the_tokens(fast_codec, content):
    """Every token the zero symbol (all flags 'equals its base'), none of them (every
    token needs its residual), and tiles of each side by side, over 3 latent frames."""
    K, C = fast_codec.config.quantizer.codebook_size, fast_codec.config.quantizer.planes
    rng = np.random.default_rng(1)
    shape = (3, C, 8, 12)
    zero = np.full(shape, K // 2, dtype=np.int64)
    busy = rng.integers(0, K - 1, shape)
    busy = np.where(busy >= K // 2, busy + 1, busy)  # never the zero symbol
    tokens = {"all zero": zero, "none zero": busy,
              "mixed tiles": np.where((np.arange(12) // 4 % 2 == 0)[None, None, None], zero, busy)}[content]
    prev = fast_codec.empty_context(8, 12)
    payload, ideal, nxt = fast_codec.encode_payload(tokens.copy(), prev, 5, 2)
    back, nxt2 = fast_codec.decode_payload(payload, 3, 2, prev, 5)
    assert np.array_equal(back, tokens) and torch.equal(nxt, nxt2)
    if content == "none zero":  # every token pays a residual: dearer than flags alone (random tiny model)
        assert len(payload) > len(fast_codec.encode_payload(zero.copy(), prev, 5, 2)[0])


def _random_context_and_frame(codec, seed: int, h: int = 8, w: int = 8):
    """A random previous frame (planes, h, w) as a torch context and a random
    frame of tokens near the zero symbol -> (prev, frame, K)."""
    rng = np.random.default_rng(seed)
    K = codec.config.quantizer.codebook_size
    prev = torch.from_numpy(rng.integers(K // 2 - 3, K // 2 + 3, (codec.config.quantizer.planes, h, w)))
    return prev, rng.integers(K // 2 - 3, K // 2 + 3, (codec.planes_at(2), h, w)), K


def test_the_kept_context_codes_what_fresh_tables_code(fast_codec):
    """FastTables keeps the context of the last prev (the encoder codes a step
    twice against it): coding against it again, or against a prev that differs
    in one token, gives what tables that never saw it give."""
    from vqcodec.coding.fast_schedule import FastTables

    prev, frame, K = _random_context_and_frame(fast_codec, 5, h=6)

    def code(tables, p):
        enc = RangeEncoder()
        fast_codec._integer = tables
        bits, _ = fast_codec.encode_frame(enc, frame.copy(), p, fast_codec.version_for(), 2)
        return bits, enc.finish()

    kept = FastTables(fast_codec.prior)
    first = code(kept, prev)
    assert code(kept, prev) == first == code(FastTables(fast_codec.prior), prev)
    changed = prev.clone()
    changed[0, 0, 0] = K // 2 + 4
    assert code(kept, changed) == code(FastTables(fast_codec.prior), changed)
    assert kept.context(changed, 2) is kept.context(changed, 2)
    assert not torch.equal(kept.context(prev, 2), kept.context(changed, 2))
    fast_codec.reset_tables()


def test_kept_rows_recomputed_only_where_inputs_changed_code_what_fresh_tables_code(fast_codec):
    """A frame coded again against the same prev after some of its tokens
    changed (the encoder zeroes the tiles it keeps) reuses the pass rows whose
    inputs did not change: the bits and bytes are those of fresh tables, and the
    rows of the second run are recomputed only near the changed tokens."""
    from vqcodec.coding.fast_schedule import FastTables

    prev, frame, K = _random_context_and_frame(fast_codec, 9)
    zeroed = frame.copy()
    zeroed[:, :4, :4] = K // 2  # a kept tile: its tokens set to the zero symbol

    def code(tables, f):
        enc = RangeEncoder()
        fast_codec._integer = tables
        bits, ctx = fast_codec.encode_frame(enc, f.copy(), prev, fast_codec.version_for(), 2)
        return bits, enc.finish(), ctx

    computed = []
    kept = FastTables(fast_codec.prior)
    real = fast_codec.prior.pass_rows

    def counting(index, ctx_p, sym):
        computed.append(sym.shape[0])
        return real(index, ctx_p, sym)

    try:
        code(kept, frame)
        fast_codec.prior.pass_rows = counting
        again = code(kept, zeroed)
    finally:
        del fast_codec.prior.pass_rows
    fresh = code(FastTables(fast_codec.prior), zeroed)
    assert again[:2] == fresh[:2] and torch.equal(again[2], fresh[2])
    assert 0 < sum(computed) < 4 * 32  # 4 passes of 32 positions: only rows near the zeroed tile
    assert code(kept, frame)[:2] == code(FastTables(fast_codec.prior), frame)[:2]
    fast_codec.reset_tables()


def test_positions_left_out_are_known_zeros_and_the_rest_code_as_before(fast_codec):
    """Format v8 leaves the kept tiles' positions out of the range coder: the
    other positions get exactly the tables a coding of every position gives
    (with the encoder's kept rows or fresh, as a decoder computes them), the
    payload is shorter, the decoder returns the zero symbol there, and the
    context for the next frame is the one the full coding leaves."""
    from vqcodec.coding.fast_schedule import FastTables
    from vqcodec.coding.range_coder import RangeDecoder

    prev, frame, K = _random_context_and_frame(fast_codec, 11)
    skip = np.zeros((8, 8), bool)
    skip[:4, :4] = skip[6:, 2:5] = True
    zeroed = np.where(skip[None], K // 2, frame)

    def code(tables, f, left_out=None):
        rows = {}
        enc, fast_codec._integer = RangeEncoder(), tables
        real = tables.code_latent_frame

        def recording(p, q, step, sk=None):
            def rec(r, planes_, pos):
                per = [t.reshape(len(pos), -1) for t in (r.base, r.k, r.m, r.j)]  # (P, G) each
                for i, at in enumerate(pos):  # per position: (base, flag, mean, scale) of its channels
                    rows[(planes_.start, int(at))] = tuple(t[i].copy() for t in per)
                return step(r, planes_, pos)
            return real(p, q, rec, sk)
        tables.code_latent_frame = recording
        try:
            bits, ctx = fast_codec.encode_frame(enc, f.copy(), prev, fast_codec.version_for(), 2, skip=left_out)
        finally:
            del tables.code_latent_frame
        return bits, enc.finish(), ctx, rows

    full = code(FastTables(fast_codec.prior), zeroed)
    kept = FastTables(fast_codec.prior)
    code(kept, frame)  # the encoder's first coding, then the second with the tiles left out
    again = code(kept, zeroed, skip)
    fresh = code(FastTables(fast_codec.prior), zeroed, skip)
    assert again[:2] == fresh[:2] and torch.equal(again[2], full[2]) and torch.equal(fresh[2], full[2])
    assert len(fresh[1]) < len(full[1]) and fresh[0] < full[0]
    flat = np.flatnonzero(skip.reshape(-1))
    assert fresh[3] and not any(at in flat for _, at in fresh[3])
    for key, value in fresh[3].items():  # the coded positions' tables are the full coding's
        assert all(np.array_equal(x, y) for x, y in zip(value, full[3][key])) and key in again[3]
    fast_codec._integer = FastTables(fast_codec.prior)
    tokens, ctx = fast_codec.decode_frame(RangeDecoder(fresh[1]), prev, 2, fast_codec.version_for(), skip=skip)
    assert np.array_equal(tokens, zeroed) and torch.equal(ctx, full[2])
    where = np.zeros((8, 8))  # each position's code length: the tile choice's prices
    bits, _ = fast_codec.encode_frame(RangeEncoder(), zeroed.copy(), prev, fast_codec.version_for(), 2,
                                      skip=skip, position_bits=where)
    assert bits == pytest.approx(fresh[0]) and where.sum() == pytest.approx(bits)
    assert (where[skip] == 0).all() and (where[~skip] > 0).all()
    fast_codec.reset_tables()


def test_pass_inputs_are_the_features_at_the_pass_positions(fast_codec):
    """pass_inputs gathers [cur, nbr, prev] at a pass's positions without building
    the whole feature map: the same values as features() there, MASK tokens,
    frame edges and one-position-wide grids included."""
    from vqcodec.models.prior import checkerboard

    P = fast_codec.prior
    g = torch.Generator().manual_seed(3)
    for h, w in ((6, 8), (5, 7), (1, 6), (4, 1)):
        cur = torch.randint(0, P.K + 1, (P.planes, h, w), generator=g)  # P.K: MASK (not yet decoded)
        prev_v = P.values(torch.randint(0, P.K, (P.planes, h, w), generator=g))
        board = checkerboard(h, w, cur.device).reshape(-1)
        for parity in (0, 1):
            pos = torch.nonzero(board == bool(parity)).reshape(-1)
            if pos.numel() == 0:
                continue
            full = P.features(P.values(cur)[None], prev_v[None])[0].reshape(3 * P.planes, -1)
            assert torch.equal(P.pass_inputs(cur, prev_v, pos), full[:, pos].t())
