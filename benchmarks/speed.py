"""Speed and memory suite: vqcodec vs x264 medium, encode/decode fps and peak RSS, with ratios.

    python benchmarks/speed.py [--sizes 176x144,352x288,1280x720] [--frames 16] [--qualities 1,4,8]
                               [--model default] [--repeat 1] [--threads N] [--out benchmarks/results]

For each size a deterministic clip is generated (vqcodec.bench.scenes.pan_scene:
a camera pan over a photo, zoomed in when the photo is smaller than the view),
and each codec runs in ITS OWN child process, so the peak resident memory
(VmHWM, reset before every point; see vqcodec.bench.measure.PeakRss) is what
that codec needs: interpreter, libraries, model and clip included. vqcodec
compresses and decompresses the clip in memory at each quality (default: the
model's lowest, middle and highest; one untimed warm-up first), x264 preset
medium codes the same frames at CRF 30 with one encoder thread. Reported:
frames/s for encode and decode (wall clock, fastest of --repeat), bpp and
PSNR-RGB for context, peak RSS, and the ratios vqcodec / x264 for each.

Timings are only comparable within one run on one machine; run it on an idle
machine (the load average before and after is recorded). On the 2-core
development machine, another CPU-heavy job (training) slows torch by up to 10x.

Writes speed.json and speed.md in --out and prints the Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

ANCHOR = "x264:medium"
ANCHOR_CRF = 30.0
FPS = Fraction(25)  # nominal; only the header and the x264 time base see it
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = "176x144,352x288,1280x720"
STEM = "speed"


def size_list(text: str) -> list[tuple[int, int]]:
    """"176x144,352x288" -> [(176, 144), (352, 288)]; positive, even (yuv420p)."""
    sizes = []
    for item in (i for i in text.lower().replace(" ", "").split(",") if i):
        try:
            w, h = (int(v) for v in item.split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"sizes are WIDTHxHEIGHT, comma-separated; got {item!r}") from None
        if w <= 0 or h <= 0 or w % 2 or h % 2:
            raise argparse.ArgumentTypeError(f"size {item!r}: width and height must be positive and even")
        sizes.append((w, h))
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one size")
    return sizes


def _clip(args) -> np.ndarray:
    # The parent renders the clip once per size (the renderer pulls in torch and
    # the photo bank); the children only load the array, so the x264 child's
    # memory is what x264 needs, not what the clip generator needed.
    return np.load(args.clip)


# ------------------------------------------------------------------ children
def worker_vqcodec(args) -> dict:
    import torch

    import vqcodec
    from vqcodec.bench.measure import MODES, PeakRss
    from vqcodec.media.metrics import bits_per_pixel, psnr_rgb

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = args.size
    frames = _clip(args)
    codec = vqcodec.load_codec(args.model)
    mode = MODES["full"]
    mode.code(codec, frames[: min(len(frames), codec.config.gop)], FPS, args.qualities[0])  # warm-up
    points = []
    for q in args.qualities:
        enc, dec, peaks = [], [], []
        for _ in range(args.repeat):
            with PeakRss() as peak:
                stream, stats, decoded, encode_s, decode_s = mode.code(codec, frames, FPS, q)
            enc.append(encode_s)
            dec.append(decode_s)
            peaks.append(peak.mib)
        t = len(frames)
        points.append({"codec": "vqcodec", "setting": f"q={q}", "quality": q, "bytes": len(stream),
                       "bpp": bits_per_pixel(len(stream), w, h, t), "psnr_rgb": psnr_rgb(frames, decoded),
                       "encode_fps": t / min(enc), "decode_fps": t / min(dec), "encode_seconds_all": enc,
                       "decode_seconds_all": dec, "peak_rss_mib": max(peaks)})
    return {"points": points, "torch_threads": torch.get_num_threads(),
            "model": {"name": codec.model_id.name, "sha256": codec.model_id.sha256.hex(),
                      "qualities": list(codec.qualities)}}


def worker_x264(args) -> dict:
    from vqcodec.bench.anchors import encode_anchor, parse_anchor
    from vqcodec.bench.measure import PeakRss
    from vqcodec.media.metrics import bits_per_pixel, psnr_rgb

    w, h = args.size
    frames = _clip(args)
    cfg = replace(parse_anchor(ANCHOR), crf=ANCHOR_CRF)
    runs, peaks = [], []
    for _ in range(args.repeat):
        with PeakRss() as peak:
            runs.append(encode_anchor(frames, FPS, cfg))
        peaks.append(peak.mib)
    r, t = runs[0], len(frames)
    point = {"codec": "x264 medium", "setting": f"crf={ANCHOR_CRF:g}", "bytes": r.packet_bytes,
             "bpp": bits_per_pixel(r.packet_bytes, w, h, t), "psnr_rgb": psnr_rgb(frames, r.decoded),
             "encode_fps": t / min(x.encode_seconds for x in runs),
             "decode_fps": t / min(x.decode_seconds for x in runs),
             "encode_seconds_all": [x.encode_seconds for x in runs],
             "decode_seconds_all": [x.decode_seconds for x in runs], "peak_rss_mib": max(peaks)}
    return {"points": [point], "anchor": {"config": asdict(cfg), "encoder_options": cfg.encoder_options(),
                                          "encoder_info": r.encoder_info, "library_versions": r.library_versions}}


def run_child(kind: str, args, size: tuple[int, int], clip: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--clip", str(clip),
           "--sizes", f"{size[0]}x{size[1]}", "--frames", str(args.frames), "--model", args.model,
           "--repeat", str(args.repeat)]
    if args.qualities:
        cmd += ["--qualities", ",".join(map(str, args.qualities))]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} at {size[0]}x{size[1]} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


# ------------------------------------------------------------------- report
def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def markdown(report: dict) -> str:
    from vqcodec.bench.report_format import fmt

    m = report["machine"]
    lines = [
        f"# vqcodec speed and memory — model `{report['model']['name']}` (sha256 {report['model']['sha256'][:16]}…)",
        "",
        f"{report['date']}, `{report['command']}`; {m['platform']}, {m['cpu_count']} CPUs, torch threads "
        f"{report['torch_threads']}, x264 1 thread. Load average before {fmt_load(m['load_average_at_start'])}, "
        f"after {fmt_load(m['load_average_at_end'])}.",
        "",
        f"Clip: vqcodec.bench.scenes.pan_scene, {report['settings']['frames']} frames per size. Frames/s are wall "
        f"clock in memory (fastest of {report['settings']['repeat']}); peak RSS is each codec's own process "
        "(Python, libraries, model and clip included). Ratios are vqcodec / x264 (fps below 1: vqcodec slower).",
        "",
        "| size | codec | setting | bpp | PSNR-RGB | enc fps | dec fps | peak RSS MiB | enc ratio | dec ratio | RSS ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in report["runs"]:
        size = f"{run['width']}x{run['height']}"
        x = run["x264"]
        for p in run["vqcodec"] + [x]:
            is_x = p is x
            lines.append(
                f"| {size} | {p['codec']} | {p['setting']} | {p['bpp']:.4f} | {fmt(p['psnr_rgb'], '.2f')} | "
                f"{p['encode_fps']:.2f} | {p['decode_fps']:.2f} | {p['peak_rss_mib']:.0f} | "
                + (" | | |" if is_x else
                   f"{fmt(ratio(p['encode_fps'], x['encode_fps']), '.4f')} | "
                   f"{fmt(ratio(p['decode_fps'], x['decode_fps']), '.4f')} | "
                   f"{fmt(ratio(p['peak_rss_mib'], x['peak_rss_mib']), '.1f')} |"))
    return "\n".join(lines) + "\n"


def fmt_load(load: list[float] | None) -> str:
    return "n/a" if load is None else "/".join(f"{v:.2f}" for v in load)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=size_list, default=size_list(DEFAULT_SIZES),
                        help=f"comma-separated WIDTHxHEIGHT (default {DEFAULT_SIZES})")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--qualities", type=lambda s: [int(v) for v in s.split(",") if v], default=None,
                        help="comma-separated qualities (default: the model's lowest, middle and highest)")
    parser.add_argument("--model", default="default", help="model name or path (default: default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--repeat", type=int, default=1, help="time each point N times, keep the fastest")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N) in the vqcodec child")
    parser.add_argument("--worker", choices=["vqcodec", "x264"], help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames <= 0 or args.repeat <= 0 or (args.threads is not None and args.threads <= 0):
        parser.error("--frames, --repeat and --threads must be positive")
    if args.worker:
        args.size = args.sizes[0]
        print(json.dumps((worker_vqcodec if args.worker == "vqcodec" else worker_x264)(args)))
        return 0

    from vqcodec.bench.report import report_header
    from vqcodec.bench.report_format import finite_or_none, log
    from vqcodec.zoo import resolve

    if args.qualities is None:
        q = sorted(resolve(args.model).config().qualities)
        args.qualities = list(dict.fromkeys([q[0], q[(len(q) - 1) // 2], q[-1]]))
    header = report_header(["python", "benchmarks/speed.py", *(sys.argv[1:] if argv is None else argv)])
    report = {**header, "settings": {"sizes": [f"{w}x{h}" for w, h in args.sizes], "frames": args.frames,
                                     "qualities": args.qualities, "repeat": args.repeat, "threads_arg": args.threads,
                                     "anchor": ANCHOR, "anchor_crf": ANCHOR_CRF, "fps_nominal": str(FPS),
                                     "clip": "vqcodec.bench.scenes.pan_scene(frames, width, height)",
                                     "isolation": "one child process per codec and size"},
              "runs": []}
    log(f"sizes {report['settings']['sizes']}, {args.frames} frames, qualities {args.qualities}")
    from vqcodec.bench.scenes import pan_scene

    for w, h in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "clip.npy"
            np.save(clip, pan_scene(args.frames, w, h))
            vq = run_child("vqcodec", args, (w, h), clip)
            x = run_child("x264", args, (w, h), clip)
        for p in vq["points"]:
            log(f"[{w}x{h}] vqcodec {p['setting']}: enc {p['encode_fps']:.2f} / dec {p['decode_fps']:.2f} fps, "
                f"{p['peak_rss_mib']:.0f} MiB, {p['bpp']:.4f} bpp, {p['psnr_rgb']:.2f} dB")
        xp = x["points"][0]
        log(f"[{w}x{h}] x264 medium: enc {xp['encode_fps']:.1f} / dec {xp['decode_fps']:.1f} fps, "
            f"{xp['peak_rss_mib']:.0f} MiB")
        for p in vq["points"]:
            p["ratio_vs_x264"] = {"encode_fps": ratio(p["encode_fps"], xp["encode_fps"]),
                                  "decode_fps": ratio(p["decode_fps"], xp["decode_fps"]),
                                  "peak_rss": ratio(p["peak_rss_mib"], xp["peak_rss_mib"])}
        report["runs"].append({"width": w, "height": h, "frames": args.frames, "vqcodec": vq["points"],
                               "x264": xp})
        report["model"], report["torch_threads"], report["anchor"] = vq["model"], vq["torch_threads"], x["anchor"]
    report["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(finite_or_none(report), indent=2, allow_nan=False) + "\n")
    text = markdown(report)
    (args.out / f"{STEM}.md").write_text(text)
    log(f"wrote {args.out / (STEM + '.json')}, {args.out / (STEM + '.md')}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
