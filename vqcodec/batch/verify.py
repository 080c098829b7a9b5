"""Is an output already there, complete and right? What lets a re-run skip finished work.

A .vqv counts as complete when its header reads (magic, version, header CRC,
limits), every packet's head CRC and payload CRC match in the order the format
allows (format.container.PacketReader), an END packet closes it at the frame
count the header states, and nothing follows the END packet. The tokens' CRCs
need the model to check (they are verified when the stream is decoded), so a
bit flip inside a payload is caught by the payload CRC, which is what an
interrupted copy or a disk error leaves.

Complete is not enough to skip: the stream must also be what this batch would
write (`StreamTarget`: model name and weights, mode, quality, format version).
A complete stream made with other settings is left alone unless forced.

A decoded video output (batch decompress) is complete when it opens and holds
the stream's frame count at the stream's size.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from vqcodec.errors import ContainerError, NotAVqvFile
from vqcodec.format.container import PacketReader, PacketType, StreamHeader


@dataclass(frozen=True)
class StreamTarget:
    """What a stream written by this batch says in its header."""

    model_name: str
    weights_sha256: bytes
    mode: str  # "full" | "lowlatency"
    quality: int
    version: int

    def mismatch(self, header: StreamHeader) -> str | None:
        """Why `header` is not a stream this batch would write, or None."""
        want = {"model": (self.model_name, self.weights_sha256.hex()[:12]), "mode": self.mode,
                "quality": self.quality, "format version": self.version}
        got = {"model": (header.model_name, header.weights_sha256.hex()[:12]),
               "mode": header.mode.name.lower(), "quality": header.quality, "format version": header.version}
        diff = [f"{k} {got[k]} (this batch: {want[k]})" for k in want if got[k] != want[k]]
        return "; ".join(diff) or None


@dataclass(frozen=True)
class StreamCheck:
    """What is at an output path: nothing, a complete stream, an incomplete one, or not a stream."""

    state: str  # "missing" | "complete" | "partial" | "foreign"
    header: StreamHeader | None = None
    frames: int = 0
    bytes: int = 0
    reason: str | None = None  # why partial or foreign

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def check_stream(path: str | os.PathLike) -> StreamCheck:
    """Read the .vqv at `path` through its END packet, checking every CRC the container holds."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return StreamCheck("missing")
    except OSError as e:
        return StreamCheck("foreign", reason=f"cannot read it: {e.strerror}")
    with f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:  # a file created and never written: an interrupted copy
            return StreamCheck("partial", bytes=0, reason="empty")
        try:
            header = StreamHeader.read(f)
        except NotAVqvFile as e:
            return StreamCheck("foreign", bytes=size, reason=str(e))
        except ContainerError as e:
            return StreamCheck("partial", bytes=size, reason=str(e))
        reader, last = PacketReader(f, header), None
        try:
            while (packet := reader.read_packet()) is not None:
                last = packet
        except ContainerError as e:
            return StreamCheck("partial", header, reader.next_frame, size, str(e))
        if last is None or last.kind is not PacketType.END:
            return StreamCheck("partial", header, reader.next_frame, size,
                               f"no END packet after frame {reader.next_frame}")
        if reader.offset != size:
            return StreamCheck("partial", header, last.first_frame, size,
                               f"{size - reader.offset} bytes after the END packet")
        return StreamCheck("complete", header, last.first_frame, size)


def check_video(path: str | os.PathLike, frames: int, width: int, height: int) -> str | None:
    """None if the video at `path` holds `frames` frames of width x height; else why not."""
    from vqcodec.media.video_io import VideoReader

    if not os.path.exists(path):
        return "missing"
    try:
        with VideoReader(str(path)) as reader:
            if (reader.info.width, reader.info.height) != (width, height):
                return f"{reader.info.width}x{reader.info.height}, the stream is {width}x{height}"
            count = sum(1 for _ in reader)
    except ValueError as e:
        return str(e)
    return None if count == frames else f"{count} frames, the stream holds {frames}"
