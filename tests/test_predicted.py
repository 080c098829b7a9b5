"""modes/predicted.py and motion/prediction.py: format v6, the full mode of a
motion-compensated model (intra GOPs, then 2-frame steps coded against the last
decoded frame warped by sent motion). Golden stream, exact round trips (file
API, a byte at a time, 1 and 2 threads), skip, motion found, clear refusals."""
from __future__ import annotations

import io
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import _tiny_pattern, assert_decodes_to
from vqcodec.api import compress, decompress
from vqcodec.errors import CodecError
from vqcodec.format.container import PacketReader, PacketType, StreamHeader
from vqcodec.modes import encoder_for
from vqcodec.motion import compensation as motion
from vqcodec.motion.prediction import predict, scaled, search, still_field
from vqcodec.stream import StreamDecoder

EXPECTED = Path(__file__).resolve().parent / "expected"


def _packets(data: bytes) -> list:
    f = io.BytesIO(data)
    return list(PacketReader(f, StreamHeader.read(f)))


@pytest.fixture(scope="module")
def motion_codec():
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / "tiny_motion.json"))
    codec.use_rounding(0)
    return codec


@pytest.fixture(autouse=True)
def _coded_steps(monkeypatch):
    """The tiny random model's step tokens never pay for themselves, so with the
    encoder's rate-distortion skips every step or tile would be skipped: these
    tests code them (the golden stream too); test_steps_that_do_not_pay_are_skipped
    and test_tiles_that_do_not_pay_keep_the_prediction turn the skips back on."""
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "rd_skip", False)
    monkeypatch.setattr(StepEncoder, "rd_tiles", False)
    from vqcodec.modes.predicted import PredictedEncoder  # and a whole GOP coded alone at each intra period:
    monkeypatch.setattr(PredictedEncoder, "INTRA_FRAMES", 4)  # the packet layout these tests spell out


def _compress(codec, frames, quality=2) -> bytes:
    buf = io.BytesIO()
    compress(iter(frames), buf, frames.shape[2], frames.shape[1], Fraction(25), quality, model=codec)
    return buf.getvalue()


def _decompress(codec, data: bytes) -> np.ndarray:
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


def _reconstruction(codec, frames, quality=2, version=None) -> np.ndarray:
    """What the encoder decoded for itself (closed loop), cropped: the decoder must match it."""
    t, h, w, _ = frames.shape
    enc = encoder_for("full", codec, w, h, Fraction(25), t, quality, version or codec.version_for())
    out = []
    for i, frame in enumerate(frames):
        for p in enc.push(frame) + (enc.flush() if i + 1 == t else []):
            out.append(enc.reconstruction()[: p.frame_count, :h, :w])
    return np.concatenate(out)


def test_golden_stream(motion_codec, tiny_frames):
    data = _compress(motion_codec, tiny_frames)
    assert StreamHeader.read(io.BytesIO(data)).version == 15
    assert data == (EXPECTED / "tiny_motion_q2.vqv").read_bytes()
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, tiny_frames))


def test_version_13_streams_keep_decoding(motion_codec, tiny_frames):
    """v14 changed the low-latency mode only: a v13 full-mode stream holds the same
    packets as v14's and decodes to the same frames."""
    old = (EXPECTED / "tiny_motion_q2_v13.vqv").read_bytes()
    new = (EXPECTED / "tiny_motion_q2_v14.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 13
    assert [(p.kind, p.payload) for p in _packets(old) if p.kind != PacketType.HEADER] == \
        [(p.kind, p.payload) for p in _packets(new) if p.kind != PacketType.HEADER]
    assert np.array_equal(_decompress(motion_codec, old), _reconstruction(motion_codec, tiny_frames, version=13))


def test_version_14_streams_keep_decoding_and_v15_frames_them_shorter(motion_codec, tiny_frames, monkeypatch):
    """v15 changed the framing only (compact packet heads, 1-byte step heads, trimmed
    range coder words): the v14 golden decodes to the frames the v15 one does, and
    a v14 encoder still writes it byte for byte."""
    old = (EXPECTED / "tiny_motion_q2_v14.vqv").read_bytes()
    new = (EXPECTED / "tiny_motion_q2.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 14
    assert np.array_equal(_decompress(motion_codec, old), _decompress(motion_codec, new))
    old_packets, new_packets = _packets(old), _packets(new)
    assert [(p.kind, p.frame_count) for p in old_packets] == [(p.kind, p.frame_count) for p in new_packets]
    assert all(len(n.payload) <= len(o.payload) for o, n in zip(old_packets, new_packets))
    assert len(new) < len(old)
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 14)
    assert _compress(motion_codec, tiny_frames) == old


def _frames_of(data: bytes) -> list:
    return [(p.kind, p.first_frame, p.frame_count) for p in _packets(data)]


def test_side_information_carries_through_an_intra_period(motion_codec, monkeypatch):
    """Format v15: an INTER packet's side information (adaptive models, the last
    field and map) goes on from the packet before it, and starts afresh at each
    INTRA packet. The stream decodes exactly; the first INTER packet of each
    intra period is the one a fresh start writes, the ones after it differ; and a
    decoder that started every packet afresh could not read them."""
    from vqcodec.errors import TokenMismatchError
    from vqcodec.modes import steps
    from vqcodec.modes.predicted import PredictedEncoder

    monkeypatch.setattr(PredictedEncoder, "INTRA_FRAMES", None)  # a 2-frame intra step, then INTER packets
    frames = _tiny_pattern(16)
    data = _compress(motion_codec, frames)
    I, N = PacketType.INTRA, PacketType.INTER
    assert _frames_of(data)[:-1] == [(I, 0, 2), (N, 2, 4), (N, 6, 2), (I, 8, 2), (N, 10, 4), (N, 14, 2)]
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))
    monkeypatch.setattr(steps, "side_info_carried", lambda version: False)
    fresh = _compress(motion_codec, frames)
    same = [a.payload == b.payload for a, b in zip(_packets(data), _packets(fresh))]
    assert same[:2] == [True, True] and same[3:5] == [True, True] and not same[2] and not same[5]
    with pytest.raises((TokenMismatchError, CodecError)):
        _decompress(motion_codec, data)


