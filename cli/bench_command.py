"""`vqcodec bench`: vqcodec side by side with x264/x265 on the user's own clips.

The machinery is vqcodec.bench (clips, measure, compare, report); this file
parses options, checks every output path before the long work starts, and
prints progress to stderr and the summary table to stdout.
"""
from __future__ import annotations

from pathlib import Path

import click

from .common import DEVICES, Errors, checked_device, command_line
from .output_file import OutputError

ANCHOR_HELP = ("Comma-separated anchors CODEC[:PRESET][+TUNE], e.g. x264:medium,x264:veryslow,"
               "x264:zerolatency,x265:medium (the default).")


def _csv(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(v.strip() for v in text.split(",") if v.strip())
    if not items:
        raise ValueError(f"expected a comma-separated list, got {text!r}")
    return items


def _qualities(text: str | None) -> tuple[int, ...] | None:
    items = _csv(text)
    if items is None:
        return None
    try:
        values = tuple(int(v) for v in items)
    except ValueError:
        raise ValueError(f"--qualities takes comma-separated integers, got {text!r}") from None
    if any(v <= 0 for v in values):
        raise ValueError(f"--qualities must be positive, got {text!r}")
    return tuple(dict.fromkeys(values))


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


_BENCH_OPTIONS = [
    click.option("--frames", type=int, default=None,
                 help="Frames per clip (default: all of a file; 48 for synthetic scenes)."),
    click.option("--size", default=None, metavar="WxH",
                 help="Centre-crop files to WxH (never scaled); size of synthetic scenes (default 352x288)."),
    click.option("--qualities", default=None, metavar="Q1,Q2,...", help="vqcodec qualities (default: all of the model's)."),
    click.option("--modes", default="full", show_default=True, metavar="M1,...", help="vqcodec modes to measure."),
    click.option("--anchors", default=None, metavar="A1,...", help=ANCHOR_HELP),
    click.option("--model", default="default", show_default=True, help="Model name or path."),
    click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True),
    click.option("--ms-ssim/--no-ms-ssim", default=True, show_default=True,
                 help="Compute MS-SSIM (about 4 s per 120 QCIF frames and point)."),
    click.option("--rdo", type=click.FloatRange(min=0), default=None, metavar="LAMBDA",
                 help="Scalar models: the encoder's rate-distortion rounding (0 = nearest; default: the tuned value)."),
]


def bench_options(command):
    """Decorator: what to measure (clip frames, qualities, modes, anchors, model), shared with
    `vqcodec batch bench`."""
    for option in reversed(_BENCH_OPTIONS):
        command = option(command)
    return command


def bench_config(frames, size, qualities, modes, anchors, ms_ssim):
    """The options -> (BenchConfig, (W, H) or None); ValueError with the reason."""
    from vqcodec.bench.clips import parse_size
    from vqcodec.bench.compare import DEFAULT_ANCHORS, BenchConfig

    if frames is not None and frames <= 0:
        raise ValueError(f"--frames must be positive, got {frames}")
    cfg = BenchConfig(qualities=_qualities(qualities), modes=_csv(modes),
                      anchors=_csv(anchors) or DEFAULT_ANCHORS, ms_ssim=ms_ssim)
    return cfg, (parse_size(size) if size else None)


@click.command()
@click.argument("clips", metavar="CLIP...", nargs=-1, required=True)
@bench_options
@click.option("--out", "out_dir", default="bench_results", show_default=True,
              help="Folder for CLIP.json / CLIP.md / CLIP.png per clip and summary.md.")
@click.option("-f", "--force", is_flag=True, help="Overwrite reports that already exist in --out.")
def bench(clips, frames, size, qualities, modes, anchors, model, device, out_dir, ms_ssim, force, rdo):
    """Compare vqcodec with x264/x265 on CLIP...: rate, PSNR, MS-SSIM, speed, memory, BD-rate.

    CLIP is a video file, FILE:START-STOP (fractions of its length), a bundled
    sample by name (bikes.mp4, carphone_pristine.mp4), or a generated scene
    synthetic:static or synthetic:pan. Every anchor codes the same RGB frames
    (yuv420p) with its CRF swept to overlap vqcodec's quality range.

    \b
    Examples:
      vqcodec bench my_camera.mp4 --frames 64
      vqcodec bench carphone_pristine.mp4 synthetic:static --qualities 1,2,4 --out results
      vqcodec bench bikes.mp4:0.5-1 --size 352x272 --anchors x264:medium,x265:medium
    """
    with Errors():
        from vqcodec.bench.clips import load_clip

        cfg, wh = bench_config(frames, size, qualities, modes, anchors, ms_ssim)
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out {out_dir} exists and is not a folder")

        from vqcodec import load_codec
        from vqcodec.bench.report import report_header, report_paths, write_clip_report, write_summary
        from vqcodec.bench.compare import compare_clip

        loaded = []
        for spec in clips:  # every clip is read (and every output checked) before the long work
            clip = load_clip(spec, frames, wh)
            targets = list(report_paths(out, clip.name).values())
            if any(c.name == clip.name for c, _ in loaded):
                raise ValueError(f"two clips would both write {clip.name}.*; give distinct clips")
            existing = [str(p) for p in targets if p.exists()]
            if existing and not force:
                raise OutputError(f"{existing[0]} exists; use --force to overwrite")
            loaded.append((clip, spec))
        if (out / "summary.md").exists() and not force:
            raise OutputError(f"{out / 'summary.md'} exists; use --force to overwrite")

        codec = load_codec(model, checked_device(device))
        codec.use_rounding(rdo)
        unknown = [q for q in (cfg.qualities or ()) if q not in codec.qualities]
        if unknown:
            raise ValueError(f"--qualities {unknown} not offered by model {codec.model_id.name!r} "
                             f"(it has {codec.qualities[0]}..{codec.qualities[-1]})")
        header = report_header(command_line(click.get_current_context(), "clips"))
        results = []
        for i, (clip, spec) in enumerate(loaded, 1):
            _stderr(f"[{i}/{len(loaded)}] {clip.name}: {clip.width}x{clip.height}, {clip.count} frames ({clip.source})")
            result = compare_clip(clip, codec, cfg, log=_stderr)
            paths = write_clip_report(result, out, header)
            _stderr(f"  wrote {paths['json']}, {paths['md']}, {paths['png']}")
            results.append(result)
        summary = write_summary(results, out, header)
        click.echo(summary.read_text())
