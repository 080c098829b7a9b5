"""Atomic output files: write to a hidden temporary file beside the target and
rename it into place only when everything succeeded (vqcodec.atomic_file), so a
failed run never leaves a partial file and never clobbers an existing one without --force."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from vqcodec.atomic_file import atomic_file


class OutputError(ValueError):
    pass


def check_output(path: str, force: bool) -> None:
    """Fail early (before any work) if `path` exists and force is off."""
    if path != "-" and os.path.exists(path) and not force:
        raise OutputError(f"{path} exists; use --force to overwrite")
    if path != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise OutputError(f"no such folder: {os.path.dirname(os.path.abspath(path))}")


@contextmanager
def atomic_output(path: str, force: bool) -> Iterator[BinaryIO]:
    """Binary file for `path` ("-" = stdout), committed on clean exit only."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    check_output(path, force)
    with atomic_file(path) as f:
        yield f
