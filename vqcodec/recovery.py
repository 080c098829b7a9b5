"""Decoding past damage: keep every frame before it, resume at the next intra period.

A .vqv file damaged in the middle (a flipped byte, a lost block, a spliced cut)
should cost the frames of the damaged intra period, not the rest of the recording.
RecoveringDecoder reads a seekable stream with a StreamDecoder; when decoding
fails (CRC, order, truncation, token mismatch) it records the damage, seeks to the
byte after the start of the failing packet, and starts a fresh StreamDecoder that
scans for the next HEADER packet (format v3 puts one before every INTRA packet but
the first), exactly as a late joiner does. Streams of versions 1 and 2 have no
HEADER packets: they stop at the first damage.

    rec = RecoveringDecoder(codec, open("cam.vqv", "rb"))
    for index, frame in rec:        # indices jump over what was lost
        ...
    rec.damages                     # [Damage(offset, first_lost, resumed, reason)]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from .codec import Codec
from .errors import RECOVERABLE, TruncatedStream
from .format.container import DEFAULT_LIMITS, Limits, StreamHeader, same_stream
from .format.versions import has_header_copies
from .stream import READ_SIZE, StreamDecoder


@dataclass
class Damage:
    offset: int  # byte where the failing packet (or the cut) starts
    first_lost: int  # the first frame that could not be decoded
    resumed: int | None  # the frame decoding resumed at; None: it never did
    reason: str  # the error, one line

    def describe(self, total: int | None) -> str:
        end = self.resumed if self.resumed is not None else total
        lost = (f"frames {self.first_lost}..{end - 1} ({end - self.first_lost})" if end is not None
                else f"every frame from frame {self.first_lost} on")
        tail = f"; resumed at frame {self.resumed}" if self.resumed is not None else ""
        return f"damage at byte {self.offset}: {self.reason}; lost {lost}{tail}"


class RecoveringDecoder:
    """Iterate (frame index, frame (H, W, 3) uint8) over a seekable stream, past damage."""

    def __init__(self, codec: Codec, f: BinaryIO, limits: Limits = DEFAULT_LIMITS):
        self.codec, self.limits, self._f = codec, limits, f
        self.header: StreamHeader | None = None
        self.damages: list[Damage] = []
        self.next_frame = 0  # one past the last frame yielded

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        base, join = self._f.tell(), False
        while base is not None:
            base = yield from self._run(base, join)
            join = True

    def _run(self, base: int, join: bool):
        """Decode from byte `base` until the end or the next damage -> where to resume
        scanning (None: stop)."""
        self._f.seek(base)
        dec = StreamDecoder(self.codec, limits=self.limits, join=join)
        try:
            while chunk := self._f.read(READ_SIZE):
                for index, frame in dec.indexed_frames(chunk):
                    if dec.header is not None and self.header is None:
                        self.header = dec.header
                    if join and self.damages and self.damages[-1].resumed is None:
                        self.damages[-1].resumed = index
                    self.next_frame = index + 1
                    yield index, frame
                if join and dec.header is not None and self.header is not None \
                        and not same_stream(dec.header, self.header):
                    self._damage(base + dec.packet_offset, "another stream follows")
                    return None
            dec.flush()
            return None
        except RECOVERABLE as e:
            if self.header is None and dec.header is not None:
                self.header = dec.header
            if self.header is None or not has_header_copies(self.header.version) or isinstance(e, TruncatedStream) and \
                    self._at_end():
                self._damage(base + dec.packet_offset, e)
                return None  # nothing to resume from: no header, no HEADER packets, or the end
            self._damage(base + dec.packet_offset, e)
            return base + dec.packet_offset + 1

    def _damage(self, offset: int, reason) -> None:
        if not self.damages or self.damages[-1].resumed is not None:
            self.damages.append(Damage(offset, self.next_frame, None, " ".join(str(reason).split())))

    def _at_end(self) -> bool:
        here = self._f.tell()
        more = self._f.read(1)
        self._f.seek(here)
        return not more
