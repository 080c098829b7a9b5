"""`vqcodec batch compress|decompress|bench`: a whole corpus, on a Dask cluster.

The machinery is vqcodec.batch (inputs, resume, engine, tasks, manifest,
corpus_report); this file parses options, refuses what cannot work before any
worker starts (one "error:" line, exit 1), shows one progress bar for the corpus
and prints one "warning:" line per input that failed. Exit code: 0 when every
input is done or was already complete, 4 when some failed (the manifest says
which and why), 1 when the batch could not run at all.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from .bench_command import bench_config, bench_options
from .common import Errors, checked_device, command_line
from .encoder_options import check_mode_options, encoder_options
from .output_file import OutputError

EXIT_SOME_FAILED = 4  # as `vqcodec decompress` on a damaged stream: the rest was written
DECODED_FORMATS = ("mkv", "y4m", "mp4")

_CLUSTER_OPTIONS = [
    click.option("--out", "out_dir", required=True, metavar="DIR",
                 help="Output folder; each input's relative path is kept below it."),
    click.option("--workers", type=int, default=None,
                 help="Worker processes of the local cluster (default: one per core, torch threads divided "
                      "between them)."),
    click.option("--scheduler", default=None, metavar="ADDRESS",
                 help="Join this Dask cluster (tcp://host:8786) instead of starting one here. Its workers need "
                      "vqcodec installed and the inputs and --out at the same paths."),
    click.option("--threads", type=int, default=None,
                 help="Torch threads per worker (default: cores / workers locally; the workers' own setting "
                      "with --scheduler)."),
    click.option("--timeout", type=click.FloatRange(min=0.1), default=20.0, show_default=True,
                 help="Seconds to wait for the scheduler and its first worker."),
    click.option("--manifest", "manifest_path", default=None, metavar="FILE",
                 help="Where the JSON manifest goes (default: DIR/manifest.json)."),
    click.option("--retry-failed", is_flag=True,
                 help="Try again the inputs that failed last time although they have not changed."),
    click.option("-f", "--force", is_flag=True,
                 help="Redo every input, overwriting outputs that are complete or made otherwise."),
]


def cluster_options(command):
    for option in reversed(_CLUSTER_OPTIONS):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def batch() -> None:
    """Compress, decompress or benchmark many files at once, on this machine or a Dask cluster.

    INPUT is a file, a folder (searched recursively for video files; .vqv for
    decompress) or a list (a .txt/.list/.lst file, one path per line). Each input
    becomes DIR/<its relative path>.vqv (decompress: .mkv/.y4m/.mp4; bench: .json,
    .md, .png). A re-run skips outputs that are complete and redoes partial ones;
    DIR/manifest.json records every input.

    \b
    Examples:
      vqcodec batch compress videos/ --out compressed/ --quality 4
      vqcodec batch compress paths.txt --out compressed/ --scheduler tcp://10.0.0.5:8786
      vqcodec batch decompress compressed/ --out decoded/ --format y4m
      vqcodec batch bench clips/ --out bench/ --anchors x264:medium --frames 64
    """


def _out_folder(out_dir: str) -> Path:
    """--out, checked (made only when something is written into it)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a folder")
    return out


def _absolute_model(model: str | None) -> str | None:
    """A model given as a path is sent to the workers as an absolute path (their cwd is not ours)."""
    if model and (model.endswith((".json", ".safetensors")) or os.sep in model):
        return os.path.abspath(model)
    return model


def _cluster(workers, scheduler, threads, timeout):
    from vqcodec.batch.engine import ClusterConfig

    return ClusterConfig(workers=workers, scheduler=scheduler, threads=threads, timeout_s=timeout)


