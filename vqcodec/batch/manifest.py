"""The batch's record: every input, its output, bytes, bpp, PSNR where measured, seconds,
worker and error, as one JSON file.

    manifest = Manifest(path, "compress", header, settings, cluster)
    manifest.add(result)          # as each file ends; rewritten at most every WRITE_EVERY_S
    manifest.write()              # at the end (and after an interrupt: what was done stays recorded)

The file is replaced atomically, so a run killed at any moment leaves the
previous complete manifest or the new one, never half of one (and at most a
hidden temporary beside it, which the next run's first write removes). A re-run writes
a new manifest covering every input again: outputs it skipped as complete are
listed as "skipped", with the PSNR the earlier manifest recorded
for the same output of the same size (`previous_entries`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

from vqcodec.atomic_file import temporaries
from vqcodec.batch.inputs import Job
from vqcodec.batch.tasks import FileResult, source_stamp
from vqcodec.bench.report import write_atomic
from vqcodec.bench.report_format import finite_or_none

WRITE_EVERY_S = 5.0  # a corpus of 100k files must not rewrite its manifest 100k times
STATUSES = ("done", "skipped", "failed")


class Manifest:
    def __init__(self, path: str | Path, command: str, header: dict, settings: dict, cluster: dict | None):
        self.path, self.command = Path(path), command
        self.header, self.settings, self.cluster = header, settings, cluster
        self.results: list[FileResult] = []
        self.started = time.time()
        self._written = 0.0

    def add(self, result: FileResult) -> None:
        self.results.append(result)
        if time.monotonic() - self._written >= WRITE_EVERY_S:
            self.write()

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in STATUSES}

    def to_json(self) -> dict:
        done = [r for r in self.results if r.status == "done"]
        wall = time.time() - self.started
        frames = sum(r.frames or 0 for r in done)
        return finite_or_none({
            **self.header,
            "batch": self.command,
            "settings": self.settings,
            "cluster": self.cluster,
            "totals": {**self.counts(), "inputs": len(self.results), "frames_coded": frames,
                       "bytes": sum(r.bytes or 0 for r in self.results if r.status != "failed"),
                       "wall_seconds": wall, "frames_per_second": frames / wall if wall > 0 else None},
            "files": [asdict(r) for r in sorted(self.results, key=lambda r: r.input)],
        })

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._written:  # this run's first write: a killed run's temporary goes
            for tmp in temporaries(self.path):
                tmp.unlink(missing_ok=True)
        write_atomic(self.path, (json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n").encode())
        self._written = time.monotonic()
        return self.path


def previous_entries(path: str | Path) -> dict[str, FileResult]:
    """output -> its entry in an earlier manifest at `path`; {} if there is none or it cannot be
    read (a manifest is a record, never a reason to fail)."""
    try:
        doc = json.loads(Path(path).read_text())
        names = {f.name for f in fields(FileResult)}
        entries = [FileResult(**{k: v for k, v in e.items() if k in names}) for e in doc["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {e.output: e for e in entries}


def carried_over(result: FileResult, previous: dict[str, FileResult]) -> FileResult:
    """A skipped output's PSNR from the run that made it, if that run recorded the same output
    at the same size and frame count (otherwise it is unknown, not guessed)."""
    old = previous.get(result.output)
    if old is None or old.status == "failed" or old.bytes != result.bytes or old.frames != result.frames:
        return result
    return replace(result, psnr_rgb=old.psnr_rgb)


def remembered_failures(todo: list[Job], previous: dict[str, FileResult]) -> tuple[list[Job], list[FileResult]]:
    """Jobs whose input failed in the earlier run and has not changed since (same size and
    modification time) would fail the same way: they are reported again without a worker.
    A failure of the cluster (a dead worker, a lost scheduler) has no stamp and is retried."""
    again, known = [], []
    for job in todo:
        old = previous.get(job.output)
        if old is not None and old.status == "failed" and old.source_stamp is not None \
                and old.input == job.source and old.source_stamp == source_stamp(job.source):
            known.append(replace(old, seconds=None, worker=None, model_loaded=False))
        else:
            again.append(job)
    return again, known
