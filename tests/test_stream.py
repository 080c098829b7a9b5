"""stream.py: StreamEncoder packets are the bytes `vqcodec compress` writes, a StreamDecoder
fed any split of them (one byte at a time included) gives the same frames, a late joiner
starts at an intra period, memory stays bounded, and bad input fails cleanly."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import _tiny_pattern
from vqcodec.errors import CodecError
from vqcodec.format.versions import FORMAT_VERSION
from vqcodec.format.container import (
    ContainerError, PacketReader, PacketType, StreamHeader, TruncatedStream, UnsupportedVersion,
)
from vqcodec.modes.lowlatency import LowLatencySettings
from vqcodec.stream import StreamDecoder, StreamEncoder
from vqcodec.media.video_io import read_video, write_video
from vqcodec_cli.main import main

FPS = Fraction(25)
MODES = {  # name -> StreamEncoder options; CLI options that make the same stream
    "full": ({"mode": "full"}, ["--mode", "full"]),
    "lowlatency": ({"mode": "lowlatency", "keyint": 4, "latency": 2},
                   ["--mode", "lowlatency", "--keyint", "4", "--latency", "2"]),
}


def encode(codec, frames, **options) -> list[bytes]:
    enc = StreamEncoder(frames.shape[2], frames.shape[1], FPS, 2, model=codec, **options)
    packets = [p for f in frames for p in enc.push(f)]
    return packets + enc.flush()


def decode(codec, data: bytes, chunk: int) -> tuple[np.ndarray, StreamDecoder]:
    dec = StreamDecoder(codec)
    frames = [f for i in range(0, len(data), chunk) for f in dec.push(data[i:i + chunk])]
    dec.flush()
    return np.stack(frames), dec


def whole(codec, data: bytes) -> np.ndarray:
    return np.stack(list(decompress(io.BytesIO(data), model=codec)))


@pytest.fixture(scope="module")
def streams(tiny_codec):
    frames = _tiny_pattern(20)
    return frames, {name: encode(tiny_codec, frames, **opts) for name, (opts, _) in MODES.items()}


# ------------------------------------------------------------------- encoder
@pytest.mark.parametrize("mode", MODES)
def test_packets_are_the_bytes_vqcodec_compress_writes(tmp_path, tiny_model, tiny_codec, mode):
    frames = _tiny_pattern(20)
    src = tmp_path / "in.mkv"
    write_video(str(src), frames, FPS)
    frames = read_video(str(src))[0]  # what the CLI reads
    opts, args = MODES[mode]
    packets = encode(tiny_codec, frames, **opts)
    # to a pipe: byte for byte; to a file: the same but for the header's frame count
    piped = subprocess.run([sys.executable, "-m", "vqcodec_cli.main", "compress", str(src), "-",
                            "--model", tiny_model, "-q", "2", *args], capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == b"".join(packets)
    result = CliRunner().invoke(main, ["compress", str(src), str(tmp_path / "o.vqv"), "--model", tiny_model,
                                       "-q", "2", *args])
    assert result.exit_code == 0, result.output
    on_disk = (tmp_path / "o.vqv").read_bytes()
    header = StreamHeader.read(io.BytesIO(packets[0]))
    assert header.frame_count is None and StreamHeader.read(io.BytesIO(on_disk)).frame_count == 20
    assert on_disk[header.size:] == b"".join(packets)[header.size:]


@pytest.mark.parametrize("mode", MODES)
def test_write_reports_progress_as_packets_are_written(tiny_codec, mode):
    frames = _tiny_pattern(10)
    enc = StreamEncoder(64, 48, FPS, 2, model=tiny_codec, **MODES[mode][0])
    reported: list[int] = []
    stats = enc.write(iter(frames), io.BytesIO(), reported.append)
    assert sum(reported) == stats.frames == 10 and len(reported) > 1  # as packets go out, not once at the end


def test_packets_are_self_delimiting(streams):
    frames, by_mode = streams
    for packets in by_mode.values():
        header = StreamHeader.read(io.BytesIO(packets[0]))
        assert len(packets[0]) == header.size
        reader = PacketReader(None, header)
        for p in packets[1:]:  # each element is exactly one packet
            f = io.BytesIO(p)
            assert reader.read_packet(f) is not None and f.tell() == len(p)
        assert reader.ended


def test_push_returns_packets_as_soon_as_they_are_complete(tiny_codec):
    frames = _tiny_pattern(9)
    enc = StreamEncoder(64, 48, FPS, 2, mode="full", model=tiny_codec)  # gop 4
    counts = [len(enc.push(f)) for f in frames]
    assert counts == [1, 0, 0, 1, 0, 0, 0, 1, 0]  # header first, then one packet per GOP
    tail = enc.flush()  # frame 8 starts an intra period (8): a HEADER copy, its GOP, END
    assert [p[:4] for p in tail] == [b"PK\x05\x08", b"PK\x01\x08", b"PK\x03\x09"]
    assert enc.stats.frames == 9 and enc.stats.bytes == enc.bytes_out


def test_bad_frames_and_misuse(tiny_codec):
    enc = StreamEncoder(64, 48, FPS, 2, model=tiny_codec)
    for bad in (np.zeros((48, 64), np.uint8), np.zeros((48, 64, 3), np.float32), [[0]]):
        with pytest.raises(CodecError, match=r"^frame of shape .*; expected \(48, 64, 3\) uint8$"):
            enc.push(bad)
    enc.push(np.zeros((48, 64, 3), np.uint8))
    enc.flush()
    with pytest.raises(ValueError, match="push after flush"):
        enc.push(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        StreamEncoder(64, 48, FPS, 2, mode="fast", model=tiny_codec)
    with pytest.raises(CodecError, match="quality 9 is not offered"):
        StreamEncoder(64, 48, FPS, 9, model=tiny_codec)
    with pytest.raises(ValueError, match="unknown keyframes 'often'"):
        StreamEncoder(64, 48, FPS, 2, mode="lowlatency", model=tiny_codec, keyframes="often")


def test_library_and_cli_share_one_default_mode(tiny_codec):
    from vqcodec.format.container import Mode
    from vqcodec.modes import DEFAULT_MODE
    from vqcodec_cli.main import compress as compress_command

    option = next(p for p in compress_command.params if p.name == "mode")
    assert DEFAULT_MODE == option.default == "full"
    assert StreamEncoder(64, 48, FPS, 2, model=tiny_codec).header.mode is Mode.FULL


def test_an_empty_stream_is_a_header_and_an_end_packet(tiny_codec):
    enc = StreamEncoder(64, 48, FPS, 2, model=tiny_codec)
    packets = enc.flush()
    assert len(packets) == 2
    frames = list(decompress(io.BytesIO(b"".join(packets)), model=tiny_codec))
    assert frames == []


# ------------------------------------------------------------------- decoder
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_decoder_gives_the_same_frames_for_any_split(tiny_codec, streams, mode, chunk):
    frames, by_mode = streams
    data = b"".join(by_mode[mode])
    out, dec = decode(tiny_codec, data, chunk)
    assert np.array_equal(out, whole(tiny_codec, data)) and out.shape == frames.shape
    assert (dec.first_frame, dec.next_frame, dec.ended, dec.skipped_bytes) == (0, 20, True, 0)


def test_decoder_fed_packet_by_packet(tiny_codec, streams):
    _, by_mode = streams
    dec = StreamDecoder(tiny_codec)
    got = [len(dec.push(p)) for p in by_mode["full"]]
    assert got[0] == 0 and sum(got) == 20 and max(got) == 4  # a GOP as soon as its packet is in


@pytest.mark.parametrize("mode", MODES)
def test_a_late_joiner_starts_at_an_intra_period(tiny_codec, streams, mode):
    frames, by_mode = streams
    if mode == "lowlatency":  # intra periods of 4 frames, so 20 frames hold several
        packets = encode(tiny_codec, frames, mode="lowlatency", keyint=4,
                         settings=LowLatencySettings(latency=2, intra_period=4))
    else:
        packets = by_mode[mode]
    data = b"".join(packets)
    reference = whole(tiny_codec, data)
    reader_kinds = _kinds(packets)
    intra_starts = [first for kind, first, count in reader_kinds if kind is PacketType.INTRA]
    assert len(intra_starts) >= 3
    for cut in (5, len(packets[0]) + 3, len(data) // 2):
        out, dec = decode(tiny_codec, data[cut:], 3)
        joined = dec.first_frame
        # the first frame out is an intra period's first decodable frame: its keyframe
        # (low latency) or its first frame (full mode)
        keys = {first + count - 1 if mode == "lowlatency" else first
                for kind, first, count in reader_kinds if kind is PacketType.INTRA}
        assert joined in keys and joined > 0 and dec.skipped_bytes > 0
        assert np.array_equal(out, reference[joined:])


def _kinds(packets: list[bytes]):
    header = StreamHeader.read(io.BytesIO(packets[0]))
    reader = PacketReader(None, header)
    return [(p.kind, p.first_frame, p.frame_count)
            for p in (reader.read_packet(io.BytesIO(b)) for b in packets[1:])]


def test_a_truncated_stream_raises_on_flush(tiny_codec, streams):
    _, by_mode = streams
    data = b"".join(by_mode["full"])
    dec = StreamDecoder(tiny_codec)
    frames = dec.push(data[:-40])
    assert len(frames) == 16  # every complete packet
    with pytest.raises(TruncatedStream):
        dec.flush()


def test_decoder_refuses_bad_input(tiny_codec, streams):
    _, by_mode = streams
    data = b"".join(by_mode["full"])
    dec = StreamDecoder(tiny_codec)
    dec.push(data)
    with pytest.raises(ContainerError, match="^3 bytes after the END packet$"):
        dec.push(b"abc")
    bad = bytearray(data)
    bad[4] = FORMAT_VERSION + 1  # a version this build cannot read
    with pytest.raises(UnsupportedVersion):
        StreamDecoder(tiny_codec).push(bytes(bad[:8]))
    garbage = StreamDecoder(tiny_codec)  # no header anywhere: skipped, then truncated
    assert garbage.push(bytes(range(256)) * 4) == [] and garbage.header is None
    with pytest.raises(TruncatedStream):
        garbage.flush()
    other = StreamDecoder("default")
    with pytest.raises(CodecError, match="stream needs model 'tiny'"):
        other.push(data)


# -------------------------------------------------------------------- memory
_MEMORY = textwrap.dedent("""
    import sys
    import numpy as np
    from vqcodec import load_codec
    from vqcodec.stream import StreamDecoder, StreamEncoder

    def rss():  # resident set, bytes
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    codec = load_codec(sys.argv[1])
    enc, dec = StreamEncoder(64, 48, 25, 1, "lowlatency", model=codec, keyint=4), StreamDecoder(codec)
    rng, marks = np.random.default_rng(0), {}
    for t in range(int(sys.argv[2])):
        frame = np.roll(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), t, axis=1)
        for p in enc.push(frame):
            dec.push(p)
        assert len(dec._buf) < 1 << 16 and len(enc._core._pending) <= 1
        if t + 1 in (100, int(sys.argv[2])):
            marks[t + 1] = rss()
    print(marks[100], marks[int(sys.argv[2])])
