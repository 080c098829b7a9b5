"""codec.py: whole-stream round trips, golden bytes, padding, and decoding
that does not depend on the torch thread count or the prior's tile batch."""
import io
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import _tiny_pattern, rising, stream_bytes_per_quality
from vqcodec.errors import CodecError
from vqcodec.format.container import ContainerError, StreamHeader
from vqcodec.api import compress, decompress
from vqcodec.modes.full import FullMode

EXPECTED = Path(__file__).resolve().parent / "expected"


def _compress(codec, frames, quality, fps=Fraction(25)):
    buf = io.BytesIO()
    stats = compress(iter(frames), buf, frames.shape[2], frames.shape[1], fps, quality, model=codec)
    return buf.getvalue(), stats


def _decompress(codec, data):
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


def test_round_trip_every_quality(tiny_codec, tiny_frames):
    for q in tiny_codec.qualities:
        data, stats = _compress(tiny_codec, tiny_frames, q)
        out = _decompress(tiny_codec, data)
        assert out.shape == tiny_frames.shape and out.dtype == np.uint8
        # decoding is the autoencoder applied to the coded tokens, exactly
        assert stats.bytes == len(data)
        assert stats.frames == 12 and stats.quality == q
        assert stats.payload_bits <= stats.ideal_bits * 1.02 + 32 * 3 + 64
        header = StreamHeader.read(io.BytesIO(data))
        assert header.frame_count == 12 and header.quality == q


def test_tokens_survive_the_stream(tiny_codec, tiny_frames):
    data, _ = _compress(tiny_codec, tiny_frames, 3)
    padded = tiny_codec.padded(tiny_frames[:4])
    direct = tiny_codec.decode_tokens(tiny_codec.encode_tokens(padded, 3))
    assert np.array_equal(_decompress(tiny_codec, data)[:4], direct[:4])


def _tokens_of(codec, data, monkeypatch) -> list[np.ndarray]:
    """The tokens (T', planes, h, w) of each packet of a stream, as decoded."""
    got, decode = [], codec.decode_tokens
    monkeypatch.setattr(codec, "decode_tokens", lambda tokens, *a, **k: got.append(tokens.copy()) or
                        decode(tokens, *a, **k))
    list(decompress(io.BytesIO(data), model=codec))
    monkeypatch.undo()
    return got


def test_golden_stream(tiny_codec, tiny_frames, monkeypatch):
    """The golden stream pins everything after the encoder's float analysis
    on every machine: its tokens, coded again, give its bytes exactly (prior,
    range coder, container). The analysis itself is float convolutions, whose
    last bits depend on the CPU (AVX-512 machines round a few latents that sit
    on a decision boundary the other way): a fresh encode here must agree
    with the golden tokens almost everywhere, and give the golden bytes
    wherever it agrees everywhere."""
    golden = (EXPECTED / "tiny_q2.vqv").read_bytes()
    assert _decompress(tiny_codec, golden).shape == tiny_frames.shape
    pinned = _tokens_of(tiny_codec, golden, monkeypatch)
    assert len(pinned) == 3  # 12 frames in GOPs of 4

    replay = iter(pinned)
    monkeypatch.setattr(tiny_codec, "quantize", lambda *a, **k: (next(replay), None))
    assert _compress(tiny_codec, tiny_frames, 2)[0] == golden
    monkeypatch.undo()

    data, _ = _compress(tiny_codec, tiny_frames, 2)
    fresh = _tokens_of(tiny_codec, data, monkeypatch)
    differ = sum(int((a != b).sum()) for a, b in zip(pinned, fresh, strict=True))
    assert differ <= 0.01 * sum(t.size for t in pinned), differ
    if differ == 0:
        assert data == golden


@pytest.mark.parametrize("old,version", [("tiny_q2_v1.vqv", 1), ("tiny_q2_v2.vqv", 2), ("tiny_q2_v3.vqv", 3)])
def test_older_goldens_still_decode_to_the_same_frames(tiny_codec, old, version):
    """v1-v3 were coded with the float prior, v4 with the integer prior: the
    tokens, so the frames, are the same."""
    data = (EXPECTED / old).read_bytes()
    current = (EXPECTED / "tiny_q2.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(data)).version == version
    assert StreamHeader.read(io.BytesIO(current)).version == 4
    assert np.array_equal(_decompress(tiny_codec, data), _decompress(tiny_codec, current))


def test_odd_sizes_and_short_last_gop(tiny_codec):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (7, 29, 37, 3), dtype=np.uint8)
    data, stats = _compress(tiny_codec, frames, 1)
    out = _decompress(tiny_codec, data)
    assert out.shape == frames.shape and stats.frames == 7


