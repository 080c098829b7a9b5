"""What a batch worker does with one file: compress it, decompress it, or benchmark it.

Each task takes a Job (inputs.py) and frozen settings, and always returns a
FileResult: an expected failure of this one file (not a video, a damaged
stream, a clip too small for the model) is the result's `error`, so it is
reported and the batch goes on. Only the death of the worker process itself
escapes, and the scheduler then gives the file to another worker
(engine.py).

Outputs are written atomically (vqcodec.atomic_file; VideoWriter does the same
for decoded video), so a worker killed mid-file leaves no partial output, only
a hidden temporary that the next run removes.

While it codes, a task sends the frames it has finished to the client as Dask
events on the batch's topic, so the client's progress bar moves during a long
file, not only between files.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from vqcodec.atomic_file import atomic_file
from vqcodec.batch.inputs import Job
from vqcodec.batch.worker_codec import decoder_codec, encoder_codec
from vqcodec.media.metrics import bits_per_pixel

EVENT_EVERY_S = 0.5  # at most two progress events per second per task: the scheduler relays each


@dataclass(frozen=True)
class FileResult:
    """One input's line in the manifest."""

    input: str
    output: str
    status: str  # "done" | "skipped" (complete from an earlier run) | "failed"
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None  # the .vqv (compress, decompress) or None (bench: see its report)
    bpp: float | None = None
    psnr_rgb: float | None = None  # measured: compress --psnr, or carried over from the run that coded it
    seconds: float | None = None  # wall clock of the task on its worker (model load included)
    worker: str | None = None  # the Dask worker's address
    model_loaded: bool = False  # this task loaded the model into its worker (once per worker and model)
    error: str | None = None
    source_stamp: str | None = None  # "size:mtime_ns" of the input when it failed: unchanged, it fails again


