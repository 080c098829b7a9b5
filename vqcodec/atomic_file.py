"""Files that appear whole or not at all.

`atomic_file(path)` writes to a hidden temporary file beside the target
(`.NAME.XXXXXXXX.part`: same folder, so the rename cannot cross filesystems)
and renames it into place only when the block ends cleanly; a failure or an
interrupt removes the temporary and leaves whatever was at `path` untouched.
A process killed outright (SIGKILL, power loss) can leave a temporary behind,
never a half-written `path`; `temporaries(path)` finds such leftovers so a
re-run can remove them.

The command line's outputs (cli/output_file.py) and the batch engine's
(vqcodec.batch) both write through here.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

SUFFIX = ".part"


def _temporary(path: str | os.PathLike) -> str:
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{SUFFIX}")


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that becomes `path` (replacing any file there) when the block ends cleanly."""
    tmp = _temporary(path)
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


def temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporaries that atomic_file(path) left behind when its process was killed."""
    p = Path(path)
    if not p.parent.is_dir():
        return []
    # the random part is 8 hex digits: match exactly that, never another file's name
    return sorted(q for q in p.parent.glob(f".{p.name}.*{SUFFIX}")
                  if len(q.name) == len(p.name) + 2 + 8 + len(SUFFIX))