def test_an_intra_period_depends_on_nothing_before_it(motion_codec, monkeypatch):
    """Two clips that differ only before an intra period code it to the same packets
    (the prior's context, the reference and, in v15, the side information all
    start afresh at its INTRA packet)."""
    from vqcodec.modes.predicted import PredictedEncoder

    monkeypatch.setattr(PredictedEncoder, "INTRA_FRAMES", None)
    tail = _tiny_pattern(16)[8:]
    a = _compress(motion_codec, np.concatenate([_tiny_pattern(8), tail]))
    b = _compress(motion_codec, np.concatenate([255 - _tiny_pattern(8)[:, ::-1], tail]))
    pa, pb = _packets(a), _packets(b)
    assert [p.payload for p in pa if p.first_frame >= 8] == [p.payload for p in pb if p.first_frame >= 8]
    assert pa[0].payload != pb[0].payload


def test_golden_stream_with_quarter_pixel_fields(motion_codec, monkeypatch):
    """A pan coded with every moving field in quarter pixels (FINE_LAMBDA 0): the
    bytes are pinned, and the decoder matches the encoder's closed loop."""
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "FINE_LAMBDA", 0.0)
    frames = pan_scene(12, 64, 48)
    data = _compress(motion_codec, frames)
    assert data == (EXPECTED / "tiny_motion_pan_q2.vqv").read_bytes()
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))


@pytest.mark.parametrize("version, golden, block", [(10, "tiny_motion_pan_q2_v10.vqv", None),
                                                    (11, "tiny_motion_pan16_q2_v11.vqv", 16)])
def test_versions_10_and_11_keep_decoding(motion_codec, monkeypatch, version, golden, block):
    """A pan with quarter-pixel fields decodes with the same model to what an
    encoder of its version reconstructs, and the next version predicts other
    pixels from the same fields. v10 sampled between pixels bilinearly (v11: the
    4-tap filter); v11 interpolated vectors between block centres (v12: each
    block moves by its own), so its golden uses 16-pixel blocks (StepEncoder.block,
    4 x 3 vectors; at the tiny model's 64-pixel blocks there is one vector)."""
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "FINE_LAMBDA", 0.0)
    monkeypatch.setattr(StepEncoder, "block", block)
    frames = pan_scene(12, 64, 48)
    old = (EXPECTED / golden).read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == version
    want = _reconstruction(motion_codec, frames, version=version)
    assert np.array_equal(_decompress(motion_codec, old), want)
    assert not np.array_equal(_reconstruction(motion_codec, frames, version=version + 1), want)


def test_golden_stream_with_overlapped_blocks(motion_codec, monkeypatch):
    """Format v13: in 16-pixel blocks the tiny pattern's square and background move
    apart, and with OVERLAP_GAIN 10 every step whose vectors differ is sent with
    overlapped blocks. The bytes are pinned, the decoder matches the encoder's
    closed loop, and the v12 golden of the same steps (no bits, blocks not
    overlapped) still decodes to what a v12 encoder reconstructs."""
    from vqcodec.modes.steps import StepEncoder

    from vqcodec.motion import prediction

    monkeypatch.setattr(StepEncoder, "block", 16)
    monkeypatch.setattr(StepEncoder, "OVERLAP_GAIN", 10.0)
    monkeypatch.setattr(prediction, "SEARCH_BIAS", 64)  # the search of the v12 golden below
    frames = _tiny_pattern(21)
    data = _compress(motion_codec, frames)
    assert data == (EXPECTED / "tiny_motion_overlap16_q2.vqv").read_bytes()
    want = _reconstruction(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), want)
    old = (EXPECTED / "tiny_motion_pattern16_q2_v12.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 12
    v12 = _reconstruction(motion_codec, frames, version=12)
    assert np.array_equal(_decompress(motion_codec, old), v12) and not np.array_equal(v12, want)


def test_small_overlap_gains_keep_the_blocks(motion_codec, monkeypatch):
    """The encoder overlaps a step's blocks only when that cuts the prediction's
    error below OVERLAP_GAIN x the blocks': at 0 it never does, and the stream
    then differs from v12's only in the bits that say so (framed as v14, whose
    payloads frame them as v12 did)."""
    from vqcodec.modes.steps import StepEncoder

    from vqcodec.motion import prediction

    monkeypatch.setattr(StepEncoder, "block", 16)
    monkeypatch.setattr(StepEncoder, "OVERLAP_GAIN", 0.0)
    monkeypatch.setattr(prediction, "SEARCH_BIAS", 64)  # the search of the v12 golden
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 14)
    frames = _tiny_pattern(21)
    data = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames, version=12))
    old = _packets((EXPECTED / "tiny_motion_pattern16_q2_v12.vqv").read_bytes())
    new = _packets(data)
    assert [p.kind for p in new] == [p.kind for p in old] and data != b"".join(p.payload for p in old)
    for a, b in zip(old, new):  # an adaptive bit per step: a byte or two per packet
        assert (a.payload == b.payload) if a.kind == PacketType.INTRA else abs(len(a.payload) - len(b.payload)) <= 2
    assert any(a.payload != b.payload for a, b in zip(old, new) if a.kind == PacketType.INTER)