""")


def test_memory_does_not_grow_with_the_stream(tiny_model, tmp_path):
    """Scaled down from benchmarks/stream_memory.py: 64x48, RSS at frame 100 vs 400."""
    done = subprocess.run([sys.executable, "-c", _MEMORY, tiny_model, "400"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    at100, at_end = map(int, done.stdout.split())
    assert at_end - at100 < 8 << 20, (at100, at_end)  # < 8 MiB over 300 frames


def _footprint(*roots) -> int:
    """Elements of every list, tuple, dict and set reachable from `roots` through
    attributes, plus the bytes of every array, tensor, bytes and str: what goes up when
    an object keeps a record per frame. Functions, classes and modules are not walked."""
    import collections
    import types

    import torch

    seen, todo, total = set(), list(roots), 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType,
                                                types.BuiltinFunctionType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += obj.nbytes
        elif isinstance(obj, torch.Tensor):
            total += obj.numel() * obj.element_size()
        elif isinstance(obj, (bytes, bytearray, str)):
            total += len(obj)
        elif isinstance(obj, dict):
            total += len(obj)
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
            total += len(obj)
            todo += list(obj)
        todo += list(getattr(obj, "__dict__", {}).values())
        todo += [getattr(obj, n) for n in getattr(type(obj), "__slots__", ()) if hasattr(obj, n)]
    return total


def footprints(enc, codec, frames, marks: tuple[int, int]) -> tuple[dict, dict]:
    """Push frames through `enc` (a StreamEncoder), then its stream a byte at a time
    through a StreamDecoder: -> ({mark: _footprint of the encoder after that many
    frames}, {mark: the decoder's after that many frames out})."""
    from vqcodec.stream import StreamDecoder

    enc_sizes, data = {}, b""
    for i, f in enumerate(frames):
        data += b"".join(enc.push(f))
        if i + 1 in marks:
            enc_sizes[i + 1] = _footprint(enc, codec)
    data += b"".join(enc.flush())
    dec, dec_sizes, n = StreamDecoder(codec), {}, 0
    for i in range(len(data)):  # a byte at a time: no input held over between frames
        for _ in dec.push(data[i:i + 1]):
            n += 1
            if n in marks:
                dec_sizes[n] = _footprint(dec, codec)
    return enc_sizes, dec_sizes


@pytest.mark.parametrize("mode,options", [
    ("full", {}),
    ("lowlatency", {"keyframes": "adaptive", "keyint": 4, "settings": LowLatencySettings(intra_period=8)}),
])
def test_the_cli_path_holds_the_same_state_after_16_and_48_frames(tiny_codec, mode, options):
    """Issue 31: what `vqcodec compress -` and `decompress` run (the y4m reader,
    StreamEncoder.write, StreamDecoder.read_from), and the codec they share, keep no
    per-frame records: at frames 16 and 48 (the same place in a GOP, a keyframe
    interval and an intra period) everything they hold has the same size."""
    from vqcodec.media.video_io import VideoReader, VideoWriter

    frames = _tiny_pattern(48)
    y4m = io.BytesIO()
    with VideoWriter("-", 64, 48, FPS, stdout=y4m) as writer:
        for f in frames:
            writer.write(f)
    reader = VideoReader("-", stdin=io.BytesIO(y4m.getvalue()))
    enc = StreamEncoder(64, 48, FPS, 2, mode, tiny_codec, **options)
    sizes, out = {}, io.BytesIO()

    def at_marks(n, who):  # the CLI's progress callback is called as frames are written
        if who.frames_out in (16, 48) and who.frames_out not in sizes:
            sizes[who.frames_out] = _footprint(reader, who, tiny_codec)

    enc.write(iter(reader), out, lambda n: at_marks(n, enc))
    assert set(sizes) == {16, 48} and sizes[48] == sizes[16], sizes
    dec, sizes = StreamDecoder(tiny_codec), {}
    for i, _ in dec.read_from(io.BytesIO(out.getvalue()), 1):  # a byte at a time: no input held over
        if i + 1 in (16, 48):
            sizes[i + 1] = _footprint(dec, tiny_codec)
    assert set(sizes) == {16, 48} and sizes[48] == sizes[16], sizes


# --------------------------------------------------------------------- fuzz
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vqcodec.coding.range_coder import EntropyCodingError  # noqa: E402
from vqcodec.api import decompress

_GOLDEN_STREAMS = {}


def _golden(name: str) -> bytes:
    if name not in _GOLDEN_STREAMS:
        from conftest import EXPECTED

        _GOLDEN_STREAMS[name] = (EXPECTED / name).read_bytes()
    return _GOLDEN_STREAMS[name]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), name=st.sampled_from(["tiny_q2.vqv", "tiny_lowlatency_q2.vqv"]))
def test_damaged_bytes_in_any_split_raise_only_library_errors(tiny_codec, data, name):
    raw = bytearray(_golden(name))
    start = data.draw(st.integers(0, len(raw) - 1))  # joining anywhere, late or not
    for _ in range(data.draw(st.integers(0, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    raw = bytes(raw[start:data.draw(st.integers(start, len(raw)))])
    dec = StreamDecoder(tiny_codec)
    try:
        i = 0
        while i < len(raw):
            n = data.draw(st.integers(1, 64))
            for frame in dec.push(raw[i:i + n]):
                assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
            i += n
        dec.flush()
    except (ContainerError, CodecError, EntropyCodingError):
        pass
