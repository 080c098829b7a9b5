"""Write a comparison: JSON (everything), Markdown (tables), PNG (rate-distortion curves) per clip.

    paths = write_clip_report(result, out_dir, header)   # -> {json, md, png} paths
    write_summary(results, out_dir, header)              # summary.md: BD-rates of all clips

`header` is what a reader needs to trust the numbers and rerun them: the
command line, the date, the machine, library versions (report_header makes
it). Files are written to a temporary name and renamed into place, so an
interrupted run leaves no half-written report.
"""
from __future__ import annotations

import datetime
import io
import json
import math
import shlex
import sys
from dataclasses import asdict, fields
from fractions import Fraction
from pathlib import Path

import numpy as np

from vqcodec.atomic_file import atomic_file
from vqcodec.bench.clips import BenchClip
from vqcodec.bench.compare import METRICS, AnchorSweep, BdResult, BenchConfig, ClipResult
from vqcodec.bench.measure import Quality, RDPoint
from vqcodec.bench.report_format import finite_or_none, fmt, machine_info

RATE_NOTES = {
    "vqcodec": "bytes/bpp/kbps count the whole .vqv file (header, packet framing, end packet)",
    "anchors": "bytes/bpp/kbps count the encoder's packets without its informational settings SEI "
               "(not needed to decode; the conservative choice for vqcodec); details.bpp_all_packets "
               "counts every packet byte; no container either way",
    "bd_rate": "Bjontegaard, piecewise cubic (bjontegaard package), over the overlapping quality range only; "
               "negative = vqcodec needs fewer bits than the anchor for the same quality",
    "quality": "PSNR pooled over the clip (one MSE); PSNR-YUV611 = (6Y+U+V)/8 on BT.601 4:2:0; "
               "MS-SSIM on RGB, 5 scales, averaged over frames and channels",
    "memory": "peak resident memory of the benchmark process during the point (model, clip and Python "
              "included); added_rss_mib is that peak minus the memory just before",
}


def report_header(command: list[str] | None = None) -> dict:
    import av
    import numpy as np
    import torch

    import vqcodec

    return {
        "command": shlex.join(command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": {"vqcodec": vqcodec.__version__, "torch": torch.__version__, "av": av.__version__,
                     "numpy": np.__version__},
    }


def _point_json(p: RDPoint) -> dict:
    return {"curve": p.curve, "codec": p.codec, "mode": p.mode, "setting": p.setting, "bytes": p.bytes,
            "bpp": p.bpp, "kbps": p.kbps, **asdict(p.quality), "encode_fps": p.encode_fps,
            "decode_fps": p.decode_fps, "peak_rss_mib": p.peak_rss_mib, "added_rss_mib": p.added_rss_mib,
            "peak_rss_reset": p.peak_rss_reset, "details": p.details}


def clip_json(result: ClipResult, header: dict) -> dict:
    c = result.clip
    return finite_or_none({
        **header,
        "model": result.model,
        "clip": {"name": c.name, "source": c.source, "width": c.width, "height": c.height, "frames": c.count,
                 "fps": f"{c.fps.numerator}/{c.fps.denominator}", "evaluation_only": c.evaluation_only},
        "settings": asdict(result.config),
        "notes": RATE_NOTES,
        "anchors": [asdict(s) for s in result.sweeps],
        "points": [_point_json(p) for p in result.points],
        "bd_rate": [asdict(b) for b in result.bd],
    })


def read_clip_result(path: Path) -> ClipResult:
    """Rebuild a ClipResult from its JSON report, to redraw tables and plots without
    re-measuring. The frames are not stored: the clip holds an unfilled array of their shape."""
    doc = json.loads(Path(path).read_text())
    c = doc["clip"]
    clip = BenchClip(c["name"], c["source"], np.empty((c["frames"], c["height"], c["width"], 3), np.uint8),
                     Fraction(c["fps"]), c["evaluation_only"])
    st = doc["settings"]
    cfg = BenchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in st.items()})
    quality_keys = [f.name for f in fields(Quality)]

    def point(d: dict) -> RDPoint:
        q = {k: (math.inf if d[k] is None and k != "ms_ssim" else d[k]) for k in quality_keys}
        return RDPoint(d["codec"], d["mode"], d["setting"], d["bytes"], d["bpp"], d["kbps"], Quality(**q),
                       d["encode_fps"], d["decode_fps"], d["peak_rss_mib"], d["added_rss_mib"],
                       d["peak_rss_reset"], d["details"])

    sweeps = tuple(AnchorSweep(a["curve"], a["template"], a["library_versions"], tuple(a["target_psnr_rgb"]),
                               a["note"]) for a in doc["anchors"])
    bd = tuple(BdResult(**{**b, "overlap": tuple(b["overlap"]) if b["overlap"] else None}) for b in doc["bd_rate"])
    return ClipResult(clip, doc["model"], cfg, tuple(point(p) for p in doc["points"]), sweeps, bd)