def test_version_6_streams_keep_decoding(motion_codec, tiny_frames):
    """Format v6 (whole-pixel motion, written before v7) decodes with the same
    model to what a v6 encoder reconstructs, and that encoder still writes it."""
    old = (EXPECTED / "tiny_motion_q2_v6.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 6
    assert np.array_equal(_decompress(motion_codec, old), _reconstruction(motion_codec, tiny_frames, version=6))
    assert _compress(motion_codec, tiny_frames) != old  # v7: a precision flag for each moving field


def test_golden_stream_with_kept_tiles(motion_codec, monkeypatch):
    """Format v8: with the tile skip on, tiles keep the prediction and their
    tokens are left out of the range coder. The bytes are pinned, the decoder
    matches the encoder's closed loop, and the same steps written as v7 (kept
    tiles' tokens coded as zeros) decode to the same frames in more bytes."""
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "rd_tiles", True)
    monkeypatch.setattr(StepEncoder, "TILE_LAMBDA", 0.1)  # some tiles kept, not all (make_expected.py)
    frames = _tiny_pattern(21)
    data = _compress(motion_codec, frames)
    assert data == (EXPECTED / "tiny_motion_tiles_q2.vqv").read_bytes()
    want = _reconstruction(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), want)
    assert np.array_equal(_reconstruction(motion_codec, frames, version=7), want)
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 7)
    v7 = _compress(motion_codec, frames)
    monkeypatch.undo()
    assert StreamHeader.read(io.BytesIO(v7)).version == 7
    assert len(v7) > len(data) and np.array_equal(_decompress(motion_codec, v7), want)


def test_version_7_streams_keep_decoding(motion_codec, tiny_frames):
    """Format v7 (kept tiles' tokens coded, written before v8) decodes with the
    same model to what a v7 encoder reconstructs."""
    old = (EXPECTED / "tiny_motion_q2_v7.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 7
    assert np.array_equal(_decompress(motion_codec, old), _reconstruction(motion_codec, tiny_frames, version=7))


def test_version_8_streams_keep_decoding(motion_codec, tiny_frames):
    """Format v8 (the intra step at the stream's quality, no quality byte in its
    packet) decodes with the same model to what a v8 encoder reconstructs."""
    old = (EXPECTED / "tiny_motion_q2_v8.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 8
    assert np.array_equal(_decompress(motion_codec, old), _reconstruction(motion_codec, tiny_frames, version=8))
    intra = [p for p in _packets(old) if p.kind == PacketType.INTRA]
    v9 = [p for p in _packets(_compress(motion_codec, tiny_frames)) if p.kind == PacketType.INTRA]
    assert [len(p.payload) for p in intra] != [len(p.payload) for p in v9]


@pytest.mark.parametrize("name", ["pan", "tiles"])
def test_version_9_streams_keep_decoding(motion_codec, monkeypatch, name):
    """Format v9 (side information coded without the step before; written before
    v10): a pan's quarter-pixel fields and a clip's tile maps decode with the same
    model to what a v9 encoder reconstructs, and v10 codes the same steps in other
    bytes (make_expected.py's settings for the two goldens)."""
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.modes.steps import StepEncoder

    if name == "pan":
        monkeypatch.setattr(StepEncoder, "FINE_LAMBDA", 0.0)
        frames = pan_scene(12, 64, 48)
    else:
        monkeypatch.setattr(StepEncoder, "rd_tiles", True)
        monkeypatch.setattr(StepEncoder, "TILE_LAMBDA", 0.1)
        frames = _tiny_pattern(21)
    old = (EXPECTED / f"tiny_motion_{name}_q2_v9.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == 9
    want = _reconstruction(motion_codec, frames, version=9)
    assert np.array_equal(_decompress(motion_codec, old), want)
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 10)  # (v11 samples between pixels otherwise)
    new = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, new), want)  # the same steps, other side bits
    assert new[100:] != old[100:]  # past the header: the side information is coded otherwise


@pytest.mark.parametrize("boost, quality, want", [(1, 1, 2), (0, 1, 1), (2, 1, 2), (2, 2, 2)])  # 2 qualities
def test_the_intra_step_is_coded_finer(motion_codec, monkeypatch, boost, quality, want):
    """Format v9: each INTRA packet starts with the quality of its step, the
    stream's plus INTRA_BOOST, at most the model's finest (the tiny model has
    two); the decoder reads it
    and matches the encoder's closed loop; the predicted steps keep the stream's."""
    from vqcodec.modes.predicted import PredictedEncoder

    monkeypatch.setattr(PredictedEncoder, "INTRA_BOOST", boost)
    monkeypatch.setattr(PredictedEncoder, "STILL_SHARE", None)  # (the still camera's extra: the next test)
    frames = _tiny_pattern(12)
    data = _compress(motion_codec, frames, quality)
    assert StreamHeader.read(io.BytesIO(data)).quality == quality
    packets = _packets(data)
    assert [p.payload[0] for p in packets if p.kind == PacketType.INTRA] == [want, want]  # frames 0 and 8
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames, quality))