def test_unknown_count_on_a_pipe_gets_filled_in_when_seekable(tiny_codec, tiny_frames):
    buf = io.BytesIO()
    compress(iter(tiny_frames), buf, 64, 48, Fraction(25), 1, frame_count=None, model=tiny_codec)
    assert StreamHeader.read(io.BytesIO(buf.getvalue())).frame_count == 12


def test_bad_quality_and_frame_shape(tiny_codec, tiny_frames):
    with pytest.raises(CodecError, match="quality"):
        _compress(tiny_codec, tiny_frames, 9)
    with pytest.raises(CodecError, match="shape"):
        compress(iter(tiny_frames), io.BytesIO(), 60, 48, Fraction(25), 1, model=tiny_codec)


def test_corrupt_payload_is_a_clear_error(tiny_codec, tiny_frames):
    data = bytearray(_compress(tiny_codec, tiny_frames, 2)[0])
    start = StreamHeader.read(io.BytesIO(bytes(data))).size + 25
    data[start] ^= 0xFF
    with pytest.raises(ContainerError, match="CRC"):
        _decompress(tiny_codec, bytes(data))


def test_model_mismatch(tiny_codec, tiny_frames, tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from make_expected import make_tiny_model

    from vqcodec import compress, decompress, load_codec

    other = load_codec(str(make_tiny_model(tmp_path, seed=1)))
    data, _ = _compress(tiny_codec, tiny_frames, 1)
    with pytest.raises(CodecError, match="stream needs model"):
        _decompress(other, data)


_SCRIPT = textwrap.dedent(
    """
    import io, sys, numpy as np, torch
    from fractions import Fraction
    torch.set_num_threads(int(sys.argv[1]))
    from vqcodec import compress, decompress, load_codec
    codec = load_codec("default")
    if sys.argv[2] == "encode":
        rng = np.random.default_rng(0)
        t = np.arange(8)[:, None, None, None]
        y = np.arange(64)[None, :, None, None]
        x = np.arange(80)[None, None, :, None]
        frames = ((x * 2 + y + 5 * t + np.array([0, 60, 120])) % 256).astype(np.uint8)
        frames = np.clip(frames + rng.integers(0, 20, frames.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        compress(iter(frames), buf, 80, 64, Fraction(25), codec.qualities[-1], model=codec)
        open(sys.argv[3], "wb").write(buf.getvalue())
    else:
        out = np.stack(list(decompress(open(sys.argv[3], "rb"), model=codec)))
        np.save(sys.argv[4], out)
    """
)


def _run(*args):
    subprocess.run([sys.executable, "-c", _SCRIPT, *map(str, args)], check=True, timeout=600)


def test_thread_count_does_not_change_streams_or_frames(tmp_path):
    """Encode with 2 threads and with 1: same bytes. Decode each with 1 and
    with 2 threads: the same tokens (the prior's probabilities must not
    depend on the thread count; a mismatch fails the token CRC) and the same
    frames, up to one level in a rare pixel: the synthesis is float, and on
    AVX-512 CPUs MKL's sums depend on the thread count (there about 1 value
    in 10^5 rounds the other way; MKL_CBWR=AVX2 makes them identical and
    costs about 13 % of the speed). Uses the shipped model at realistic sizes."""
    s2, s1 = tmp_path / "t2.vqv", tmp_path / "t1.vqv"
    _run(2, "encode", s2)
    _run(1, "encode", s1)
    assert s2.read_bytes() == s1.read_bytes()
    _run(1, "decode", s2, tmp_path / "d1.npy")
    _run(2, "decode", s1, tmp_path / "d2.npy")
    d1, d2 = (np.load(tmp_path / n).astype(np.int16) for n in ("d1.npy", "d2.npy"))
    assert d1.shape == d2.shape == (8, 64, 80, 3)
    assert np.abs(d1 - d2).max() <= 1 and (d1 != d2).mean() < 1e-4


def test_decompress_honours_the_callers_limits(tiny_codec):
    from vqcodec.format.container import LimitExceeded, Limits

    golden = (EXPECTED / "tiny_q2.vqv").read_bytes()
    with pytest.raises(LimitExceeded, match="frame area 3072 exceeds the limit of 2000"):
        list(decompress(io.BytesIO(golden), limits=Limits(max_pixels=2000), model=tiny_codec))
    header = StreamHeader.read(io.BytesIO(golden))  # a header read with looser limits is rechecked
    with pytest.raises(LimitExceeded, match="frame area"):
        list(decompress(io.BytesIO(golden[header.size:]), tiny_codec, header=header, limits=Limits(max_pixels=2000)))


def test_tile_batch_does_not_change_streams_or_frames():
    """The prior's tiles go through in batches of any size: same bytes, same frames.
    Shipped model at 176x144 (9 tiles of 8x8 latents), quality 2."""
    from vqcodec import compress, decompress, load_codec

    codec = load_codec("default")
    rng = np.random.default_rng(1)
    frames = _tiny_pattern(8, 144, 176)
    frames = np.clip(frames + rng.integers(0, 12, frames.shape), 0, 255).astype(np.uint8)
    runs = {}
    for batch in (None, 1, 4):
        codec.tile_batch = batch
        data, _ = _compress(codec, frames, 2)
        runs[batch] = data, _decompress(codec, runs[None][0] if None in runs else data)
    assert runs[1][0] == runs[4][0] == runs[None][0]
    assert np.array_equal(runs[1][1], runs[None][1]) and np.array_equal(runs[4][1], runs[None][1])
    with pytest.raises(ValueError, match="tile_batch must be at least 1"):
        type(codec)(codec.config, codec.autoencoder, codec.quantizer, codec.prior, codec.model_id, "cpu", 0)


@pytest.mark.parametrize("clip", ["static", "bikes"])
def test_bits_fall_as_the_quality_falls(shipped_codec, ladder_clips, clip):
    """Issue 31: a lower quality never costs more bits. The shipped model, every quality,
    a still camera with moving objects and real footage (the low-latency mode's twin is
    in test_lowlatency.py)."""
    sizes = stream_bytes_per_quality(shipped_codec, ladder_clips[clip], "full")
    assert rising(sizes), f"stream bytes per quality: {sizes}"


# ------------------------------------------------ predictive (I/P) models
def _expected_model(name: str):
    from vqcodec import compress, decompress, load_codec

    return load_codec(str(EXPECTED / "models" / f"{name}.json"))


@pytest.fixture(scope="module")
def predictive_codec():
    return _expected_model("tiny_predictive")


def test_predictive_golden_stream(predictive_codec, tiny_frames, monkeypatch):
    """As test_golden_stream: the golden tokens, coded again, give the golden
    bytes; a fresh encode (float analysis) agrees with them almost everywhere."""
    golden = (EXPECTED / "tiny_predictive_q2.vqv").read_bytes()
    pinned = _tokens_of(predictive_codec, golden, monkeypatch)
    replay = iter(pinned)
    monkeypatch.setattr(predictive_codec, "quantize", lambda *a, **k: (next(replay), None))
    assert _compress(predictive_codec, tiny_frames, 2)[0] == golden
    monkeypatch.undo()

    data, _ = _compress(predictive_codec, tiny_frames, 2)
    fresh = _tokens_of(predictive_codec, data, monkeypatch)
    differ = sum(int((a != b).sum()) for a, b in zip(pinned, fresh, strict=True))
    assert differ <= 0.01 * sum(t.size for t in pinned), differ
    if differ == 0:
        assert data == golden


@pytest.mark.parametrize("quality", [1, 3])
def test_predictive_stream_decodes_to_the_direct_reconstruction(predictive_codec, tiny_frames, quality):
    """A GOP of 8 frames is 4 latent frames, I P P P: the stream carries the
    tokens of the closed loop and the decoder rebuilds the same chain."""
    codec = predictive_codec
    data, _ = _compress(codec, tiny_frames, quality)
    gop = codec.padded(tiny_frames[:8])
    tokens = codec.encode_tokens(gop, quality)
    assert tokens.shape[0] == 4
    assert np.array_equal(_decompress(codec, data)[:8], codec.decode_tokens(tokens)[:8])


def test_predictive_frames_use_the_p_groups_of_the_prior(predictive_codec):
    """Coding the same tokens as I or as P latent frames gives different
    probabilities: the prior is told the frame kind."""
    codec = predictive_codec
    kind = codec.config.quantizer.frame_kind
    assert kind(0) == 0 and kind(1) == 1 and kind(3) == 1
    tokens = np.zeros((2, 2, 4, 4), dtype=np.int64)
    ctx = codec.empty_context(4, 4)
    _, bits_ip, _ = codec.encode_payload(tokens, ctx)
    _, bits_i, _ = codec.encode_payload(tokens[:1], ctx)
    _, bits_i2, _ = codec.encode_payload(tokens[1:], ctx)
    assert bits_ip != pytest.approx(bits_i + bits_i2)  # frame 1 was not coded as an I frame


# ------------------------------------------------ scalar-quantized models
@pytest.fixture(scope="module")
def scalar_codec():
    """The tiny scalar model with the reference encoder: nearest rounding."""
    codec = _expected_model("tiny_scalar")
    codec.use_rounding(0)
    return codec


@pytest.fixture(scope="module")
def rdo_codec(scalar_codec):
    """The same modules, encoder rounding by rate-distortion (make_expected's lambda)."""
    from make_expected import SCALAR_RDO_LAMBDA
    from vqcodec.codec import Codec

    c = scalar_codec
    codec = Codec(c.config, c.autoencoder, c.quantizer, c.prior, c.model_id)
    codec.use_rounding(SCALAR_RDO_LAMBDA)
    return codec


def test_scalar_golden_stream(scalar_codec, tiny_frames):
    golden = (EXPECTED / "tiny_scalar_q2.vqv").read_bytes()
    data, _ = _compress(scalar_codec, tiny_frames, 2)
    assert data == golden


@pytest.mark.parametrize("quality", [1, 2])
def test_scalar_stream_decodes_to_the_direct_reconstruction(scalar_codec, tiny_frames, quality):
    """Every channel is a token plane at every quality; the quality picks the step."""
    codec = scalar_codec
    data, _ = _compress(codec, tiny_frames, quality)
    tokens = codec.encode_tokens(codec.padded(tiny_frames[:8]), quality)
    assert tokens.shape[1] == codec.config.quantizer.dim
    assert np.array_equal(_decompress(codec, data)[:8], codec.decode_tokens(tokens, quality)[:8])


def test_scalar_qualities_differ_in_rate_and_step(scalar_codec, tiny_frames):
    """A finer step costs more bits and reconstructs closer (same tiny model)."""
    codec = scalar_codec
    data1, _ = _compress(codec, tiny_frames, 1)
    data2, _ = _compress(codec, tiny_frames, 2)
    assert len(data2) > len(data1)
    mse = [np.mean((_decompress(codec, d).astype(float) - tiny_frames) ** 2) for d in (data1, data2)]
    assert mse[1] < mse[0]


def test_scalar_tokens_need_their_quality_to_decode(scalar_codec, tiny_frames):
    tokens = scalar_codec.encode_tokens(scalar_codec.padded(tiny_frames[:8]), 1)
    with pytest.raises(ValueError, match="quality"):
        scalar_codec.decode_tokens(tokens)


def test_scalar_prior_is_told_the_quality(scalar_codec):
    """The same tokens coded as quality 1 or 2 get different probabilities."""
    tokens = np.full((1, 8, 4, 4), 8, dtype=np.int64)
    ctx = scalar_codec.empty_context(4, 4)
    _, bits1, _ = scalar_codec.encode_payload(tokens, ctx, quality=1)
    _, bits2, _ = scalar_codec.encode_payload(tokens, ctx, quality=2)
    assert bits1 != pytest.approx(bits2)


def test_scalar_stream_is_the_same_with_one_tile_per_pass(scalar_codec, tiny_frames):
    from vqcodec.codec import Codec

    one = Codec(scalar_codec.config, scalar_codec.autoencoder, scalar_codec.quantizer, scalar_codec.prior,
                scalar_codec.model_id, tile_batch=1)
    one.use_rounding(0)
    assert _compress(one, tiny_frames, 2)[0] == _compress(scalar_codec, tiny_frames, 2)[0]


# ----------------------------------- prior with temporal shortcuts (scalar)
@pytest.fixture(scope="module")
def copy_codec():
    codec = _expected_model("tiny_copy")
    codec.use_rounding(0)
    return codec


def test_copy_head_golden_stream(copy_codec, tiny_frames):
    """Pins the copy head and match context (random, non-zero weights) in the format-v4 integers."""
    assert copy_codec.config.prior.copy_radius == 2 and copy_codec.config.prior.match_context
    data, _ = _compress(copy_codec, tiny_frames, 2)
    assert data == (EXPECTED / "tiny_copy_q2.vqv").read_bytes()


@pytest.mark.parametrize("quality", [1, 2])
def test_copy_head_stream_decodes_to_the_direct_reconstruction(copy_codec, tiny_frames, quality):
    data, _ = _compress(copy_codec, tiny_frames, quality)
    tokens = copy_codec.encode_tokens(copy_codec.padded(tiny_frames[:8]), quality)
    assert np.array_equal(_decompress(copy_codec, data)[:8], copy_codec.decode_tokens(tokens, quality)[:8])


def test_copy_head_makes_a_repeated_latent_frame_cheap(copy_codec):
    """With "same as before" favoured, a latent frame equal to the previous costs less
    than one that differs from it everywhere, from the same previous frame."""
    import torch

    rng = np.random.default_rng(0)
    first = rng.integers(0, 16, (1, 8, 4, 4))
    other = (first + 5) % 16
    with torch.no_grad():
        copy_codec.prior.copy_b[:, 2::5] += 12.0  # offset 0 of every plane
    try:
        copy_codec.reset_tables()  # rebuild the integer tables from the changed weights
        _, _, ctx = copy_codec.encode_payload(first.copy(), copy_codec.empty_context(4, 4), quality=2)
        _, same_bits, _ = copy_codec.encode_payload(first.copy(), ctx, quality=2)
        _, other_bits, _ = copy_codec.encode_payload(other.copy(), ctx, quality=2)
    finally:
        with torch.no_grad():
            copy_codec.prior.copy_b[:, 2::5] -= 12.0
        copy_codec.reset_tables()
    assert same_bits < 0.2 * other_bits


# ------------------------------------------- rate-distortion rounding (scalar)
def test_scalar_default_encoder_rounds_by_rate_distortion():
    from vqcodec.coding.rounding import DEFAULT_LAMBDA, RateDistortionRounding

    assert _expected_model("tiny_scalar").rounding == RateDistortionRounding(DEFAULT_LAMBDA)


def test_rdo_golden_stream(rdo_codec, scalar_codec, tiny_frames):
    golden = (EXPECTED / "tiny_scalar_q2_rdo.vqv").read_bytes()
    data, _ = _compress(rdo_codec, tiny_frames, 2)
    assert data == golden
    assert data != (EXPECTED / "tiny_scalar_q2.vqv").read_bytes()  # the rounding changed symbols
    assert _decompress(scalar_codec, golden).shape == tiny_frames.shape  # any decoder reads it


@pytest.mark.parametrize("quality", [1, 2])
def test_rdo_stream_decodes_to_the_tokens_it_coded(rdo_codec, tiny_frames, quality):
    """The symbols are chosen inside the coding loop: the packet's token CRC,
    the decoder and the encoder's own record all agree on them."""
    codec, h, w = rdo_codec, tiny_frames.shape[1], tiny_frames.shape[2]
    enc = FullMode.encoder(codec, w, h, Fraction(25), None, quality)
    packets = [p for f in tiny_frames[:8] for p in enc.push(f)]
    assert len(packets) == 1
    coded = enc.coded
    nearest = codec.encode_tokens(codec.padded(tiny_frames[:8]), quality)
    assert np.abs(coded - nearest).max() <= 1
    data, _ = _compress(codec, tiny_frames, quality)
    assert np.array_equal(_decompress(codec, data)[:8], codec.decode_tokens(coded, quality)[:8])


def test_rdo_spends_fewer_bits_than_nearest(rdo_codec, scalar_codec, tiny_frames):
    _, near = _compress(scalar_codec, tiny_frames, 2)
    _, rdo = _compress(rdo_codec, tiny_frames, 2)
    assert rdo.ideal_bits < near.ideal_bits


def test_rvq_models_refuse_rate_distortion_rounding(predictive_codec):
    with pytest.raises(ValueError, match="scalar"):
        predictive_codec.use_rounding(0.1)
    predictive_codec.use_rounding(None)  # the default is fine: RVQ ignores it


@pytest.fixture(scope="module")
def referencing_codec(scalar_codec):
    """The tiny scalar model with a reference branch (conditional coding) whose
    weights are moved off zero, so inter GOPs really depend on their reference."""
    import torch
    from dataclasses import replace

    from vqcodec.models.autoencoder import Autoencoder
    from vqcodec.codec import Codec

    c = scalar_codec
    cfg = replace(c.config, autoencoder=replace(c.config.autoencoder, reference=True))
    ae = Autoencoder(cfg.autoencoder)
    missing, unexpected = ae.load_state_dict(c.autoencoder.state_dict(), strict=False)
    assert not unexpected and all(".reference." in k for k in missing)
    torch.manual_seed(3)
    with torch.no_grad():
        for n, p in ae.named_parameters():
            if ".reference." in n:
                p.normal_(0, 0.05) if "alpha" not in n else p.fill_(0.5)
    codec = Codec(cfg, ae, c.quantizer, c.prior, c.model_id)
    codec.use_rounding(0)
    return codec


def test_reference_stream_decodes_what_the_encoder_reconstructed(referencing_codec, tiny_frames):
    """Closed loop: each inter GOP is coded against the encoder's own
    reconstruction of the previous GOP's last frame; the decoder rebuilds the
    same reference, so its frames equal the encoder's reconstruction. Intra
    packets (every intra period) start without one."""
    codec, (T, h, w) = referencing_codec, tiny_frames.shape[:3]
    gop, period = codec.config.gop, codec.config.intra_period
    assert T > gop and period > gop  # the clip holds inter packets
    for quality in codec.qualities:
        enc = FullMode.encoder(codec, w, h, Fraction(25), None, quality)
        recon, alone = [], []
        for i, f in enumerate(tiny_frames):
            for p in enc.push(f) + (enc.flush() if i + 1 == T else []):
                recon.append(enc.reconstruction()[: p.frame_count, :h, :w])
                alone.append(codec.decode_tokens(enc.coded, quality)[: p.frame_count, :h, :w])
        data, _ = _compress(codec, tiny_frames, quality)
        out = _decompress(codec, data)
        assert np.array_equal(out, np.concatenate(recon))
        assert np.array_equal(recon[0], alone[0])  # the first packet is intra
        assert not np.array_equal(recon[1], alone[1])  # an inter packet uses its reference


def test_reference_resets_at_every_intra_packet(referencing_codec, tiny_frames):
    from dataclasses import replace

    from vqcodec.codec import Codec

    c = referencing_codec
    cfg = replace(c.config, intra_period=c.config.gop)  # every packet intra
    codec = Codec(cfg, c.autoencoder, c.quantizer, c.prior, c.model_id)
    codec.use_rounding(0)
    h, w, gop = tiny_frames.shape[1], tiny_frames.shape[2], cfg.gop
    out = _decompress(codec, _compress(codec, tiny_frames, 1)[0])
    alone = [codec.decode_tokens(codec.encode_tokens(codec.padded(tiny_frames[i:i + gop]), 1), 1)
             [: len(tiny_frames[i:i + gop]), :h, :w] for i in range(0, len(tiny_frames), gop)]
    assert np.array_equal(out, np.concatenate(alone))


def test_a_reference_is_refused_by_a_model_without_one(scalar_codec, tiny_frames):
    frames = scalar_codec.padded(tiny_frames[:4])
    with pytest.raises(ValueError, match="takes no reference"):
        scalar_codec.encode_tokens(frames, 1, ref=frames[0])
    assert not scalar_codec.uses_reference


# ------------------------------------------------- frames smaller than a latent
@pytest.mark.parametrize("size", [(1, 1), (2, 2), (7, 5), (8, 8), (9, 9), (175, 143)])
@pytest.mark.parametrize("mode", ["full", "lowlatency"])
@pytest.mark.parametrize("model", ["tiny_fast", "tiny_scalar"])
def test_any_size_down_to_one_pixel(size, mode, model):
    """A grid one latent wide has no second checkerboard half: that pass is skipped on
    both sides (it used to crash the encoder). Both priors, both modes, and the
    streaming API, which the file API is built on."""
    from vqcodec.stream import StreamDecoder, StreamEncoder

    codec = _expected_model(model)
    w, h = size
    frames = (np.random.default_rng(w * h).random((5, h, w, 3)) * 255).astype(np.uint8)
    enc = StreamEncoder(w, h, 25, 2, mode=mode, model=codec, frame_count=5)
    data = b"".join(p for f in frames for p in enc.push(f)) + b"".join(enc.flush())
    dec = StreamDecoder(codec)
    out = np.stack(dec.push(data) + dec.flush())
    assert out.shape == frames.shape
    assert np.array_equal(out, _decompress(codec, data))