def header_of(path: Path) -> dict:
    """The command/date/machine/versions header a JSON report was written with."""
    doc = json.loads(Path(path).read_text())
    return {k: doc[k] for k in ("command", "date", "machine", "versions")}


def bd_cell(b) -> str:
    if b.percent is None:
        return "n/a"
    return f"{b.percent:+.0f} %" + (" (thin)" if b.thin else "")


def clip_markdown(result: ClipResult, header: dict, clip_line: str | None = None) -> str:
    """clip_line replaces the line that describes the clip (a pooled corpus is no single clip)."""
    c, m = result.clip, result.model
    ms = result.config.ms_ssim
    lines = [
        f"# {c.name}: vqcodec `{m['name']}` vs {', '.join(s.curve for s in result.sweeps)}",
        "",
        clip_line or f"Clip: {c.source}; {c.width}x{c.height}, {c.count} frames at {float(c.fps):.3g} fps"
        + (" (evaluation only: never trained on)." if c.evaluation_only else "."),
        f"Model `{m['name']}` sha256 {m['sha256'][:16]}…. {header['date']}; `{header['command']}`; "
        f"{header['machine']['cpu_count']} CPUs, torch threads {header['machine']['torch_threads']}.",
        "Rates: vqcodec = whole .vqv file; anchors = packet bytes without the settings SEI. "
        "Speeds are wall clock in one process; memory is the process peak during the point.",
        "",
        "| codec | setting | bytes | bpp | kbps | PSNR-RGB | PSNR-YUV611 |" + (" MS-SSIM |" if ms else "")
        + " enc fps | dec fps | peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|" + ("---:|" if ms else "") + "---:|---:|---:|",
    ]
    for curve, points in result.curves().items():
        for p in points:
            q = p.quality
            lines.append(
                f"| {curve} | {p.setting} | {p.bytes} | {p.bpp:.4f} | {p.kbps:.1f} | {fmt(q.psnr_rgb, '.2f')} | "
                f"{fmt(q.psnr_yuv611, '.2f')} |" + (f" {fmt(q.ms_ssim, '.4f')} |" if ms else "")
                + f" {p.encode_fps:.1f} | {p.decode_fps:.1f} | {p.peak_rss_mib:.0f} |")
    metrics = [k for k in METRICS if k != "ms_ssim" or ms]
    lines += ["", "BD-rate of vqcodec against each anchor (negative: vqcodec needs fewer bits; "
              "over the overlapping quality range only; (thin): overlap under a quarter of the joint range):", "",
              "| vqcodec mode | anchor | " + " | ".join(METRICS[k] for k in metrics) + " |",
              "|---|---|" + "---:|" * len(metrics)]
    pairs = dict.fromkeys((b.test, b.anchor) for b in result.bd)
    for test, anchor in pairs:
        cells = {b.metric: b for b in result.bd if (b.test, b.anchor) == (test, anchor)}
        lines.append(f"| {test} | {anchor} | " + " | ".join(bd_cell(cells[k]) if k in cells else "—"
                                                          for k in metrics) + " |")
    reasons = [f"- {b.test} vs {b.anchor}, {METRICS[b.metric]}: {b.reason}" for b in result.bd if b.reason]
    notes = [f"- {s.note}" for s in result.sweeps if s.note]
    if reasons or notes:
        lines += ["", *notes, *reasons]
    vq = [p for p in result.points if p.codec == "vqcodec"]
    lines += ["", "Coder: payload / ideal bits " + ", ".join(
        f"{p.setting} {fmt(p.details.get('coder_overhead'), '.4f')}" for p in vq) + "; prior saving vs raw "
        "indices " + ", ".join(f"{p.setting} {fmt(100 * (p.details.get('prior_saving_vs_raw') or math.nan), '.1f')} %"
                               for p in vq) + "."]
    return "\n".join(lines) + "\n"


