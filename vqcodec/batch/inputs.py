"""A batch's inputs: the INPUT arguments -> one Job per file, each with its output path.

An INPUT is
- a file: taken as it is, whatever its name (the worker's reader decides whether
  it is a video); its output is named after the file;
- a folder: searched recursively (hidden files and folders skipped, symbolic
  links to folders not followed) for files whose extension says they are what
  the command reads (`VIDEO_EXTENSIONS`, or `.vqv`); outputs mirror the folder's
  tree below it;
- a list (a file ending in .txt, .list or .lst): one path per line, blank lines
  and lines starting with # skipped; relative paths are relative to the list's
  folder and keep that relative path in the output tree; folders in a list are
  searched as above. A listed path that does not exist becomes a job that fails
  ("no such file") rather than stopping the batch: lists go stale.

Every job's output is `out_dir / <relative path><suffix>`, and two inputs that
would write the same output are refused before any work. A relative path never
climbs out of `out_dir` ("../x.mp4" in a list is named by its file name).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# What a folder is searched for when the command reads video: the containers and
# raw streams cameras and editors write. A folder's other files (sidecars, photos,
# notes) are left alone; name a file directly, or in a list, to have it tried anyway.
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .flv .f4v .wmv .asf .mpg .mpeg .m2v .ts .mts .m2ts .3gp .3g2 "
    ".ogv .y4m .nut .mxf .dv .vob .ivf .h264 .264 .hevc .h265 .265".split())
VQV_EXTENSIONS = frozenset({".vqv"})
LIST_EXTENSIONS = frozenset({".txt", ".list", ".lst"})


@dataclass(frozen=True)
class Job:
    source: str  # the input file, absolute
    name: str  # its path relative to the INPUT it came from, "/"-separated: "cam1/0001.mp4"
    output: str  # where its result goes, absolute


@dataclass(frozen=True)
class Found:
    source: Path
    name: PurePosixPath  # relative, never climbing out


def _walk(folder: Path, extensions: frozenset[str]) -> Iterator[Path]:
    # os.walk with sorted names: the same corpus lists in the same order on every machine
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in extensions:
                yield Path(root) / f


def _listed_name(written: Path) -> PurePosixPath:
    """The relative path a list entry keeps: as written (normalised) when it is relative and
    stays below the list's folder, else its last component."""
    if not written.is_absolute():
        parts = Path(os.path.normpath(written)).parts
        if parts and ".." not in parts and parts != (".",):
            return PurePosixPath(*parts)
    return PurePosixPath(written.name or Path(os.path.abspath(written)).name)


def _folder(folder: Path, extensions: frozenset[str]) -> list[Found]:
    return [Found(p, PurePosixPath(*p.relative_to(folder).parts)) for p in _walk(folder, extensions)]


def _list(list_file: Path, extensions: frozenset[str]) -> list[Found]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read the list {list_file}: {getattr(e, 'strerror', None) or e}") from None
    found = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        written = Path(entry)
        path = written if written.is_absolute() else list_file.parent / written
        if path.is_dir():
            found += [Found(f.source, _listed_name(written) / f.name) for f in _folder(path, extensions)]
        else:  # a file, or a stale entry: its job reports it
            found.append(Found(path, _listed_name(written)))
    return found


def find_inputs(args: Sequence[str], extensions: frozenset[str]) -> list[Found]:
    """The files the INPUT arguments name (see the module doc), in order, each once.
    Raises ValueError for an INPUT that does not exist or a list that cannot be read."""
    found: list[Found] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found += _folder(p, extensions)
        elif p.is_file() and p.suffix.lower() in LIST_EXTENSIONS:
            found += _list(p, extensions)
        elif p.is_file():
            found.append(Found(p, PurePosixPath(p.name)))
        else:
            raise ValueError(f"no such file or folder: {arg}")
    seen, unique = set(), []
    for f in found:  # the same file reached twice (a folder and a list): once
        key = os.path.realpath(f.source)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def plan_jobs(args: Sequence[str], out_dir: str | os.PathLike, extensions: frozenset[str],
              output_name: Callable[[PurePosixPath], PurePosixPath]) -> list[Job]:
    """One Job per input file; output_name maps a relative input path to the relative output path.
    Raises ValueError if nothing was found or two inputs would write the same output."""
    found = find_inputs(args, extensions)
    if not found:
        kinds = " or ".join(sorted(extensions)) if len(extensions) < 4 else "video files"
        raise ValueError(f"no inputs: {' '.join(args)} hold no {kinds}")
    jobs, owner = [], {}
    for f in found:
        output = os.path.join(out_dir, *output_name(f.name).parts)
        key = os.path.normcase(os.path.abspath(output))
        if key in owner:
            raise ValueError(f"{owner[key]} and {f.source} would both write {output}; "
                             f"give them distinct names or run them in separate batches")
        owner[key] = f.source
        # absolute: the workers' current folder is not the client's
        jobs.append(Job(os.path.abspath(f.source), str(f.name), os.path.abspath(output)))
    return jobs


def with_suffix_added(suffix: str) -> Callable[[PurePosixPath], PurePosixPath]:
    """clip.mp4 -> clip.mp4.vqv: the source's own extension stays, so clip.mp4 and clip.mov never collide."""
    return lambda name: name.with_name(name.name + suffix)


def decoded_name(extension: str) -> Callable[[PurePosixPath], PurePosixPath]:
    """clip.mp4.vqv -> clip.mkv (the .vqv dropped, then a video extension replaced)."""
    def rename(name: PurePosixPath) -> PurePosixPath:
        stem = name.name[:-len(".vqv")] if name.name.lower().endswith(".vqv") else name.name
        base = PurePosixPath(stem)
        if base.suffix.lower() in VIDEO_EXTENSIONS:
            stem = base.stem
        return name.with_name(stem + extension)
    return rename