class _Bar:
    """One bar for the corpus: files done of all, and the frames coded so far, live."""

    def __init__(self, total: int, label: str):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=f"batch {label}", unit="file", disable=None, file=sys.stderr,
                        leave=False)
        self.frames, self.start = 0, time.monotonic()

    def frames_done(self, n: int) -> None:
        self.frames += n
        rate = self.frames / max(1e-9, time.monotonic() - self.start)
        self.bar.set_postfix_str(f"{self.frames} frames, {rate:.1f} frames/s")

    def file_done(self, result) -> None:
        if result.status == "failed":
            said = result.input in result.error  # most readers name the file already
            self.bar.write(f"warning: {'' if said else result.input + ': '}{result.error}", file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _run(label: str, task, settings, todo, known, cluster_cfg, out: Path, manifest_path: str | None,
         retry_failed: bool):
    """Run the batch with a bar and a manifest. Inputs that failed last time and have not changed
    are reported again without a worker, unless retry_failed."""
    from dataclasses import asdict

    from vqcodec.batch.engine import run_batch
    from vqcodec.batch.manifest import Manifest, carried_over, previous_entries, remembered_failures
    from vqcodec.bench.report import report_header

    path = Path(manifest_path) if manifest_path else out / "manifest.json"
    previous = previous_entries(path)
    known = [carried_over(r, previous) for r in known]
    if not retry_failed:
        todo, again = remembered_failures(todo, previous)
        known += again
    header = report_header(command_line(click.get_current_context(), "inputs"))
    manifest = Manifest(path, label, header, {k: v for k, v in asdict(settings).items() if k != "command"}, None)
    bar = _Bar(len(todo) + len(known), label)
    try:
        run_batch(task, settings, todo, known, cluster_cfg, manifest, bar.file_done, bar.frames_done)
    finally:
        bar.close()
    return manifest


def _report(manifest) -> None:
    counts, totals = manifest.counts(), manifest.to_json()["totals"]
    rate = totals["frames_per_second"]
    click.echo(f"{len(manifest.results)} inputs: {counts['done']} done, {counts['skipped']} already complete, "
               f"{counts['failed']} failed; {totals['frames_coded']} frames"
               + (f" at {rate:.1f} frames/s" if counts["done"] and rate else "")
               + f"; manifest {manifest.path}", err=True)
    if counts["failed"]:
        sys.exit(EXIT_SOME_FAILED)


@batch.command("compress")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@encoder_options
@click.option("--psnr", is_flag=True, help="Decode each output again and record its PSNR-RGB (about doubles the time).")
@cluster_options
def compress(inputs, quality, model, device, mode, keyint, keyframes, latency, arithmetic, rdo, psnr,
             out_dir, workers, scheduler, threads, timeout, manifest_path, retry_failed, force):
    """Compress every video of INPUT... into DIR/<relative path>.vqv, as `vqcodec compress` would."""
    with Errors():
        from vqcodec.batch.inputs import VIDEO_EXTENSIONS, plan_jobs, with_suffix_added
        from vqcodec.batch.resume import sort_streams, stream_target
        from vqcodec.batch.tasks import CompressSettings, compress_file
        from vqcodec.zoo import resolve

        check_mode_options(mode)
        cluster_cfg = _cluster(workers, scheduler, threads, timeout)
        if not scheduler:
            checked_device(device)  # a joined cluster's workers may have the GPU this client lacks
        settings = CompressSettings(_absolute_model(model), quality, mode, keyint, keyframes, latency, arithmetic,
                                    rdo, device, psnr)
        if rdo is not None and not resolve(settings.model).config().quantizer.scalar:
            raise ValueError(f"--rdo needs a scalar-quantized model; {model!r} uses residual VQ")
        target = stream_target(settings)
        out = _out_folder(out_dir)
        jobs = plan_jobs(inputs, out.resolve(), VIDEO_EXTENSIONS, with_suffix_added(".vqv"))
        todo, known = sort_streams(jobs, target, force)
        _report(_run("compress", compress_file, settings, todo, known, cluster_cfg, out, manifest_path,
                     retry_failed or force))


@batch.command("decompress")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(DECODED_FORMATS), default="mkv", show_default=True,
              help="mkv: lossless FFV1 (the exact decoded RGB); y4m: YUV 4:2:0; mp4: H.264, lossy.")
