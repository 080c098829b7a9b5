"""What a run still has to do: the jobs whose outputs are missing or partial.

Before any worker starts, the client looks at every output (verify.py):
- complete and what this batch would write: skipped, listed in the manifest as "skipped";
- partial (an interrupted copy, a truncated file, a bad CRC, no END packet): redone;
- complete but made with other settings, or not this kind of file at all: left alone and
  reported, since overwriting someone's file is never a guess (--force redoes them);
- missing: done.
Temporaries a killed run left beside an output it was writing are removed for every
job that is (re)done: no task of this run has started yet, so none of them is in use.

A decoded video (batch decompress) is complete when it holds its stream's frames
(verify.check_video decodes it: cheap beside the neural decoder, but not free on a
large corpus). Checking on the client means a re-run with nothing to do starts no
cluster at all.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict

from vqcodec.atomic_file import temporaries
from vqcodec.batch.inputs import Job
from vqcodec.batch.tasks import CompressSettings, FileResult, batch_clip
from vqcodec.media.metrics import bits_per_pixel
from vqcodec.batch.verify import StreamTarget, check_stream, check_video


def stream_target(s: CompressSettings) -> StreamTarget:
    """The header fields compress_file's streams will carry, from the model's files alone
    (no weights are loaded here: the client may be a laptop driving a cluster)."""
    from vqcodec.format.versions import coding_of, version_for
    from vqcodec.zoo import resolve

    entry = resolve(s.model)
    cfg = entry.config()
    quality = cfg.qualities[len(cfg.qualities) // 2] if s.quality is None else s.quality
    if quality not in cfg.qualities:
        raise ValueError(f"--quality {quality} is not offered by model {cfg.name!r} "
                         f"(choose {cfg.qualities[0]}..{cfg.qualities[-1]})")
    return StreamTarget(cfg.name, entry.sha256(), s.mode, quality, version_for(s.arithmetic, coding_of(cfg.prior.kind, cfg.autoencoder.motion)))


def _remove_temporaries(paths: Sequence[str]) -> None:
    for path in paths:
        for tmp in temporaries(path):
            tmp.unlink(missing_ok=True)


def sort_streams(jobs: Sequence[Job], target: StreamTarget, force: bool) -> tuple[list[Job], list[FileResult]]:
    """Compress jobs -> (jobs to run, results already known: skipped or refused)."""
    todo, known = [], []
    for job in jobs:
        check = check_stream(job.output)
        refuse = None
        if check.complete:
            mismatch = target.mismatch(check.header)
            if mismatch is None and not force:
                h = check.header
                known.append(FileResult(job.source, job.output, "skipped", check.frames, h.width, h.height,
                                        check.bytes, bits_per_pixel(check.bytes, h.width, h.height, check.frames)))
                continue
            refuse = f"{job.output} exists, made with other settings: {mismatch}"
        elif check.state == "foreign":
            refuse = f"{job.output} exists and is not a .vqv stream ({check.reason})"
        if refuse and not force:
            known.append(FileResult(job.source, job.output, "failed", error=f"{refuse}; use --force to overwrite"))
        else:
            todo.append(job)
    _remove_temporaries([j.output for j in todo])
    return todo, known


def sort_videos(jobs: Sequence[Job], force: bool) -> tuple[list[Job], list[FileResult]]:
    """Decompress jobs -> (jobs to run, results already known: skipped or refused). A stream that
    is not complete is left to its job, whose worker reports why."""
    todo, known = [], []
    for job in jobs:
        if force or not os.path.exists(job.output):
            todo.append(job)
            continue
        stream = check_stream(job.source)
        if not stream.complete:
            todo.append(job)
            continue
        h = stream.header
        why = check_video(job.output, stream.frames, h.width, h.height)
        if why is None:
            known.append(FileResult(job.source, job.output, "skipped", stream.frames, h.width, h.height,
                                    stream.bytes, bits_per_pixel(stream.bytes, h.width, h.height, stream.frames)))
        else:
            known.append(FileResult(job.source, job.output, "failed",
                                    error=f"{job.output} exists and is not this stream's complete decode ({why}); "
                                          f"use --force to overwrite"))
    _remove_temporaries([j.output for j in todo])
    return todo, known


def _report_paths(json_path: str) -> list[str]:
    base = json_path[:-len(".json")]
    return [json_path, base + ".md", base + ".png"]


def report_mismatch(json_path: str, config, sha256: str, frames: int | None, size) -> str | None:
    """None if the bench report at json_path (with its .md and .png) is complete and was measured
    with these settings on this model; else why it has to be measured again."""
    missing = [p for p in _report_paths(json_path) if not os.path.exists(p)]
    if missing:
        return f"no {missing[0]}"
    try:
        doc = json.loads(open(json_path).read())
        settings, model = doc["settings"], doc["model"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"unreadable report: {e}"
    want = json.loads(json.dumps(asdict(config)))  # tuples -> lists, as the report stores them
    if settings != want or model != sha256 or doc.get("batch_clip") != batch_clip(frames, size):
        return "measured with other settings"
    return None


def sort_reports(jobs: Sequence[Job], config, sha256: str, frames: int | None, size,
                 force: bool) -> tuple[list[Job], list[FileResult]]:
    """Bench jobs -> (jobs to run, reports already complete: skipped)."""
    todo, known = [], []
    for job in jobs:
        if not force and report_mismatch(job.output, config, sha256, frames, size) is None:
            known.append(FileResult(job.source, job.output, "skipped"))
        else:
            todo.append(job)
    _remove_temporaries([p for j in todo for p in _report_paths(j.output)])
    return todo, known
