"""Bits and PSNR at each quality in both modes: a lower quality must never cost more bits (issue 31).

    python benchmarks/quality_ladder.py [--model default] [--qualities 1,2,3,4]
                                        [--out benchmarks/results/quality_ladder/ladder.json]

Clips, 48 frames each: the synthetic still camera with two objects moving
across it (vqcodec.bench.scenes.static_scene) at 192x144, as issue 31
measured it; the first 48 frames of bikes.mp4, centre-cropped to 192x144 (the
low-latency mode's lambda was tuned on the clip's second half,
benchmarks/lowlatency_lambda.py); and carphone at its own 176x144 (the
evaluation clip: measured here, never tuned on). Modes: full,
lowlatency (keyframes every 8, latency 0, the default) and lowlatency-l7
(latency 7). Each point codes the clip and decodes the stream
(vqcodec.bench.measure): bpp of the whole stream and PSNR-RGB of what the
decoder gives. Writes the JSON at --out and a Markdown table beside it (.md);
`rising` says whether bpp grows with every step of quality.
"""
from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "quality_ladder" / "ladder.json"
CLIPS = (("synthetic:static", (192, 144)), ("bikes.mp4", (192, 144)), ("carphone_pristine.mp4", None))
FRAMES = 48
MODES = ("full", "lowlatency", "lowlatency-l7")


def ladder(codec, frames, fps: Fraction, mode: str, qualities: list[int]) -> dict:
    from vqcodec.bench.measure import measure_vqcodec

    points = []
    for q in qualities:
        p = measure_vqcodec(codec, mode, frames, fps, q, with_ms_ssim=False)
        points.append({"quality": q, "bytes": p.bytes, "bpp": p.bpp, "psnr_rgb": p.quality.psnr_rgb})
        print(f"  {mode} q{q}: {p.bpp:.4f} bpp, {p.quality.psnr_rgb:.2f} dB", file=sys.stderr, flush=True)
    bpp = [p["bpp"] for p in points]
    return {"mode": mode, "points": points, "rising": all(a < b for a, b in zip(bpp, bpp[1:]))}


def markdown(doc: dict) -> str:
    qs = doc["qualities"]
    lines = [f"# Bits per quality ({doc['frames']} frames, model {doc['model']})", "",
             f"`{doc['command']}`, {doc['date']}. Cells: bpp (whole stream) / PSNR-RGB dB.", "",
             "| clip | mode | " + " | ".join(f"q{q}" for q in qs) + " | bits rise with quality |",
             "|---|---|" + "---:|" * len(qs) + "---|"]
    for clip in doc["clips"]:
        for row in clip["modes"]:
            cells = " | ".join(f"{p['bpp']:.4f} / {p['psnr_rgb']:.2f}" for p in row["points"])
            label = clip["name"] if clip["size"] in clip["name"] else f"{clip['name']} {clip['size']}"
            lines.append(f"| {label} | {row['mode']} | {cells} | {'yes' if row['rising'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--qualities", default="1,2,3,4")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    import vqcodec
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.report import report_header

    qualities = [int(q) for q in args.qualities.split(",")]
    codec = vqcodec.load_codec(args.model)
    doc = report_header(["python", "benchmarks/quality_ladder.py", *(sys.argv[1:] if argv is None else argv)])
    doc |= {"model": args.model, "frames": FRAMES, "qualities": qualities,
            "vqcodec_path": str(Path(vqcodec.__file__).parent), "clips": []}
    for spec, size in CLIPS:
        clip = load_clip(spec, FRAMES, size)
        print(f"{clip.name}: {clip.source}", file=sys.stderr, flush=True)
        doc["clips"].append({"name": clip.name, "source": clip.source, "size": f"{clip.width}x{clip.height}",
                             "modes": [ladder(codec, clip.frames, clip.fps, m, qualities) for m in MODES]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
