"""Video files and YUV4MPEG2 pipes <-> uint8 RGB frames, through PyAV (FFmpeg).

Everything else in vqcodec sees video as numpy arrays: one frame is (H, W, 3)
uint8 RGB, a clip is (T, H, W, 3). This module is the only place that talks to
FFmpeg, so container quirks (frame rates as rationals, unknown frame counts,
pipes that cannot seek) stop here.

Reading: `VideoReader(path)` opens any container/codec FFmpeg reads; `"-"`
reads YUV4MPEG2 from stdin (what `ffmpeg -f yuv4mpegpipe -` writes: 420, 422,
444 and mono chroma tags are all handled by FFmpeg's own y4m demuxer).

Writing: `VideoWriter(path, width, height, fps)` picks the output from the
extension (see `OUTPUT_EXTENSIONS`). Files are written to a hidden temporary file next
to the target and renamed into place only when closed successfully, so a
failed or interrupted write never leaves a truncated video behind.

Errors are `VideoIOError` (a ValueError) with a one-line message that the CLI
prints as is.
"""
from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Iterator

import av
import numpy as np


class VideoIOError(ValueError):
    """A video could not be read or written; the message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class OutputExistsError(VideoIOError):
    """The output exists and overwriting was not asked for."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frame_count: int | None  # None when the container does not say (pipes, mkv)


def _reason(err: Exception) -> str:
    # FFmpeg errors read "[Errno N] Invalid data ...: 'path'"; keep the words only.
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


class VideoReader:
    """Decode a video into (H, W, 3) uint8 RGB frames, one pass, in order.

    `stdin` replaces `sys.stdin.buffer` for `path == "-"` (tests pass a BytesIO).
    Use as a context manager, or call `close()`.
    """

    def __init__(self, path: str, stdin: BinaryIO | None = None):
        self.path = str(path)
        if self.path == "-":
            # FFmpeg's y4m demuxer never seeks, so a pipe works as is.
            source, fmt, name = stdin if stdin is not None else sys.stdin.buffer, "yuv4mpegpipe", "stdin"
        else:
            if not os.path.exists(self.path):
                raise VideoIOError(f"no such file: {self.path}")
            source, fmt, name = self.path, None, self.path
        self._name = name
        try:
            self._container = av.open(source, mode="r", format=fmt)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoIOError(f"{name} is not a video FFmpeg can read: {_reason(err)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoIOError(f"{name} is not a video FFmpeg can read: no video stream")
        self._stream = self._container.streams.video[0]
        self.info = self._probe(self._stream)

    def _probe(self, stream) -> VideoInfo:
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0 or not stream.width or not stream.height:
            self._container.close()
            raise VideoIOError(f"{self._name} is not a video FFmpeg can read: unknown size or frame rate")
        # stream.frames is 0 when the container has no count (y4m, matroska).
        count = int(stream.frames) if stream.frames else None
        return VideoInfo(int(stream.width), int(stream.height), Fraction(rate), count)

    def __iter__(self) -> Iterator[np.ndarray]:
        w, h = self.info.width, self.info.height
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                if (frame.width, frame.height) != (w, h):
                    raise VideoIOError(
                        f"{self._name}: frame {index} is {frame.width}x{frame.height}, "
                        f"expected {w}x{h} (size changes are not supported)")
                # to_ndarray may return a view with row padding (linesize > 3W).
                yield np.ascontiguousarray(frame.to_ndarray(format="rgb24"))  # (H, W, 3)
                index += 1
        except av.error.FFmpegError as err:
            raise VideoIOError(f"{self._name}: cannot decode frame {index}: {_reason(err)}") from None

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_video(path: str, max_frames: int | None = None) -> tuple[np.ndarray, VideoInfo]:
    """Read up to `max_frames` frames: ((T, H, W, 3) uint8 RGB, info)."""
    with VideoReader(path) as reader:
        frames = []
        for frame in reader:
            if max_frames is not None and len(frames) >= max_frames:
                break
            frames.append(frame)
        info = reader.info
    if not frames:
        return np.zeros((0, info.height, info.width, 3), np.uint8), info
    return np.stack(frames), info


@dataclass(frozen=True)
class _Output:
    container: str  # FFmpeg muxer name
    codec: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...] = ()


# Extension -> output. ".y4m"/"-" is what pipes expect (chroma subsampled to
# 4:2:0, so lossy in colour); ".mkv" is FFV1 in bgr0, bit-exact RGB (FFV1 in
# this FFmpeg rejects gbrp/rgb24); ".mp4" is H.264 for playback, lossy.
OUTPUT_EXTENSIONS = {
    ".y4m": _Output("yuv4mpegpipe", "rawvideo", "yuv420p"),
    ".mkv": _Output("matroska", "ffv1", "bgr0"),
    ".mp4": _Output("mp4", "libx264", "yuv420p", (("crf", "18"),)),
}