@pytest.mark.parametrize("motion_px, share, want", [(0, 0.7, 2), (1, 0.7, 1), (0, None, 1)])
def test_a_still_cameras_intra_step_is_coded_finer_again(motion_codec, monkeypatch, motion_px, share, want):
    """STILL_SHARE: an intra step whose textured blocks stay still gets STILL_BOOST
    more qualities (here 1 -> 2, INTRA_BOOST 0); one whose texture moves a pixel
    a frame keeps its quality, and so does every step with the rule off. The
    decoder reads the quality and matches the encoder's closed loop."""
    from vqcodec.modes.predicted import PredictedEncoder

    monkeypatch.setattr(PredictedEncoder, "INTRA_BOOST", 0)
    monkeypatch.setattr(PredictedEncoder, "STILL_SHARE", share)
    texture = np.random.default_rng(5).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    frames = np.stack([texture[:, motion_px * i: motion_px * i + 64] for i in range(12)])  # (12, 48, 64, 3)
    data = _compress(motion_codec, frames, 1)
    assert [p.payload[0] for p in _packets(data) if p.kind == PacketType.INTRA] == [want, want]  # frames 0 and 8
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames, 1))


@pytest.mark.parametrize("byte", [0, 3, 255])
def test_an_intra_quality_the_model_lacks_is_refused(motion_codec, tiny_frames, byte):
    from vqcodec.format.container import Packet
    from vqcodec.modes import decoder_for

    data = _compress(motion_codec, tiny_frames)
    intra = _packets(data)[0]
    assert intra.kind == PacketType.INTRA
    bad = Packet(intra.kind, intra.first_frame, intra.frame_count, bytes([byte]) + intra.payload[1:],
                 intra.tokens_crc)
    dec = decoder_for(motion_codec, StreamHeader.read(io.BytesIO(data)))
    with pytest.raises(CodecError, match=rf"^frame 0: an INTRA packet names quality {byte}; "
                                         r"the model codes qualities 1 to 2$"):
        dec.push(bad)
    empty = Packet(intra.kind, intra.first_frame, intra.frame_count, b"", intra.tokens_crc)
    with pytest.raises(CodecError, match="cut short before its quality"):
        decoder_for(motion_codec, StreamHeader.read(io.BytesIO(data))).push(empty)


@pytest.mark.parametrize("threads", [1, 2])
def test_decoder_matches_the_encoders_closed_loop(motion_codec, threads):
    """21 frames: an intra GOP, INTER packets of two steps, a second intra period
    (frame 8), a last step of one frame; file API and a byte at a time."""
    frames = _tiny_pattern(21)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        data = _compress(motion_codec, frames)
        assert_decodes_to(motion_codec, data, _reconstruction(motion_codec, frames))
    finally:
        torch.set_num_threads(before)
    kinds = [p.kind for p in _packets(data) if p.kind in (PacketType.INTRA, PacketType.INTER)]
    assert kinds == [PacketType.INTRA, PacketType.INTER, PacketType.INTRA, PacketType.INTER, PacketType.INTRA,
                     PacketType.INTER]


