"""Predicted steps at cycling qualities (format v6): BD-rate of each cycle against a flat one.

    python benchmarks/quality_cycle.py --model MODEL [--clip carphone_pristine.mp4] [--frames 120]
                                       [--size WxH] [--qualities 1,3,5,7,9]
                                       [--cycles "0;1,0,0,0;0,-1"]
                                       [--out benchmarks/results/predictive/quality_cycle.json]

A cycle lists each step's quality offset from the stream's, by the step's
index in its intra period, the intra step's first (modes/predicted.py,
_Steps.QUALITY_CYCLE): "1,0,0,0" codes the intra step and every fourth step
after it one quality higher than the three after them,
as x264 spends more on the frames others are predicted from. The clip is coded
by the full mode at each quality with each cycle (predicted_bits.measure: the
encoder's closed-loop reconstruction, which the decoder reproduces exactly),
and each cycle's curve (payload bytes, PSNR-RGB) is compared with the first
cycle's by BD-rate. Writes the JSON at --out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_cycles(text: str) -> list[tuple[int, ...]]:
    """'0;1,0,0,0' -> [(0,), (1, 0, 0, 0)]"""
    return [tuple(int(x) for x in part.split(",")) for part in text.split(";") if part.strip()]


def main() -> None:
    from predicted_bits import clip_arguments, measure  # this script's folder is on sys.path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    clip_arguments(ap, "1,3,5,7,9")
    ap.add_argument("--cycles", default="0;1,0,0,0;0,-1",
                    help="';'-separated cycles of per-step quality offsets; the first is the anchor")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/predictive/quality_cycle.json"))
    args = ap.parse_args()

    from vqcodec import load_codec
    from vqcodec.bench.bdrate import bd_rate
    from vqcodec.bench.clips import load_clip, parse_size
    from vqcodec.modes import predicted

    clip = load_clip(args.clip, max_frames=args.frames, size=parse_size(args.size) if args.size else None)
    codec = load_codec(args.model)
    qualities = [int(x) for x in args.qualities.split(",")]
    cycles, rows = parse_cycles(args.cycles), []
    rule = predicted._Steps.QUALITY_CYCLE
    try:
        for cycle in cycles:
            predicted._Steps.QUALITY_CYCLE = cycle
            for q in qualities:
                r = measure(codec, clip.frames, q)
                rows.append({"cycle": list(cycle), "quality": q, "payload_bytes": r["payload_bytes"],
                             "psnr_rgb": r["psnr_rgb"], "intra_bytes": r["intra_bytes"],
                             "step_token_bytes": r["step_token_bytes"], "steps_skipped": r["steps_skipped"]})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        predicted._Steps.QUALITY_CYCLE = rule

    def curve(cycle):
        pts = [r for r in rows if tuple(r["cycle"]) == cycle]
        return [r["payload_bytes"] for r in pts], [r["psnr_rgb"] for r in pts]

    anchor = curve(cycles[0])
    summary = [{"cycle": list(c), "bd_rate_vs_first": bd_rate(*anchor, *curve(c))} for c in cycles]
    doc = {"command": "python benchmarks/quality_cycle.py " + " ".join(sys.argv[1:]), "clip": clip.source,
           "size": [clip.width, clip.height], "frames": len(clip.frames), "model": args.model,
           "rule": list(rule), "summary": summary, "points": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"Command: `{doc['command']}`", "", f"{clip.source}, {clip.width}x{clip.height}, {len(clip.frames)} frames",
             "", "| cycle | BD-rate vs " + ",".join(map(str, cycles[0])) + " |", "|---|---:|"]
    lines += [f"| {','.join(map(str, s['cycle']))} | {s['bd_rate_vs_first']:+.1f} % |" for s in summary]
    lines += ["", "| cycle | q | bytes | PSNR-RGB | intra bytes | step token bytes | steps skipped |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {','.join(map(str, r['cycle']))} | {r['quality']} | {r['payload_bytes']:,} | {r['psnr_rgb']:.2f} | "
              f"{r['intra_bytes']:,} | {r['step_token_bytes']:,.0f} | {r['steps_skipped']} |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    for s in summary:
        print(f"cycle {s['cycle']}: {s['bd_rate_vs_first']:+.1f} %")


if __name__ == "__main__":
    main()
