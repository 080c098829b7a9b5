"""lowlatency.py: the low-latency mode round-trips bit-exactly, is pinned by a
golden stream, honours its latency bound, and decodes the same on 1 or 2 threads."""
import io
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest

from conftest import EXPECTED, rising, stream_bytes_per_quality
from make_expected import LOWLATENCY_KEYINT, LOWLATENCY_LATENCY, lowlatency_stream
from vqcodec.format.container import Mode, PacketType, StreamHeader, iter_packets
from vqcodec.modes.keyframes import AdaptiveKeyframes, FixedKeyframes
from vqcodec.api import compress, decompress
from vqcodec.modes.lowlatency import LowLatencyMode, LowLatencySettings

GOLDEN = EXPECTED / "tiny_lowlatency_q2.vqv"


def _compress(codec, frames, quality=2, policy=None, latency=0):
    buf = io.BytesIO()
    stats = compress(frames, buf, frames.shape[2], frames.shape[1], Fraction(25), quality, "lowlatency", codec,
                     keyframes=policy or FixedKeyframes(4), settings=LowLatencySettings(latency=latency))
    return buf.getvalue(), stats


def _decompress(codec, data):
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


def _packets(data):
    f = io.BytesIO(data)
    header = StreamHeader.read(f)
    return header, list(iter_packets(f, header))


def test_golden_stream(tiny_codec, tiny_frames):
    golden = GOLDEN.read_bytes()
    assert lowlatency_stream(tiny_codec, tiny_frames) == golden
    header, packets = _packets(golden)
    assert header.mode is Mode.LOWLATENCY and header.version == 4 and header.gop == LOWLATENCY_KEYINT
    out = _decompress(tiny_codec, golden)
    assert out.shape == tiny_frames.shape and out.dtype == np.uint8


@pytest.mark.parametrize("version", [2, 3])
def test_older_goldens_still_decode_to_the_same_frames(tiny_codec, version):
    old = (EXPECTED / f"tiny_lowlatency_q2_v{version}.vqv").read_bytes()
    assert StreamHeader.read(io.BytesIO(old)).version == version
    assert np.array_equal(_decompress(tiny_codec, old), _decompress(tiny_codec, GOLDEN.read_bytes()))