def test_a_step_whose_tokens_are_all_zero_is_skipped(motion_codec, monkeypatch):
    """A step whose tokens quantize to zero costs its flag and fields only; the
    decoder rebuilds it from the prediction exactly as the encoder did."""
    frames = _tiny_pattern(12)
    codec = motion_codec
    real = codec.quantize

    def zero_after_intra(x, quality, ref=None):
        tokens, latents = real(x, quality, ref)
        if ref is not None:  # a predicted step: every symbol the zero symbol
            tokens = np.full_like(tokens, codec.config.quantizer.codebook_size // 2)
            latents = None
        return tokens, latents

    coded = _compress(codec, frames)
    monkeypatch.setattr(codec, "quantize", zero_after_intra)
    t, h, w, _ = frames.shape
    enc = encoder_for("full", codec, w, h, Fraction(25), t, 2, codec.version_for())
    packets = [p for f in frames for p in enc.push(f)] + enc.flush()
    assert enc.step_modes == [0, 2, 0]  # frames 4-7 (frames 8-11 start the next intra period)
    skipped = _compress(codec, frames)
    monkeypatch.setattr(codec, "quantize", real)  # (undo() would drop the autouse settings)
    inter = [p for p in packets if p.kind == PacketType.INTER]
    # the step modes and two 3x4-block fields of the moving pattern, no tokens
    assert all(len(p.payload) <= 16 for p in inter), [len(p.payload) for p in inter]
    assert len(skipped) < len(coded)
    monkeypatch.setattr(codec, "quantize", zero_after_intra)
    want = _reconstruction(codec, frames)
    monkeypatch.setattr(codec, "quantize", real)  # (undo() would drop the autouse settings)
    assert np.array_equal(_decompress(codec, skipped), want)


def test_a_global_shift_is_found_and_predicted():
    """A textured frame moving by (3, -5) pixels per frame: the step's field (its
    last frame, 2 frames on) is twice that in every block away from the border,
    and the prediction equals both frames there."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (12, 16, 3)).repeat(8, 0).repeat(8, 1).astype(np.uint8)  # (96, 128, 3)
    base = (base.astype(np.int32) + rng.integers(-20, 21, base.shape)).clip(0, 255).astype(np.uint8)
    step = np.stack([np.roll(base, (3 * k, -5 * k), axis=(0, 1)) for k in (1, 2)])
    field = search(motion.luma(base), step[-1])
    assert np.array_equal(field[1:-1, 1:-1], np.broadcast_to([-6, 10], field[1:-1, 1:-1].shape))
    pred = predict(base, field, 2)
    assert np.array_equal(pred[:, 24:-24, 24:-24], step[:, 24:-24, 24:-24])
    assert np.array_equal(predict(base, still_field(96, 128), 2), np.stack([base, base]))
    assert np.array_equal(scaled(np.array([-3, -1, 0, 1, 3]), 1, 2), [-1, 0, 0, 1, 2])  # half up


def test_streams_and_models_of_other_versions_are_refused(motion_codec, tiny_frames):
    from vqcodec import load_codec

    fast = load_codec(str(EXPECTED / "models" / "tiny_fast.json"))
    v5 = (EXPECTED / "tiny_fast_q2.vqv").read_bytes()
    v6 = (EXPECTED / "tiny_motion_q2.vqv").read_bytes()
    with pytest.raises(CodecError):
        _decompress(motion_codec, v5)
    with pytest.raises(CodecError):
        _decompress(fast, v6)
    header = StreamHeader.read(io.BytesIO(v5))
    forged = replace(header, model_name="tiny_motion", weights_sha256=motion_codec.model_id.sha256)
    with pytest.raises(CodecError, match="coded without motion-compensated steps; model 'tiny_motion' codes with"):
        motion_codec.check_header(forged)


def test_an_inter_packet_first_is_refused(motion_codec):
    data = (EXPECTED / "tiny_motion_q2.vqv").read_bytes()
    packets = _packets(data)
    inter = next(p for p in packets if p.kind == PacketType.INTER)
    from vqcodec.modes import decoder_for

    dec = decoder_for(motion_codec, StreamHeader.read(io.BytesIO(data)))
    with pytest.raises(CodecError, match="starts with an inter packet"):
        dec.push(inter)


def test_info_says_what_the_encoder_chose(tmp_path):
    from click.testing import CliRunner

    from vqcodec_cli.main import main

    path = EXPECTED / "tiny_motion_q2.vqv"
    out = CliRunner().invoke(main, ["info", str(path), "--json"])
    assert out.exit_code == 0, out.output
    import json

    doc = json.loads(out.output)
    assert doc["format_version"] == 15
    assert (doc["intra_frames"], doc["predicted_frames"]) == (8, 4)
    assert doc["intra_qualities"] == [2]  # v9; quality 2 is the tiny model's finest
    assert (doc["predicted_steps"], doc["skipped_steps"], doc["intra_steps"]) == (2, 0, 0)
    assert doc["motion_block_sizes"] == [64]  # quality 2: 64x64 blocks
    packets = _packets(path.read_bytes())
    assert doc["predicted_bytes"] == sum(len(p.payload) for p in packets if p.kind == PacketType.INTER)


def test_an_intra_step_decodes_as_the_encoder_coded_it(motion_codec, monkeypatch):
    """A scene cut (frame 6 onward another picture): the encoder weighs coding the
    step alone; forced to (the tiny random model's costs decide nothing), the step
    is INTRA, sends no fields, and decodes to the encoder's reconstruction."""
    from vqcodec.modes.steps import StepEncoder

    frames = _tiny_pattern(12)
    frames[6:] = 255 - frames[6:, ::-1]
    calls = []

    def always(self, *args):
        calls.append(1)
        return True

    monkeypatch.setattr(StepEncoder, "_intra_pays", always)
    monkeypatch.setattr(StepEncoder, "CUT_RATIO", 0.0)  # the random model's predictions are all poor
    t, h, w, _ = frames.shape
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    [p for f in frames for p in enc.push(f)] + enc.flush()
    assert calls and enc.step_modes[2] == len(calls) >= 1
    data = _compress(motion_codec, frames)
    want = _reconstruction(motion_codec, frames)
    monkeypatch.undo()
    assert np.array_equal(_decompress(motion_codec, data), want)


@pytest.mark.parametrize("block", [16, 32, 64])
def test_the_tiles_follow_the_motion_block(motion_codec, monkeypatch, block):
    """Format v8: packets with 64-pixel motion blocks keep 32-pixel tiles, finer
    blocks 16-pixel tiles (v6 and v7: 32 always); v10: 8-pixel tiles with
    16-pixel blocks. The decoder reads the tile size from the packet's block
    and matches the encoder's closed loop."""
    from vqcodec.modes import tile_skip
    from vqcodec.modes.steps import StepEncoder

    assert [tile_skip.tile_size(v, b) for v in (6, 7, 8, 9, 10) for b in (16, 32, 64)] == \
        [32] * 6 + [16, 16, 32] * 2 + [8, 16, 32]
    assert tile_skip.tile_size(8, 16, factor_s=32) == 32  # never finer than a latent position
    assert tile_skip.tile_size(10, 16, factor_s=16) == 16
    monkeypatch.setattr(StepEncoder, "block", block)
    monkeypatch.setattr(StepEncoder, "rd_tiles", True)
    monkeypatch.setattr(StepEncoder, "TILE_LAMBDA", 0.1)  # some tiles kept, not all
    frames = _tiny_pattern(21)
    t, h, w, _ = frames.shape
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    [p for f in frames for p in enc.push(f)] + enc.flush()
    tile = {64: 32, 32: 16, 16: 8}[block]
    assert enc.steps.tile == tile and enc.steps.tiles == (-(-h // tile), -(-w // tile))
    assert enc.steps.tiles_kept > 0
    data = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))


@pytest.mark.parametrize("block", [16, 32, 64])
def test_every_motion_block_size_round_trips(motion_codec, tiny_frames, monkeypatch, block):
    """The encoder's motion block size is in each INTER packet's head; the
    decoder predicts with it and matches the encoder's closed loop exactly."""
    from vqcodec.format import step_modes
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "block", block)
    data = _compress(motion_codec, tiny_frames)
    want = _reconstruction(motion_codec, tiny_frames)
    inter = [p for p in _packets(data) if p.kind == PacketType.INTER]
    assert inter and all(step_modes.read_for(15, p.payload)[1] == block for p in inter)
    assert np.array_equal(_decompress(motion_codec, data), want)


def test_the_block_size_follows_the_quality(motion_codec):
    from vqcodec.modes.steps import StepEncoder

    enc = StepEncoder(motion_codec, 48, 64, 2, 6)
    assert [enc.block_for(q) for q in range(1, 11)] == [64] * 2 + [32] * 3 + [16] * 5
    enc.block = 16  # a fixed size (benchmarks) overrides the rule
    assert enc.block_for(1) == 16


def test_a_still_clip_sends_a_still_flag_per_step_and_no_vectors(motion_codec, tiny_frames):
    """A camera that does not move: after the intra GOP every step's field is
    zero, so it costs its still flag (a bit at first, then a fraction) and no
    vectors; the stream decodes as the encoder reconstructed it."""
    frames = np.repeat(tiny_frames[:1], 20, axis=0)
    t, h, w, _ = frames.shape
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    for i, frame in enumerate(frames):
        enc.push(frame)
    enc.flush()
    steps = sum(enc.step_modes)
    assert steps == 4  # intra periods of 12 frames: an 8-frame intra GOP, then 2 steps
    assert enc.steps.motion_bits < 2.0 * steps  # the flag's two symbols, learned per packet; no vectors
    data = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))


