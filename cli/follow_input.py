"""Reading a .vqv file that is still being written (`vqcodec decompress --follow`).

A writer (a camera process, `vqcodec compress - - > live.vqv`, a StreamEncoder
appending packets) grows the file packet by packet. GrowingFile makes the decoder's
reads wait for bytes that are not there yet, like `tail -f`: a read returns short only
once the file has not grown for `idle` seconds. The stream's END packet stops the
decoder before that, so a finished stream never waits; a writer that died mid-stream
costs `idle` seconds, then the stream reads as truncated.
"""
from __future__ import annotations

import time
from typing import BinaryIO


class GrowingFile:
    """File-like: read(n) waits (polling every `poll` s) until n bytes are there, or the
    file has not grown for `idle` s; after that wait, reads no longer block."""

    def __init__(self, f: BinaryIO, idle: float, poll: float = 0.05):
        if idle < 0:
            raise ValueError(f"the --follow wait must be >= 0 seconds, got {idle}")
        self._f, self.idle, self.poll = f, idle, poll
        self.stalled = False  # the writer went quiet for `idle` s: EOF is real

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise ValueError("GrowingFile reads a known number of bytes")
        parts, have = [], 0
        while have < n and (chunk := self.read1(n - have)):  # short only once the file stalls
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def read1(self, n: int = -1) -> bytes:
        """What is there, at most n bytes; waits only while there is nothing (and the
        file has grown within `idle` s): the streaming decoder's read."""
        quiet_since = time.monotonic()
        while True:
            chunk = self._f.read(n)
            if chunk:
                return chunk
            if self.stalled or time.monotonic() - quiet_since >= self.idle:
                self.stalled = True
                return b""
            time.sleep(self.poll)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> GrowingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
