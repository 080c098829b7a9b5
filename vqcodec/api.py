"""The file API: frames into a .vqv file, a .vqv file into frames.

    import vqcodec
    stats = vqcodec.compress(frames, "clip.vqv", width=176, height=144, fps=25, quality=4)
    for frame in vqcodec.decompress("clip.vqv"):     # (H, W, 3) uint8, in order
        ...

Both are thin: compress pushes the frames through a StreamEncoder and writes
its packets (a seekable output gets the real frame count in its header at the
end); decompress feeds the bytes to a StreamDecoder, the same driver the
streaming API, the CLI and RecoveringDecoder use, so every way of decoding
agrees on what a stream means.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from fractions import Fraction
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np

from .codec import Codec
from .format.container import DEFAULT_LIMITS, Limits, StreamHeader
from .modes import DEFAULT_MODE
from .stream import CompressStats, StreamDecoder, StreamEncoder

PathOrFile = str | os.PathLike | BinaryIO


@contextmanager
def _opened(target: PathOrFile, mode: str) -> Iterator[BinaryIO]:
    """A binary file for a path (closed afterwards; a failed write leaves no file), or
    the file object given (left open)."""
    if not isinstance(target, (str, os.PathLike)):
        yield target
        return
    f = open(target, mode)
    try:
        yield f
    except BaseException:
        f.close()
        if "w" in mode:
            os.unlink(target)
        raise
    f.close()


def compress(frames: Iterable[np.ndarray], out: PathOrFile, width: int, height: int,
             fps: float | Fraction, quality: int | None = None, mode: str = DEFAULT_MODE,
             model: str | Codec = "default", *, device: str = "cpu", frame_count: int | None = None,
             progress: Callable[[int], None] | None = None, **options) -> CompressStats:
    """Code frames ((H, W, 3) uint8 each, or one (T, H, W, 3) array) into `out`, a path
    or a binary file, as a .vqv stream. mode, model, quality and the options
    (keyint, keyframes, latency, settings, arithmetic) are StreamEncoder's;
    progress(n) is called as each n frames are written."""
    enc = StreamEncoder(width, height, fps, quality, mode, model, device=device, frame_count=frame_count,
                        **options)
    with _opened(out, "wb") as f:
        return enc.write(iter(frames), f, progress)


def decompress(inp: PathOrFile, model: str | Codec | None = None, *, device: str = "cpu",
               header: StreamHeader | None = None, limits: Limits = DEFAULT_LIMITS) -> Iterator[np.ndarray]:
    """Yield the frames (H, W, 3) uint8 of the .vqv stream `inp` (a path or a binary
    file), in order, each as soon as its packet is decoded. model: the model to decode
    with (default: the installed one the stream names); header: the stream's header
    if it was already read from `inp`; limits bound what the stream may ask for
    (lower them for untrusted input). A damaged stream raises (errors.DAMAGED) after
    the frames before the damage."""
    with _opened(inp, "rb") as f:
        dec = StreamDecoder(model, device=device, limits=limits, header=header)
        for _, frame in dec.read_from(f):
            yield frame