def _motion_packets(codec, frames) -> list[bytes]:
    from vqcodec.stream import StreamEncoder

    enc = StreamEncoder(frames.shape[2], frames.shape[1], 25, 2, model=codec)
    return [p for f in frames for p in enc.push(f)] + enc.flush()


def test_damage_costs_one_intra_period_and_decoding_resumes(motion_codec):
    """A flipped byte inside the first intra period's predicted steps: every frame
    before its packet decodes, the rest of that intra period is lost, and the
    next intra period decodes exactly as in the intact stream."""
    from vqcodec.recovery import RecoveringDecoder

    frames = _tiny_pattern(36)  # intra periods of 8 frames: a 4-frame GOP, then 2 steps
    packets = _motion_packets(motion_codec, frames)
    data = b"".join(packets)
    reference = _decompress(motion_codec, data)
    read = _packets(data)
    i = [p.kind for p in read].index(PacketType.INTER)
    lost, resumed = read[i].first_frame, read[i + 1].first_frame  # 4, 8: the next packet is INTRA
    assert read[i + 1].kind == PacketType.INTRA
    at = sum(map(len, packets[:i + 1])) + len(packets[i + 1]) // 2  # packets[0]: the stream header
    bad = bytearray(data)
    bad[at] ^= 0x5A
    rec = RecoveringDecoder(motion_codec, io.BytesIO(bytes(bad)))
    out = list(rec)
    (damage,) = rec.damages
    assert (damage.first_lost, damage.resumed) == (lost, resumed)
    assert [i for i, _ in out] == list(range(lost)) + list(range(resumed, 36))
    assert all(np.array_equal(f, reference[i]) for i, f in out)