class VideoWriter:
    """Encode (H, W, 3) uint8 RGB frames into a file or stdout.

    Outputs, by extension of `path`:
      .y4m  YUV4MPEG2 yuv420p (chroma subsampled: colour is not exact)
      -     the same y4m on stdout (or on `stdout` if given), for pipes
      .mkv  FFV1 lossless in bgr0: frames read back exactly
      .mp4  H.264 (libx264, yuv420p, crf 18) for playback: lossy, even sizes only
    Files go to a temporary file in the same folder, renamed over `path` when
    `close()` succeeds; on an exception in the `with` block, or a failing close,
    the temporary file is removed and `path` is untouched. An existing `path`
    raises OutputExistsError before anything is written unless `force=True`.
    """

    def __init__(self, path: str, width: int, height: int, fps: Fraction,
                 force: bool = False, stdout: BinaryIO | None = None):
        self.path = str(path)
        self.width, self.height, self.fps = int(width), int(height), Fraction(fps)
        ext = ".y4m" if self.path == "-" else os.path.splitext(self.path)[1].lower()
        if ext not in OUTPUT_EXTENSIONS:
            raise VideoIOError(f"unsupported output extension {ext or '(none)'!r} for {self.path}; "
                               f"use .y4m, .mkv, .mp4 or - (stdout)")
        out = OUTPUT_EXTENSIONS[ext]
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise VideoIOError(f"bad output geometry {self.width}x{self.height} at {self.fps} fps")
        if out.codec == "libx264" and (self.width % 2 or self.height % 2):
            raise VideoIOError(f"{self.path}: H.264 yuv420p needs even sizes, got {self.width}x{self.height}")
        self._tmp: str | None = None
        self._container = None
        if self.path == "-":
            target = stdout if stdout is not None else sys.stdout.buffer
        else:
            if os.path.exists(self.path) and not force:
                raise OutputExistsError(f"{self.path} exists; use --force to overwrite")
            folder, base = os.path.split(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise VideoIOError(f"no such folder: {folder}")
            # Hidden, unique, same filesystem as the target so os.replace is atomic.
            self._tmp = target = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.part")
        try:
            self._container = av.open(target, mode="w", format=out.container)
            self._stream = self._container.add_stream(out.codec, rate=self.fps, options=dict(out.options))
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = out.pix_fmt
        except (av.error.FFmpegError, OSError) as err:
            self._discard()
            raise VideoIOError(f"cannot write {self.path}: {_reason(err)}") from None
        self._count = 0
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self._closed:
            raise VideoIOError(f"{self.path}: write after close")
        expected = (self.height, self.width, 3)
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.shape != expected:
            got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise VideoIOError(f"{self.path}: frame is {got}, expected {expected} uint8")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self._count  # codec time base is 1/fps, so pts counts frames
        self._mux(vf)
        self._count += 1

    def _mux(self, frame) -> None:
        # The stream reformats rgb24 -> its pix_fmt itself (swscale).
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoIOError(f"cannot write {self.path}: {_reason(err)}") from None

    def close(self) -> None:
        """Flush, finish the file and move it into place."""
        if self._closed:
            return
        self._closed = True
        try:
            self._mux(None)  # drain delayed packets (x264 lookahead)
            self._container.close()
            if self._tmp is not None:
                os.replace(self._tmp, self.path)
                self._tmp = None
        except BaseException as err:
            self._discard()
            if isinstance(err, OSError):
                raise VideoIOError(f"cannot write {self.path}: {_reason(err)}") from None
            raise

    def abort(self) -> None:
        """Stop without producing `path` (the temporary file is removed)."""
        if self._closed:
            return
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        except Exception:  # already failing: the original error matters
            pass
        if self._tmp is not None:
            try:
                os.remove(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str, frames: np.ndarray, fps: Fraction, force: bool = False) -> None:
    """Write a (T, H, W, 3) uint8 RGB clip in one call."""
    _, height, width, _ = frames.shape
    with VideoWriter(path, width, height, fps, force=force) as writer:
        for frame in frames:
            writer.write(frame)


def pad_frames(frames: np.ndarray, multiple_h: int, multiple_w: int, multiple_t: int = 1) -> np.ndarray:
    """Edge-replicate (T, H, W, C) at the end/bottom/right up to the next multiples.

    The autoencoder downsamples by fixed factors, so its input sizes must divide
    them; replicating edges (not zeros) keeps the padding cheap to code.
    """
    if min(multiple_t, multiple_h, multiple_w) < 1:
        raise ValueError("multiples must be >= 1")
    t, h, w = frames.shape[:3]
    pad = [(0, -t % multiple_t), (0, -h % multiple_h), (0, -w % multiple_w)]
    pad += [(0, 0)] * (frames.ndim - 3)
    if not any(after for _, after in pad):
        return frames
    return np.pad(frames, pad, mode="edge")


def crop_frames(frames: np.ndarray, t: int, h: int, w: int) -> np.ndarray:
    """Undo `pad_frames`: the first t frames, top-left h x w (a view)."""
    if t > frames.shape[0] or h > frames.shape[1] or w > frames.shape[2]:
        raise ValueError(f"cannot crop {frames.shape[:3]} to {(t, h, w)}")
    return frames[:t, :h, :w]
