"""Atomic output files: write to a hidden temporary file beside the target and
rename it into place only when everything succeeded, so a failed run never
leaves a partial file and never clobbers an existing one without --force."""
from __future__ import annotations

import os
import secrets
import sys
from contextlib import contextmanager
from typing import BinaryIO, Iterator


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
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.part")
    f = open(tmp, "wb")
    try:
        yield f
        f.close()
        os.replace(tmp, path)
    except BaseException:
        f.close()
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