def test_a_late_joiner_starts_at_the_next_intra_period(motion_codec):
    frames = _tiny_pattern(36)
    data = b"".join(_motion_packets(motion_codec, frames))
    reference = _decompress(motion_codec, data)
    for cut in (7, len(data) // 2):
        dec = StreamDecoder(motion_codec)
        out = [f for i in range(0, len(data) - cut, 5) for f in dec.push(data[cut + i: cut + i + 5])]
        dec.flush()
        assert dec.first_frame % 8 == 0 and dec.first_frame > 0 and dec.skipped_bytes > 0
        assert np.array_equal(np.stack(out), reference[dec.first_frame:])


def test_the_coder_holds_the_same_state_after_three_and_six_intra_periods(motion_codec):
    """No per-step or per-packet records: the encoder and decoder of a motion
    model hold as much after 48 frames as after 24 (the same place in an intra
    period of 8 frames), so memory stays flat over a long stream."""
    from test_stream import footprints
    from vqcodec.stream import StreamEncoder

    enc = StreamEncoder(64, 48, 25, 2, model=motion_codec)
    encoder, decoder = footprints(enc, motion_codec, _tiny_pattern(48), (24, 48))
    assert encoder[48] == encoder[24] and set(decoder) == {24, 48} and decoder[48] == decoder[24], (encoder, decoder)


def test_steps_that_do_not_pay_are_skipped(motion_codec, monkeypatch):
    """With the rate-distortion skip (the encoder's default), a step whose tokens
    cost more than the error they remove is sent as SKIP: the tiny random model's
    tokens never pay, so every step is skipped, the stream shrinks, and the
    decoder rebuilds exactly what the encoder kept."""
    from vqcodec.modes.steps import StepEncoder

    frames = _tiny_pattern(21)
    coded = _compress(motion_codec, frames)
    monkeypatch.setattr(StepEncoder, "rd_skip", True)
    t, h, w, _ = frames.shape
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    for f in frames:
        enc.push(f)
    enc.flush()
    assert enc.step_modes == [0, 5, 0]
    skipped = _compress(motion_codec, frames)
    assert len(skipped) < len(coded)
    assert np.array_equal(_decompress(motion_codec, skipped), _reconstruction(motion_codec, frames))


def test_tiles_that_do_not_pay_keep_the_prediction(motion_codec, monkeypatch):
    """With the tile skip on (the encoder's default), tiles whose tokens make
    them worse keep the prediction: the tile map is sent, those tiles' tokens
    are zero, and the decoder pastes the prediction exactly where the encoder
    did. A step whose every tile keeps the prediction is sent as skipped (the
    same pixels and context, no map)."""
    from vqcodec.format.step_modes import SKIP
    from vqcodec.modes import tile_skip
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "rd_tiles", True)
    frames = _tiny_pattern(21)
    t, h, w, _ = frames.shape
    kept_all = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    [p for f in frames for p in kept_all.push(f)] + kept_all.flush()
    # at the shipped weight of bits the random tiny model's tokens never pay: every step is skipped
    assert kept_all.steps.step_modes and set(kept_all.steps.step_modes) == {SKIP} and kept_all.steps.tiles_kept == 0
    assert np.array_equal(_decompress(motion_codec, _compress(motion_codec, frames)),
                          _reconstruction(motion_codec, frames))
    monkeypatch.setattr(StepEncoder, "TILE_LAMBDA", 0.1)  # some tiles kept, not all
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    for f in frames:
        enc.push(f)
    enc.flush()
    assert enc.step_modes[0] > 0 and enc.steps.tiles_kept > 0
    data = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))
    # the pieces: a tile where the prediction is exact is kept; pasting and zeroing follow the mask
    frames2 = np.zeros((2, 64, 64, 3), np.uint8)
    pred = frames2.copy()
    decoded = np.full_like(frames2, 9)
    tokens, zero = np.full((4, 8, 8), 3), np.full((4, 8, 8), 1)
    mask = tile_skip.choose_tiles(frames2, pred, decoded, np.full((2, 2), 250.0), 32)
    assert mask.shape == (2, 2) and mask.all()
    # a tile whose tokens cost nothing is kept only where its prediction is no worse
    worse = pred.copy()
    worse[:, :32, :32] = 20
    assert np.array_equal(tile_skip.choose_tiles(frames2, worse, decoded, np.zeros((2, 2)), 32),
                          [[False, True], [True, True]])
    # per-position bits summed per 32x32 tile (4x4 positions of 8 pixels), the edge cut
    bits = np.arange(6 * 5, dtype=np.float64).reshape(6, 5)
    assert np.array_equal(tile_skip.tile_bits(bits, 8, 32),
                          [[bits[:4, :4].sum(), bits[:4, 4:].sum()], [bits[4:, :4].sum(), bits[4:, 4:].sum()]])
    one = np.array([[True, False], [False, False]])
    assert np.array_equal(tile_skip.paste_tiles(decoded, pred, one, 32)[:, :32, :32], pred[:, :32, :32])
    assert (tile_skip.paste_tiles(decoded, pred, one, 32)[:, 32:] == 9).all()
    z = tile_skip.zero_tiles(tokens, zero, one, 8, 32)
    assert (z[:, :4, :4] == 1).all() and (z[:, 4:] == 3).all() and (z[:, :4, 4:] == 3).all()


def test_the_tile_choice_prices_the_maps_own_bits():
    """Format v10: a tile's own bit in the map counts in its choice, by the map's
    context models (the bit above as chosen, the previous map's bit)."""
    from vqcodec.modes import tile_skip
    from vqcodec.motion.side_info import SideWriter

    frames = np.zeros((2, 32, 32, 3), np.uint8)
    pred, decoded = frames.copy(), np.full_like(frames, 2)  # keeping any tile saves SSE
    pred[:, :8, :8] = 1  # ... tile (0, 0) by less: d_pred 384 against d_coded 1,536 (others 0)
    bits = np.zeros((4, 4))
    flat = tile_skip.choose_tiles(frames, pred, decoded, bits, 8)
    assert flat.all()
    side = SideWriter(contexts=True)
    free = (np.zeros((9, 2)), None)  # a map that costs nothing chooses as before
    assert np.array_equal(tile_skip.choose_tiles(frames, pred, decoded, bits, 8, 1.0, free), flat)
    # a kept bit 240 bits dearer than a coded one in every context: the lean tile is coded, the rest kept
    dear = (np.tile([0.0, 240.0], (9, 1)), None)
    lam = 2 * np.log(2) * 4  # 2 ln 2 x the coded step's SSE per sample
    assert 1536 - 384 < lam * 240 < 1536
    got = tile_skip.choose_tiles(frames, pred, decoded, bits, 8, 1.0, dear)
    assert not got[0, 0] and got.sum() == 15
    assert tile_skip.choose_tiles(frames, pred, decoded, bits, 8, 1.0, dear, map_scale=0.0).all()
    lengths, last = side.map_code_lengths()  # a fresh packet: every context at even odds
    assert last is None and lengths.shape == (9, 2) and np.allclose(lengths, 1.0, atol=0.01)
    side.step_begins(False, True, (4, 4))  # a skipped step: every tile kept, the next map leans on it
    assert side.map_code_lengths()[1].all()
    assert SideWriter(contexts=False).map_code_lengths() is None  # before v10 the map has no context