@pytest.mark.parametrize("latency", [0, 1, 3, 7])
def test_round_trip_is_exact_and_repeatable(tiny_codec, tiny_frames, latency):
    data, stats = _compress(tiny_codec, tiny_frames, latency=latency)
    again, _ = _compress(tiny_codec, tiny_frames, latency=latency)
    assert data == again and stats.bytes == len(data) and stats.frames == 12
    a, b = _decompress(tiny_codec, data), _decompress(tiny_codec, data)
    assert np.array_equal(a, b) and a.shape == tiny_frames.shape
    # keyframes (every 4th frame, and the last when frames were held back) decode to what
    # the VQ path gives for the frame alone
    for k in (0, 4, 8) + ((11,) if latency else ()):
        tokens = tiny_codec.encode_tokens(tiny_codec.padded(tiny_frames[k][None]), 2)
        pair = tiny_codec.decode_tokens(tokens).astype(np.uint16)
        assert np.array_equal(a[k], ((pair[0] + pair[1] + 1) // 2).astype(np.uint8))


def test_packets_follow_the_latency(tiny_codec, tiny_frames):
    kinds = {}
    for latency in (0, 3):
        header, packets = _packets(_compress(tiny_codec, tiny_frames, latency=latency)[0])
        kinds[latency] = [(p.kind, p.first_frame, p.frame_count) for p in packets if p.kind != PacketType.END]
    P, I, N = PacketType.PREDICTED, PacketType.INTRA, PacketType.INTER
    assert kinds[0] == [(I, 0, 1), (P, 1, 1), (P, 2, 1), (P, 3, 1), (N, 4, 1), (P, 5, 1), (P, 6, 1),
                        (P, 7, 1), (N, 8, 1), (P, 9, 1), (P, 10, 1), (P, 11, 1)]
    assert kinds[3] == [(I, 0, 1), (N, 1, 4), (N, 5, 4), (N, 9, 3)]  # the last frame becomes a key


@pytest.mark.parametrize("latency,policy", [(0, FixedKeyframes(4)), (2, FixedKeyframes(4)),
                                            (5, FixedKeyframes(8)), (1, AdaptiveKeyframes(6))])
def test_a_packet_for_frame_t_is_out_before_frame_t_plus_latency_plus_1(tiny_codec, tiny_frames, latency, policy):
    enc = LowLatencyMode.encoder(tiny_codec, 64, 48, Fraction(25), None, 2, keyframes=policy,
                                 settings=LowLatencySettings(latency=latency))
    out_until = -1  # last frame covered by the packets so far
    for t, frame in enumerate(tiny_frames):
        assert out_until >= t - latency - 1, f"frame {t - latency - 1} still held when frame {t} arrives"
        for p in enc.push(frame):
            assert p.first_frame == out_until + 1
            out_until = p.first_frame + p.frame_count - 1
        assert out_until >= t - latency
    for p in enc.flush():
        out_until = p.first_frame + p.frame_count - 1
    assert out_until == len(tiny_frames) - 1


def test_interpolation_beats_holding_the_keyframe(tiny_codec, tiny_frames):
    data, _ = _compress(tiny_codec, tiny_frames, latency=3)
    out = _decompress(tiny_codec, data).astype(float)
    held = np.repeat(out[0::4], 4, axis=0)[:12]  # what a frame-hold decoder would show
    mse = lambda a: ((a - tiny_frames) ** 2).mean()  # noqa: E731
    assert mse(out) < mse(held)


@pytest.mark.parametrize("latency", [0, 7])
@pytest.mark.parametrize("clip", ["static", "bikes"])
def test_bits_fall_as_the_quality_falls(shipped_codec, ladder_clips, clip, latency):
    """Issue 31: a lower quality never costs more bits. Motion used to be searched against
    the decoded keyframe, so at coarse qualities fields fitted its coding error (noise that
    cost more bits the coarser the keyframe) and lambda (4 x MSE) let them through: q1
    spent more than q2 on both clips. The shipped model, every quality, keyframes every 8."""
    sizes = stream_bytes_per_quality(shipped_codec, ladder_clips[clip], "lowlatency", keyint=8,
                                     settings=LowLatencySettings(latency=latency))
    assert rising(sizes), f"stream bytes per quality: {sizes}"


def test_corrupted_side_information_is_a_codec_error(tiny_codec, tiny_frames):
    from vqcodec.errors import CodecError
    from vqcodec.format.container import ContainerError

    data = bytearray(_compress(tiny_codec, tiny_frames)[0])
    data[-40] ^= 0xFF  # inside the last packets' payload: its CRC catches it
    with pytest.raises((CodecError, ContainerError)):
        _decompress(tiny_codec, bytes(data))


_SCRIPT = textwrap.dedent(
    """
    import io, sys, numpy as np, torch
    from fractions import Fraction
    torch.set_num_threads(int(sys.argv[1]))
    from vqcodec import compress, decompress, load_codec
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.modes.keyframes import FixedKeyframes
    from vqcodec.modes.lowlatency import LowLatencySettings
    codec = load_codec("default")
    if sys.argv[2] == "encode":
        frames = pan_scene(6, 96, 80)
        buf = io.BytesIO()
        compress(frames, buf, 96, 80, Fraction(25), 3, "lowlatency", codec, keyframes=FixedKeyframes(3),
                 settings=LowLatencySettings(latency=2))
        open(sys.argv[3], "wb").write(buf.getvalue())
    else:
        out = np.stack(list(decompress(open(sys.argv[3], "rb"), model=codec)))
        np.save(sys.argv[4], out)
    """
)


def _run(*args):
    subprocess.run([sys.executable, "-c", _SCRIPT, *map(str, args)], check=True, timeout=600)


def test_thread_count_does_not_change_streams_or_frames(tmp_path):
    s2, s1 = tmp_path / "t2.vqv", tmp_path / "t1.vqv"
    _run(2, "encode", s2)
    _run(1, "encode", s1)
    assert s2.read_bytes() == s1.read_bytes()
    _run(1, "decode", s2, tmp_path / "d1.npy")
    _run(2, "decode", s1, tmp_path / "d2.npy")
    assert np.array_equal(np.load(tmp_path / "d1.npy"), np.load(tmp_path / "d2.npy"))


# ---- format v14: a motion model's low-latency mode codes the full mode's predicted steps

@pytest.fixture(scope="module")
def motion_codec():
    from vqcodec import load_codec

    codec = load_codec(str(EXPECTED / "models" / "tiny_motion.json"))
    codec.use_rounding(0)
    return codec


@pytest.fixture
def coded_steps(monkeypatch):
    """The tiny random model's step tokens never pay for themselves: code them (as
    the goldens do) instead of skipping every step."""
    from vqcodec.modes.steps import StepEncoder

    monkeypatch.setattr(StepEncoder, "rd_skip", False)
    monkeypatch.setattr(StepEncoder, "rd_tiles", False)


def _motion_encoder(codec, frames, latency, keyint=4, keyframes="fixed"):
    t, h, w, _ = frames.shape
    return LowLatencyMode.encoder(codec, w, h, Fraction(25), t, 2, keyint=keyint, keyframes=keyframes,
                                  latency=latency)


def _motion_reconstruction(codec, frames, latency, keyint=4):
    """What the encoder decoded for itself (closed loop), cropped: the decoder must match it."""
    t, h, w, _ = frames.shape
    enc, out = _motion_encoder(codec, frames, latency, keyint), []
    for i, frame in enumerate(frames):
        for p in enc.push(frame) + (enc.flush() if i + 1 == t else []):
            out.append(enc.reconstruction()[: p.frame_count, :h, :w])
    return np.concatenate(out)


@pytest.mark.parametrize("latency, name", [(0, ""), (3, "_l3")])
def test_motion_golden_streams(motion_codec, coded_steps, tiny_frames, latency, name):
    from make_expected import MOTION_LOWLATENCY_KEYINT, motion_lowlatency_stream

    golden = (EXPECTED / f"tiny_motion_lowlatency{name}_q2.vqv").read_bytes()
    assert motion_lowlatency_stream(motion_codec, tiny_frames, latency) == golden
    header, packets = _packets(golden)
    assert (header.mode, header.version, header.gop) == (Mode.LOWLATENCY, 15, 1 if latency == 0 else 4)
    want = _motion_reconstruction(motion_codec, tiny_frames, latency, MOTION_LOWLATENCY_KEYINT[latency])
    assert np.array_equal(_decompress(motion_codec, golden), want)
    I, N = PacketType.INTRA, PacketType.INTER
    layout = [(p.kind, p.first_frame, p.frame_count) for p in packets if p.kind in (I, N)]
    if latency == 0:  # a packet per frame, keyframes every 4
        assert layout == [(I if i % 4 == 0 else N, i, 1) for i in range(12)]
    else:  # a 2-frame intra step, then packets of at most 4 frames inside intra periods of 8
        assert layout == [(I, 0, 2), (N, 2, 4), (N, 6, 2), (I, 8, 2), (N, 10, 2)]


def test_a_version_14_motion_stream_keeps_decoding(motion_codec, coded_steps, tiny_frames, monkeypatch):
    """v15 frames the same packets shorter: the v14 golden (latency 0) decodes to the
    v15 golden's frames, its packets are 13 bytes a frame longer or less, and a v14
    encoder still writes it byte for byte."""
    from make_expected import motion_lowlatency_stream

    old = (EXPECTED / "tiny_motion_lowlatency_q2_v14.vqv").read_bytes()
    new = (EXPECTED / "tiny_motion_lowlatency_q2.vqv").read_bytes()
    assert _packets(old)[0].version == 14
    assert np.array_equal(_decompress(motion_codec, old), _decompress(motion_codec, new))
    assert 0 < len(old) - len(new) <= 13 * len(tiny_frames) + 2
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 14)
    assert motion_lowlatency_stream(motion_codec, tiny_frames, 0) == old


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("latency", [0, 1, 4])
def test_motion_round_trip_is_exact(motion_codec, coded_steps, latency, threads):
    """File API and a byte at a time, 1 and 2 threads: the decoder gives exactly
    what the encoder decoded for itself, and the stream is the same twice."""
    import torch

    from conftest import _tiny_pattern, assert_decodes_to

    frames, before = _tiny_pattern(13), torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        buf = io.BytesIO()
        compress(frames, buf, 64, 48, Fraction(25), 2, "lowlatency", motion_codec, keyint=6, latency=latency)
        data = buf.getvalue()
        again = io.BytesIO()
        compress(frames, again, 64, 48, Fraction(25), 2, "lowlatency", motion_codec, keyint=6, latency=latency)
        assert again.getvalue() == data
        assert_decodes_to(motion_codec, data, _motion_reconstruction(motion_codec, frames, latency, keyint=6))
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("latency,keyframes", [(0, "fixed"), (1, "fixed"), (2, "adaptive"), (3, "fixed"),
                                               (5, "adaptive"), (40, "fixed")])
def test_motion_packets_are_out_within_the_latency(motion_codec, tiny_frames, latency, keyframes):
    enc = _motion_encoder(motion_codec, tiny_frames, latency, keyint=6, keyframes=keyframes)
    out_until = -1
    for t, frame in enumerate(tiny_frames):
        for p in enc.push(frame):
            assert p.first_frame == out_until + 1
            out_until = p.first_frame + p.frame_count - 1
        assert out_until >= t - latency, f"frame {t - latency} still held when frame {t} arrives"
    for p in enc.flush():
        out_until = p.first_frame + p.frame_count - 1
    assert out_until == len(tiny_frames) - 1


def test_a_still_camera_costs_a_few_bytes_a_frame(motion_codec):
    """The encoder's own skip decisions (no coded_steps): after the intra frame each
    frame of a still clip is a skipped step: its packet's payload is the step's
    head (1 byte in format v15) and what the range coder needs of its last word
    (a byte), its packet head 7 more: 9 bytes a frame (v14: 23)."""
    from conftest import _tiny_pattern

    frames = np.repeat(_tiny_pattern(1), 10, axis=0)
    buf = io.BytesIO()
    compress(frames, buf, 64, 48, Fraction(25), 2, "lowlatency", motion_codec, latency=0)
    header, packets = _packets(buf.getvalue())
    inter = [p for p in packets if p.kind == PacketType.INTER]
    assert len(inter) == 9 and all(len(p.payload) <= 2 for p in inter), [len(p.payload) for p in inter]
    assert all(len(p.to_bytes(header.version)) <= 9 for p in inter)
    assert np.array_equal(_decompress(motion_codec, buf.getvalue())[1:], _motion_reconstruction(
        motion_codec, frames, 0, keyint=64)[1:])


def test_adaptive_keyframes_put_an_intra_packet_at_a_scene_cut(motion_codec, coded_steps):
    from conftest import _tiny_pattern

    frames = np.concatenate([_tiny_pattern(6), 255 - _tiny_pattern(6)[:, ::-1]])  # a cut at frame 6
    for keyframes, intra in (("adaptive", [0, 6]), ("fixed", [0])):
        buf = io.BytesIO()
        compress(frames, buf, 64, 48, Fraction(25), 2, "lowlatency", motion_codec, keyframes=keyframes)
        header, packets = _packets(buf.getvalue())
        assert [p.first_frame for p in packets if p.kind == PacketType.INTRA] == intra
        assert header.intra_period == 64  # the default keyframe interval of the predicted path


def test_a_late_joiner_and_damage_resume_at_the_next_keyframe(motion_codec, coded_steps):
    from conftest import _tiny_pattern
    from vqcodec.recovery import RecoveringDecoder
    from vqcodec.stream import StreamDecoder

    frames = _tiny_pattern(20)
    buf = io.BytesIO()
    compress(frames, buf, 64, 48, Fraction(25), 2, "lowlatency", motion_codec, keyint=8, latency=0)
    data = buf.getvalue()
    reference = _decompress(motion_codec, data)
    dec = StreamDecoder(motion_codec)
    cut = len(data) // 3
    out = [f for i in range(cut, len(data), 7) for f in dec.push(data[i:i + 7])]
    dec.flush()
    assert dec.first_frame in (8, 16) and np.array_equal(np.stack(out), reference[dec.first_frame:])
    header, packets = _packets(data)
    hit = next(p for p in packets if p.kind == PacketType.INTER and p.first_frame == 2)
    at = data.index(hit.payload) + len(hit.payload) // 2
    bad = bytearray(data)
    bad[at] ^= 0x5A
    rec = RecoveringDecoder(motion_codec, io.BytesIO(bytes(bad)))
    got = list(rec)
    (damage,) = rec.damages
    assert (damage.first_lost, damage.resumed) == (2, 8)
    assert [i for i, _ in got] == [0, 1] + list(range(8, 20))
    assert all(np.array_equal(f, reference[i]) for i, f in got)


def test_a_version_13_motion_stream_keeps_its_keyframe_path(motion_codec, tiny_frames, monkeypatch):
    """Before v14 a motion model's low-latency streams held keyframes and frames
    rebuilt between them: such a stream still decodes, and a v13 encoder still writes it."""
    old = (EXPECTED / "tiny_motion_lowlatency_q2_v13.vqv").read_bytes()
    header, packets = _packets(old)
    assert header.version == 13 and PacketType.PREDICTED in {p.kind for p in packets}
    out = _decompress(motion_codec, old)
    assert out.shape == tiny_frames.shape
    monkeypatch.setattr(motion_codec, "version_for", lambda *_: 13)
    assert lowlatency_stream(motion_codec, tiny_frames) == old


@pytest.mark.parametrize("golden, version", [("tiny_motion_lowlatency_q2_v14.vqv", 14),
                                             ("tiny_motion_lowlatency_q2.vqv", 15)])
def test_a_predicted_packet_is_refused_in_a_version_14_stream(motion_codec, golden, version):
    from vqcodec.format.container import ContainerError, Packet, PacketReader

    header, packets = _packets((EXPECTED / golden).read_bytes())
    v = header.version
    forged = header.to_bytes() + packets[0].to_bytes(v) + Packet(PacketType.PREDICTED, 1, 1, b"\0", 0).to_bytes(v)
    f = io.BytesIO(forged)
    with pytest.raises(ContainerError, match=f"PREDICTED packet in a version {version} low-latency stream"):
        list(PacketReader(f, StreamHeader.read(f)))


def test_keyint_defaults_by_path(motion_codec, tiny_codec):
    motion = LowLatencyMode.encoder(motion_codec, 64, 48, Fraction(25), None, 2)
    keyframes = LowLatencyMode.encoder(tiny_codec, 64, 48, Fraction(25), None, 2)
    assert (motion.header.gop, motion.header.intra_period) == (1, 64)
    assert keyframes.header.gop == 8 and keyframes.header.version < 14


@pytest.mark.parametrize("latency", [0, 3])
def test_the_motion_coder_holds_the_same_state_after_six_and_eight_keyframe_periods(motion_codec, coded_steps,
                                                                                   latency):
    """No per-frame or per-packet records: after 48 and 64 frames (keyframes every
    8; the adaptive policy's window of differences is full by then) the encoder
    and the decoder hold as much, so memory stays flat however long the camera
    runs. The adaptive policy is used: it keeps the most state."""
    from conftest import _tiny_pattern
    from test_stream import footprints
    from vqcodec.stream import StreamEncoder

    enc = StreamEncoder(64, 48, 25, 2, mode="lowlatency", model=motion_codec, keyint=8, keyframes="adaptive",
                        latency=latency)
    encoder, decoder = footprints(enc, motion_codec, _tiny_pattern(64), (48, 64))
    assert encoder[64] == encoder[48] and set(decoder) == {48, 64} and decoder[64] == decoder[48], (encoder, decoder)


def test_info_says_what_the_low_latency_encoder_chose():
    import json

    from click.testing import CliRunner

    from vqcodec_cli.main import main

    docs = {}
    for name in ("", "_l3"):
        out = CliRunner().invoke(main, ["info", str(EXPECTED / f"tiny_motion_lowlatency{name}_q2.vqv"), "--json"])
        assert out.exit_code == 0, out.output
        docs[name] = json.loads(out.output)
    zero, three = docs[""], docs["_l3"]
    assert (zero["mode"], zero["format_version"], zero["gop"]) == ("lowlatency", 15, 1)
    assert (zero["intra_frames"], zero["predicted_frames"], zero["held_back_frames"]) == (3, 9, 0)
    assert zero["predicted_steps"] + zero["skipped_steps"] + zero["intra_steps"] == 9  # one step a frame
    assert (three["intra_frames"], three["predicted_frames"], three["held_back_frames"]) == (4, 8, 3)
    assert three["predicted_steps"] + three["skipped_steps"] + three["intra_steps"] == 4  # 2 frames a step