@click.option("--model", default=None, help="Model to decode with (default: the one each stream names).")
@click.option("--device", type=click.Choice(("cpu", "cuda")), default="cpu", show_default=True)
@cluster_options
def decompress(inputs, fmt, model, device, out_dir, workers, scheduler, threads, timeout, manifest_path,
               retry_failed, force):
    """Decode every .vqv of INPUT... into DIR/<relative path>.FORMAT (clip.mp4.vqv -> clip.mkv).

    A damaged stream is reported and skipped (decode it alone with `vqcodec decompress`
    to keep the frames before the damage).
    """
    with Errors():
        from vqcodec.batch.inputs import VQV_EXTENSIONS, decoded_name, plan_jobs
        from vqcodec.batch.resume import sort_videos
        from vqcodec.batch.tasks import DecompressSettings, decompress_file

        cluster_cfg = _cluster(workers, scheduler, threads, timeout)
        if not scheduler:
            checked_device(device)
        settings = DecompressSettings(_absolute_model(model), device)
        out = _out_folder(out_dir)
        jobs = plan_jobs(inputs, out.resolve(), VQV_EXTENSIONS, decoded_name(f".{fmt}"))
        todo, known = sort_videos(jobs, force)
        _report(_run("decompress", decompress_file, settings, todo, known, cluster_cfg, out, manifest_path,
                     retry_failed or force))


@batch.command("bench")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@bench_options
@cluster_options
def bench(inputs, frames, size, qualities, modes, anchors, model, device, ms_ssim, rdo,
          out_dir, workers, scheduler, threads, timeout, manifest_path, retry_failed, force):
    """`vqcodec bench` on every video of INPUT...: a report per clip, then the corpus.

    Per clip: DIR/<relative path>.json/.md/.png, as `vqcodec bench` writes them. For
    the corpus: DIR/summary.md (BD-rate per clip) and DIR/corpus.json/.md/.png (every
    clip pooled into one rate-distortion curve per codec, and its BD-rate). Clips
    are measured side by side, so their speed columns share the machine.
    """
    with Errors():
        from vqcodec.batch.corpus_report import write_corpus_report
        from vqcodec.batch.inputs import VIDEO_EXTENSIONS, plan_jobs, with_suffix_added
        from vqcodec.batch.resume import sort_reports
        from vqcodec.batch.tasks import BenchSettings, bench_file
        from vqcodec.zoo import resolve

        cfg, wh = bench_config(frames, size, qualities, modes, anchors, ms_ssim)
        cluster_cfg = _cluster(workers, scheduler, threads, timeout)
        if not scheduler:
            checked_device(device)
        entry = resolve(_absolute_model(model))
        offered = entry.config().qualities
        unknown = [q for q in (cfg.qualities or ()) if q not in offered]
        if unknown:
            raise ValueError(f"--qualities {unknown} not offered by model {entry.name!r} "
                             f"(it has {offered[0]}..{offered[-1]})")
        command = tuple(command_line(click.get_current_context(), "inputs"))
        settings = BenchSettings(cfg, _absolute_model(model), rdo, device, frames, wh, command)
        out = _out_folder(out_dir)
        jobs = plan_jobs(inputs, out.resolve(), VIDEO_EXTENSIONS, with_suffix_added(".json"))
        todo, known = sort_reports(jobs, cfg, entry.sha256().hex(), frames, wh, force)
        manifest = _run("bench", bench_file, settings, todo, known, cluster_cfg, out, manifest_path,
                        retry_failed or force)
        reports = [r.output for r in manifest.results if r.status != "failed"]
        if reports:
            summary = write_corpus_report(reports, out, manifest.header)
            click.echo(summary)
        _report(manifest)
