"""Tune the low-latency mode's lambda (LowLatencySettings.lambda_scale) on held-out footage.

    python benchmarks/lowlatency_lambda.py [--model default] [--clip bikes.mp4:0.5-1]
        [--size 192x144] [--frames 48] [--qualities 1,2,3,4,5] [--scales 4,16,32,64,128,256,512]
        [--out benchmarks/results/quality_ladder]

lambda = lambda_scale x the last keyframe's MSE prices a bit of motion side
information in the per-frame choice of copy / forward / bilateral /
bidirectional. For each scale, and each setting (keyframes every 8 at latency
0 and 7, adaptive keyframes at most 32 apart at latency 0), the clip is coded
at every quality and decoded (vqcodec.bench.measure); the BD-rate of each
scale's curve (bpp against PSNR-RGB) is taken against the first scale's, over
their overlapping PSNR range (negative: fewer bits for the same PSNR). The
default clip is the second half of bikes.mp4, which no training recipe uses;
never tune on the evaluation clip. Writes lambda.json and lambda.md in --out.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "quality_ladder"
SETTINGS = {  # name -> bench.measure.LowLatencyMode fields
    "keyint 8, latency 0": {"keyint": 8, "latency": 0},
    "keyint 8, latency 7": {"keyint": 8, "latency": 7},
    "adaptive 32, latency 0": {"keyint": 32, "latency": 0, "policy": "AdaptiveKeyframes"},
}


def curve(codec, clip, setting: dict, scale: float, qualities: list[int]) -> list[dict]:
    from vqcodec.bench.measure import LowLatencyMode
    from vqcodec.media.metrics import psnr_rgb

    mode = LowLatencyMode(f"lowlatency-lambda{scale:g}", lambda_scale=scale, **setting)
    points = []
    for q in qualities:
        _, stats, decoded, _, _ = mode.code(codec, clip.frames, clip.fps, q)  # coded, then decoded
        points.append({"quality": q, "bpp": stats.bits_per_pixel, "psnr_rgb": psnr_rgb(clip.frames, decoded)})
    print(f"  scale {scale:g}: " + " ".join(f"{p['bpp']:.4f}/{p['psnr_rgb']:.2f}" for p in points),
          file=sys.stderr, flush=True)
    return points


def bd(anchor: list[dict], test: list[dict]) -> dict:
    """BD-rate of `test` against `anchor` and the PSNR range it rests on (a curve that
    falls below the anchor's range shares only a sliver of it: read such figures with care)."""
    from vqcodec.bench.bdrate import bd_rate, quality_overlap

    aq, tq = [p["psnr_rgb"] for p in anchor], [p["psnr_rgb"] for p in test]
    try:
        ov = quality_overlap(aq, tq)
        return {"bd_rate": bd_rate([p["bpp"] for p in anchor], aq, [p["bpp"] for p in test], tq),
                "overlap_db": [ov.lo, ov.hi], "overlap_fraction": ov.fraction}
    except ValueError:  # curves that do not overlap in PSNR
        return {"bd_rate": None, "overlap_db": None, "overlap_fraction": None}


def main(argv: list[str] | None = None) -> int:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_or_exit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)
    ap.set_defaults(size="192x144", frames=48)  # issue 31's size and length
    ap.add_argument("--qualities", default="1,2,3,4,5")
    ap.add_argument("--scales", default="4,16,32,64,128,256,512")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    import vqcodec
    from vqcodec.bench.report import report_header

    clip = tuning_clip_or_exit(args)  # an evaluation clip, a missing file, a bad size: one line
    codec = vqcodec.load_codec(args.model)
    qualities = [int(q) for q in args.qualities.split(",")]
    scales = [float(v) for v in args.scales.split(",")]
    doc = report_header(["python", "benchmarks/lowlatency_lambda.py", *(sys.argv[1:] if argv is None else argv)])
    doc |= {"model": args.model, "clip": clip.source, "qualities": qualities, "settings": []}
    for name, setting in SETTINGS.items():
        print(f"{name}:", file=sys.stderr, flush=True)
        curves = {s: curve(codec, clip, setting, s, qualities) for s in scales}
        doc["settings"].append({"setting": name, "rows": [
            {"lambda_scale": s, **bd(curves[scales[0]], pts), "points": pts}
            for s, pts in curves.items()]})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lambda.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [f"# Low-latency lambda on {clip.name} ({clip.count} frames, {args.size})", "",
             f"`{doc['command']}`, {doc['date']}. BD-rate (PSNR-RGB) against lambda_scale {scales[0]:g}; "
             "cells: bpp / PSNR-RGB dB.", "",
             "| setting | lambda_scale | BD-rate | over dB | " + " | ".join(f"q{q}" for q in qualities) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(qualities)]
    for s in doc["settings"]:
        for r in s["rows"]:
            b = "n/a" if r["bd_rate"] is None else f"{r['bd_rate']:+.1f} %"
            over = "-" if r["overlap_db"] is None else "{:.2f}-{:.2f}".format(*r["overlap_db"])
            cells = " | ".join(f"{p['bpp']:.4f} / {p['psnr_rgb']:.2f}" for p in r["points"])
            lines.append(f"| {s['setting']} | {r['lambda_scale']:g} | {b} | {over} | {cells} |")
    (args.out / "lambda.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