def source_stamp(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class CompressSettings:
    model: str = "default"  # a name, or an absolute path (the client resolves relative ones)
    quality: int | None = None
    mode: str = "full"
    keyint: int | None = None  # None: the mode's default (StreamEncoder)
    keyframes: str = "fixed"
    latency: int = 0
    arithmetic: str = "integer"
    rdo: float | None = None
    device: str = "cpu"
    psnr: bool = False  # decode each output again and measure PSNR-RGB against its source


@dataclass(frozen=True)
class DecompressSettings:
    model: str | None = None  # None: the model each stream names
    device: str = "cpu"


@dataclass(frozen=True)
class BenchSettings:
    config: object  # vqcodec.bench.compare.BenchConfig (typed loosely: bench is imported on the worker)
    model: str = "default"
    rdo: float | None = None
    device: str = "cpu"
    frames: int | None = None
    size: tuple[int, int] | None = None
    command: tuple[str, ...] = ()  # the batch command, written into every report (with this worker's machine)


def batch_clip(frames: int | None, size: tuple[int, int] | None) -> dict:
    """What a bench report records of the frames a batch asked for (--frames, --size), so a
    re-run knows whether the report measured the same frames."""
    return {"frames": frames, "size": list(size) if size else None}


class _Progress:
    """Frames finished, sent to the client as events on `topic` (at most every EVENT_EVERY_S)."""

    def __init__(self, topic: str | None):
        self.topic, self.pending, self.last = topic, 0, time.monotonic()
        try:
            from distributed import get_worker

            self.worker = get_worker()
        except ValueError:  # not in a worker (tests call tasks directly)
            self.worker = None

    def __call__(self, frames: int) -> None:
        self.pending += frames
        if time.monotonic() - self.last >= EVENT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.pending and self.worker is not None and self.topic:
            self.worker.log_event(self.topic, {"frames": self.pending})
        self.pending, self.last = 0, time.monotonic()

    @property
    def address(self) -> str:
        return self.worker.address if self.worker is not None else "local"


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if isinstance(e, (ValueError, LookupError, OSError)) else f"{type(e).__name__}: {text}"


def _failed(job: Job, start: float, progress: _Progress, e: BaseException, loaded: bool) -> FileResult:
    # the input's own failure (not the cluster's): stamped, so a re-run can tell it would fail again
    return FileResult(job.source, job.output, "failed", seconds=time.perf_counter() - start,
                      worker=progress.address, model_loaded=loaded, error=_one_line(e),
                      source_stamp=source_stamp(job.source))


def compress_file(job: Job, s: CompressSettings, topic: str | None = None) -> FileResult:
    """Code job.source into job.output as `vqcodec compress` would, with the worker's cached model."""
    from vqcodec.media.video_io import VideoReader
    from vqcodec.stream import StreamEncoder

    start, progress, loaded = time.perf_counter(), _Progress(topic), False
    try:
        with encoder_codec(s.model, s.device, s.rdo) as held, VideoReader(job.source) as reader:
            loaded, info = held.loaded_now, reader.info
            enc = StreamEncoder(info.width, info.height, info.fps, s.quality, mode=s.mode, model=held.codec,
                                keyint=s.keyint, keyframes=s.keyframes, latency=s.latency, arithmetic=s.arithmetic)
            os.makedirs(os.path.dirname(job.output), exist_ok=True)
            with atomic_file(job.output) as out:
                stats = enc.write(iter(reader), out, progress)
                if stats.frames == 0:  # inside: the output is then discarded, not committed
                    raise ValueError(f"{job.source} holds no frames")
            progress.flush()
            psnr = _psnr(job.source, job.output, held.codec) if s.psnr else None
        return FileResult(job.source, job.output, "done", stats.frames, stats.width, stats.height, stats.bytes,
                          stats.bits_per_pixel, psnr, time.perf_counter() - start, progress.address, loaded)
    except Exception as e:  # one file's failure, whatever it is, is its result: the batch goes on
        return _failed(job, start, progress, e, loaded)


def _psnr(source: str, stream: str, codec) -> float:
    """PSNR-RGB of the decoded `stream` against `source`, the squared error pooled over the clip
    (as media.metrics.psnr_rgb), one frame in memory at a time."""
    from vqcodec.api import decompress
    from vqcodec.media.video_io import VideoReader

    sse, values = 0, 0
    with VideoReader(source) as reader:
        for ref, out in zip(reader, decompress(stream, model=codec), strict=True):
            diff = ref.astype(np.int64) - out
            sse, values = sse + int(np.sum(diff * diff)), values + diff.size
    return math.inf if sse == 0 else 10 * math.log10(255.0 ** 2 * values / sse)


def decompress_file(job: Job, s: DecompressSettings, topic: str | None = None) -> FileResult:
    """Decode job.source (.vqv) into job.output (.mkv/.y4m/.mp4), replacing what is there (the
    client decided it may: resume.sort_videos). A damaged stream fails: a batch conceals nothing."""
    from vqcodec.format.container import StreamHeader
    from vqcodec.media.video_io import VideoWriter
    from vqcodec.stream import StreamDecoder

    start, progress, loaded = time.perf_counter(), _Progress(topic), False
    try:
        size = os.path.getsize(job.source)
        with open(job.source, "rb") as f:
            h = header = StreamHeader.read(f)
            with decoder_codec(header, s.model, s.device) as held:
                loaded, frames = held.loaded_now, 0
                os.makedirs(os.path.dirname(job.output), exist_ok=True)
                with VideoWriter(job.output, h.width, h.height, h.fps, force=True) as writer:
                    for _, frame in StreamDecoder(held.codec, header=header).read_from(f):
                        writer.write(frame)
                        frames += 1
                        progress(1)
        progress.flush()
        return FileResult(job.source, job.output, "done", frames, h.width, h.height, size,
                          bits_per_pixel(size, h.width, h.height, frames), None, time.perf_counter() - start,
                          progress.address, loaded)
    except Exception as e:
        return _failed(job, start, progress, e, loaded)


def bench_file(job: Job, s: BenchSettings, topic: str | None = None) -> FileResult:
    """`vqcodec bench` on one clip: its JSON/MD/PNG report at job.output (the .json) and beside it."""
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.compare import compare_clip
    from vqcodec.bench.report import report_header, write_clip_report

    start, progress, loaded = time.perf_counter(), _Progress(topic), False
    try:
        clip = load_clip(job.source, s.frames, s.size)
        # named after the file, extension included, so clip.mp4 and clip.mov report side by side
        clip = replace(clip, name=PurePosixPath(job.name).name)
        with encoder_codec(s.model, s.device, s.rdo) as held:
            loaded = held.loaded_now
            result = compare_clip(clip, held.codec, s.config)
        paths = write_clip_report(result, Path(job.output).parent,
                                  {**report_header(list(s.command)), "batch_clip": batch_clip(s.frames, s.size)})
        progress(clip.count)
        progress.flush()
        return FileResult(job.source, str(paths["json"]), "done", clip.count, clip.width, clip.height,
                          seconds=time.perf_counter() - start, worker=progress.address, model_loaded=loaded)
    except Exception as e:
        return _failed(job, start, progress, e, loaded)
