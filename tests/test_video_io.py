"""vqcodec.media.video_io: reading, writing, pipes, errors, padding."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vqcodec.media.samples import SampleNotFoundError, sample_path
from vqcodec.media.video_io import (OutputExistsError, VideoInfo, VideoIOError, VideoReader, VideoWriter,
                              crop_frames, pad_frames, read_video, write_video)

REPO = Path(__file__).resolve().parents[1]


def _y4m_bytes(frames: np.ndarray, fps=Fraction(25)) -> bytes:
    buf = io.BytesIO()
    with VideoWriter("-", frames.shape[2], frames.shape[1], fps, stdout=buf) as writer:
        for frame in frames:
            writer.write(frame)
    return buf.getvalue()


def test_read_carphone_mp4():
    try:
        path = sample_path("carphone_pristine.mp4")
    except SampleNotFoundError as err:
        pytest.skip(str(err))
    with VideoReader(str(path)) as reader:
        assert reader.info == VideoInfo(176, 144, Fraction(30000, 1001), 120)
        first = next(iter(reader))
    assert first.shape == (144, 176, 3) and first.dtype == np.uint8 and first.flags.c_contiguous
    frames, info = read_video(str(path), max_frames=4)
    assert frames.shape == (4, 144, 176, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], first)
    assert info.frame_count == 120


def test_mkv_round_trip_is_exact(tiny_video_file, tiny_frames):
    frames, info = read_video(tiny_video_file)
    assert info.width == 64 and info.height == 48 and info.fps == 25
    assert frames.shape == tiny_frames.shape
    assert np.array_equal(frames, tiny_frames)  # FFV1 bgr0: lossless RGB


def test_mp4_round_trip_is_close(tmp_path, tiny_frames):
    path = str(tmp_path / "clip.mp4")
    write_video(path, tiny_frames, Fraction(30000, 1001))
    frames, info = read_video(path)
    assert info == VideoInfo(64, 48, Fraction(30000, 1001), 12)
    assert np.abs(frames.astype(int) - tiny_frames).mean() < 12  # lossy: yuv420p, crf 18
    with pytest.raises(VideoIOError, match="even"):
        VideoWriter(str(tmp_path / "odd.mp4"), 63, 48, Fraction(25))


def test_y4m_bytes_round_trip(tiny_frames):
    data = _y4m_bytes(tiny_frames)
    assert data.startswith(b"YUV4MPEG2 W64 H48 F25:1") and b" C420" in data.split(b"\n")[0]
    reader = VideoReader("-", stdin=io.BytesIO(data))
    assert reader.info == VideoInfo(64, 48, Fraction(25), None)
    frames = np.stack(list(reader))
    reader.close()
    assert frames.shape == tiny_frames.shape
    # Chroma is subsampled, so colour edges blur; the picture stays close.
    assert np.abs(frames.astype(int) - tiny_frames).mean() < 10


def test_y4m_444_from_ffmpeg_is_read(tiny_frames):
    buf = io.BytesIO()  # what `ffmpeg -pix_fmt yuv444p -f yuv4mpegpipe -` writes
    with av.open(buf, "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        for i, frame in enumerate(tiny_frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert b" C444" in buf.getvalue()[:80]
    with VideoReader("-", stdin=io.BytesIO(buf.getvalue())) as reader:
        frames = np.stack(list(reader))
    assert reader.info.fps == 24 and frames.shape == tiny_frames.shape
    assert np.abs(frames.astype(int) - tiny_frames).mean() < 3  # 4:4:4 keeps colour


def test_stdin_to_stdout_pipe(tiny_frames):
    # A child process is a y4m filter: VideoReader("-") on its real stdin,
    # VideoWriter("-") on its real stdout, like `ffmpeg ... | vqcodec ... | ffplay -`.
    code = ("from vqcodec.media.video_io import VideoReader, VideoWriter\n"
            "with VideoReader('-') as r:\n"
            "    i = r.info\n"
            "    with VideoWriter('-', i.width, i.height, i.fps) as w:\n"
            "        for f in r: w.write(f)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    data = _y4m_bytes(tiny_frames, Fraction(30000, 1001))
    done = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.startswith(b"YUV4MPEG2 W64 H48 F30000:1001")
    with VideoReader("-", stdin=io.BytesIO(data)) as first, VideoReader("-", stdin=io.BytesIO(done.stdout)) as second:
        a, b = np.stack(list(first)), np.stack(list(second))
    assert a.shape == b.shape == tiny_frames.shape
    assert np.abs(a.astype(int) - b).mean() < 3  # a second 4:2:0 pass changes little


def test_existing_output_needs_force(tmp_path, tiny_frames):
    path = tmp_path / "out.mkv"
    path.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError) as err:
        VideoWriter(str(path), 64, 48, Fraction(25))
    assert str(err.value) == f"{path} exists; use --force to overwrite"
    assert path.read_bytes() == b"keep me"
    write_video(str(path), tiny_frames, Fraction(25), force=True)
    assert np.array_equal(read_video(str(path))[0], tiny_frames)


@pytest.mark.parametrize("name", ["new.mkv", "existing.y4m", "new.mp4"])
def test_no_partial_file_after_exception(tmp_path, tiny_frames, name):
    path = tmp_path / name
    if name.startswith("existing"):
        path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with VideoWriter(str(path), 64, 48, Fraction(25), force=True) as writer:
            writer.write(tiny_frames[0])
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["existing.y4m"] if path.exists() else [])
    if name.startswith("existing"):
        assert path.read_bytes() == b"old"


def test_bad_frame_is_refused_and_leaves_nothing(tmp_path, tiny_frames):
    path = tmp_path / "out.mkv"
    with pytest.raises(VideoIOError, match=r"expected \(48, 64, 3\) uint8"):
        with VideoWriter(str(path), 64, 48, Fraction(25)) as writer:
            writer.write(tiny_frames[0][:, :32])
    with pytest.raises(VideoIOError, match="uint8"):
        with VideoWriter(str(path), 64, 48, Fraction(25)) as writer:
            writer.write(tiny_frames[0].astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_unsupported_extension(tmp_path):
    with pytest.raises(VideoIOError, match="unsupported output extension '.avi'"):
        VideoWriter(str(tmp_path / "out.avi"), 64, 48, Fraction(25))
    assert list(tmp_path.iterdir()) == []


def test_unreadable_inputs_give_one_line_errors(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(VideoIOError) as err:
        VideoReader(str(missing))
    assert str(err.value) == f"no such file: {missing}"

    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\nat all\n")
    with pytest.raises(VideoIOError) as err:
        read_video(str(text))
    assert str(err.value).startswith(f"{text} is not a video FFmpeg can read: ")
    assert "\n" not in str(err.value)

    audio = tmp_path / "tone.wav"  # a valid file without a video stream
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(VideoIOError, match="no video stream"):
        VideoReader(str(audio))


def test_pad_and_crop_are_inverse(tiny_frames):
    clip = tiny_frames[:10, :45, :61]
    padded = pad_frames(clip, 16, 16, multiple_t=8)
    assert padded.shape == (16, 48, 64, 3)
    assert np.array_equal(padded[:, 45:, :61], np.broadcast_to(padded[:, 44:45, :61], (16, 3, 61, 3)))
    assert np.array_equal(padded[:, :45, 61:], np.broadcast_to(padded[:, :45, 60:61], (16, 45, 3, 3)))
    assert np.array_equal(padded[10:], np.broadcast_to(padded[9:10], (6, 48, 64, 3)))
    assert np.array_equal(crop_frames(padded, 10, 45, 61), clip)
    assert pad_frames(tiny_frames, 16, 16) is tiny_frames  # already aligned: no copy
    with pytest.raises(ValueError):
        crop_frames(clip, 11, 45, 61)


def test_failed_close_removes_temp_file(tmp_path, tiny_frames, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    writer = VideoWriter(str(tmp_path / "out.mkv"), 64, 48, Fraction(25))
    writer.write(tiny_frames[0])
    with pytest.raises(VideoIOError, match="cannot write .*out.mkv: Permission denied"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