def _style(curve: str, index: int) -> dict:
    if curve.startswith("vqcodec"):
        return {"marker": "o", "linestyle": "-", "linewidth": 2.2, "color": f"C{index}"}
    return {"marker": "s", "linestyle": "--", "linewidth": 1.2, "markersize": 4, "color": f"C{index}"}


def clip_plot_png(result: ClipResult, title: str | None = None) -> bytes:
    """title replaces the clip's name and size in the figure's first line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = [("psnr_rgb", "PSNR-RGB (dB)")] + ([("ms_ssim", "MS-SSIM (RGB)")] if result.config.ms_ssim else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.8), squeeze=False)
    for ax, (metric, label) in zip(axes[0], panels):
        for i, (curve, points) in enumerate(result.curves().items()):
            pts = [(p.bpp, getattr(p.quality, metric)) for p in points]
            pts = [(r, q) for r, q in pts if q is not None and math.isfinite(q)]
            if not pts:
                continue
            ax.plot([r for r, _ in pts], [q for _, q in pts], label=curve, **_style(curve, i))
            if curve.startswith("vqcodec"):
                for p in points:
                    value = getattr(p.quality, metric)
                    if value is not None and math.isfinite(value):
                        ax.annotate(p.setting.replace("=", ""), (p.bpp, value), textcoords="offset points",
                                    xytext=(4, -10), fontsize=7, color=f"C{i}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bits per pixel (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    c = result.clip
    # two short lines: one long line was cut off at both sides of a one-panel figure
    fig.suptitle(f"{title or f'{c.name} ({c.width}x{c.height}, {c.count} frames)'}\n"
                 f"vqcodec '{result.model['name']}' (sha256 {result.model['sha256'][:12]}) vs anchors", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def report_paths(out_dir: Path, clip_name: str) -> dict[str, Path]:
    return {ext: Path(out_dir) / f"{clip_name}.{ext}" for ext in ("json", "md", "png")}


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a hidden temporary file beside `path`, then rename it into place."""
    with atomic_file(path) as f:
        f.write(data)


def write_clip_report(result: ClipResult, out_dir: Path, header: dict) -> dict[str, Path]:
    paths = report_paths(out_dir, result.clip.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = json.dumps(clip_json(result, header), indent=2, allow_nan=False) + "\n"
    write_atomic(paths["json"], doc.encode())
    write_atomic(paths["md"], clip_markdown(result, header).encode())
    write_atomic(paths["png"], clip_plot_png(result))
    return paths


def redraw_clip_report(json_path: Path) -> ClipResult:
    """Rewrite CLIP.md and CLIP.png from CLIP.json (after a change to the tables or plots)."""
    result, header = read_clip_result(json_path), header_of(json_path)
    paths = report_paths(Path(json_path).parent, result.clip.name)
    write_atomic(paths["md"], clip_markdown(result, header).encode())
    write_atomic(paths["png"], clip_plot_png(result))
    return result


def summary_markdown(results: list[ClipResult], header: dict) -> str:
    """One row per clip and vqcodec mode: BD-rate (PSNR-RGB) against every anchor, and the ranges."""
    anchors = list(dict.fromkeys(s.curve for r in results for s in r.sweeps))
    lines = [f"# vqcodec bench summary — {header['date']}", "", f"`{header['command']}`", "",
             "BD-rate on PSNR-RGB (negative: vqcodec needs fewer bits; n/a: the curves do not overlap).", "",
             "| clip | size | frames | vqcodec mode | PSNR-RGB range | bpp range | "
             + " | ".join(anchors) + " |",
             "|---|---|---:|---|---|---|" + "---:|" * len(anchors)]
    for r in results:
        for curve, points in r.curves().items():
            if not curve.startswith("vqcodec"):
                continue
            ps = [p.quality.psnr_rgb for p in points]
            cells = []
            for a in anchors:
                b = next((b for b in r.bd if b.test == curve and b.anchor == a and b.metric == "psnr_rgb"), None)
                cells.append(bd_cell(b) if b else "—")
            lines.append(f"| {r.clip.name} | {r.clip.width}x{r.clip.height} | {r.clip.count} | "
                         f"{curve.removeprefix('vqcodec ')} | {min(ps):.2f}–{max(ps):.2f} dB | "
                         f"{points[0].bpp:.3f}–{points[-1].bpp:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(results: list[ClipResult], out_dir: Path, header: dict) -> Path:
    path = Path(out_dir) / "summary.md"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, summary_markdown(results, header).encode())
    return path