def test_an_intra_period_starts_with_one_step_coded_alone(motion_codec, monkeypatch):
    """The encoder's default: an INTRA packet of one step (2 frames), then INTER
    packets of up to a GOP that end at the next intra period; the container
    accepts the short packets, the decoder matches the encoder, and damage
    still costs one intra period."""
    from vqcodec.modes.predicted import PredictedEncoder
    from vqcodec.recovery import RecoveringDecoder

    monkeypatch.setattr(PredictedEncoder, "INTRA_FRAMES", None)
    frames = _tiny_pattern(21)
    data = _compress(motion_codec, frames)
    read = [p for p in _packets(data) if p.kind in (PacketType.INTRA, PacketType.INTER)]
    assert [(p.kind, p.first_frame, p.frame_count) for p in read] == [
        (PacketType.INTRA, 0, 2), (PacketType.INTER, 2, 4), (PacketType.INTER, 6, 2),
        (PacketType.INTRA, 8, 2), (PacketType.INTER, 10, 4), (PacketType.INTER, 14, 2),
        (PacketType.INTRA, 16, 2), (PacketType.INTER, 18, 3)]
    want = _reconstruction(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), want)
    bad = bytearray(data)
    bad[len(data) // 3] ^= 0x5A
    rec = RecoveringDecoder(motion_codec, io.BytesIO(bytes(bad)))
    out = list(rec)
    (damage,) = rec.damages
    assert damage.resumed % 8 == 0 and all(np.array_equal(f, want[i]) for i, f in out)


def test_the_decoders_condition_computed_once_decodes_the_same(motion_codec):
    """The encoder decodes a step's two token candidates (tile choice) with the
    decoder's features of the prediction computed once: the same frames, to the
    bit, as computing them with each decode (what the decoder does)."""
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    planes = motion_codec.planes_at(2)
    cond = motion_codec.decoder_condition(pred, 2)
    for _ in range(2):
        tokens = rng.integers(60, 68, (1, planes, 48 // motion_codec.factor_s, 64 // motion_codec.factor_s))
        assert np.array_equal(motion_codec.decode_tokens(tokens, 2, pred, cond),
                              motion_codec.decode_tokens(tokens, 2, pred))


def test_a_half_pixel_shift_is_found_in_quarter_pixels():
    """The v7 search: a frame shifted by (0.5, -1.5) pixels is found as (2, -6)
    quarter pixels in most blocks away from the edges, and its prediction is
    then close to exact (whole pixels alone cannot get there)."""
    from vqcodec.bench.scenes import static_scene

    photo = static_scene(1, 192, 128)[0]
    shift = np.array([2, -6], np.int32)
    target = motion.warp(photo, np.broadcast_to(shift, (*motion.grid_shape(128, 192, 32), 2)), 32, precision=4)
    field = search(motion.luma(photo), target, 32, precision=4)
    assert (field[1:-1, 1:-1] == shift).all(-1).mean() >= 0.75  # (flat blocks may take another)
    m = 32
    pred = predict(photo, field, 2, 32, precision=4)[-1].astype(float)
    whole = predict(photo, search(motion.luma(photo), target, 32), 2, 32)[-1].astype(float)
    err = np.abs(pred - target)[m:-m, m:-m].mean()
    assert err < 1.0 < np.abs(whole - target)[m:-m, m:-m].mean()


@pytest.mark.parametrize("fine_lambda", [0.0, 1.0, 1e12])
def test_whole_and_quarter_pixel_fields_decode_as_the_encoder_chose(motion_codec, monkeypatch, fine_lambda):
    """v7: each moving field is sent in whole or quarter pixels, as the encoder's
    rate-distortion choice says (FINE_LAMBDA 0: quarter pixels wherever the
    prediction gains; 1e12: never); every mix decodes to the encoder's frames."""
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "FINE_LAMBDA", fine_lambda)
    frames = pan_scene(12, 64, 48)
    t, h, w, _ = frames.shape
    enc = encoder_for("full", motion_codec, w, h, Fraction(25), t, 2, motion_codec.version_for())
    for f in frames:
        enc.push(f)
    enc.flush()
    moving = enc.steps.fine_fields
    assert (moving == 0) if fine_lambda == 1e12 else moving > 0
    data = _compress(motion_codec, frames)
    assert np.array_equal(_decompress(motion_codec, data), _reconstruction(motion_codec, frames))
