"""What the predicted steps' motion fields cost and what prediction they buy, by block size and search penalty.

    python benchmarks/motion_fields.py [--clip carphone_pristine.mp4] [--frames 120] [--size WxH]
                                       [--blocks 16,32,64] [--biases 4,64]
                                       [--out benchmarks/results/predictive/motion_fields_carphone.json]

No model is needed: the steps are those of a format v6 stream (an intra GOP of
16 frames, then 2-frame steps, packets of 8 steps), each predicted from the
ORIGINAL frame before it (a coder predicts from its decoded frame, so the
figures are the prediction's ceiling). For each block size and search penalty
(SAD per pixel step away from zero or the dominant motion):

- field_bytes: the fields coded as the stream codes them (side_info's
  step_field: still flag, then the vectors; adaptive models reset per packet),
  as the models price them (the range coder's flush is shared with the tokens);
- pred_psnr: PSNR-RGB of the prediction clips against the steps' frames;
- and the same two for the zero field (the reference held still).

Writes the JSON at --out and a Markdown table beside it (.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOP, STEP, PACKET_STEPS = 16, 2, 8


def measure(frames: np.ndarray, block: int, bias: int | None) -> dict:
    """bias None: the zero field (no search)."""
    from vqcodec.motion import compensation as motion
    from vqcodec.motion.prediction import predict, still_field
    from vqcodec.motion.side_info import SideWriter

    writer, bits, sse, samples = None, 0.0, 0.0, 0
    for n, s in enumerate(range(GOP, len(frames) - STEP + 1, STEP)):
        if n % PACKET_STEPS == 0:
            writer = SideWriter()
        ref, target = frames[s - 1], frames[s: s + STEP]
        if bias is None:
            field = still_field(*ref.shape[:2], block)
        else:
            field = motion.estimate(motion.luma(target[-1]), motion.luma(ref), block=block, bias=bias)
        bits += writer.step_field_bits(field)
        writer.step_field(field)
        d = predict(ref, field, STEP, block).astype(np.float64) - target
        sse, samples = sse + float((d * d).sum()), samples + d.size
    return {"block": block, "bias": bias, "field_bytes": round(bits / 8),
            "pred_psnr": 10 * np.log10(255.0 ** 2 / (sse / samples))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default="carphone_pristine.mp4")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default=None, help="centre crop WxH")
    ap.add_argument("--blocks", default="16,32,64")
    ap.add_argument("--biases", default="4,64")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/predictive/motion_fields.json"))
    args = ap.parse_args()
    from vqcodec.bench.clips import load_clip, parse_size

    clip = load_clip(args.clip, max_frames=args.frames, size=parse_size(args.size) if args.size else None)
    rows = [measure(clip.frames, 16, None)]
    for block in (int(b) for b in args.blocks.split(",")):
        for bias in (int(b) for b in args.biases.split(",")):
            rows.append(measure(clip.frames, block, bias))
            print(json.dumps(rows[-1]), flush=True)
    doc = {"command": "python benchmarks/motion_fields.py " + " ".join(sys.argv[1:]), "clip": clip.source,
           "size": [clip.width, clip.height], "frames": len(clip.frames), "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"Command: `{doc['command']}`", "", f"{clip.source}, {clip.width}x{clip.height}, "
             f"{len(clip.frames)} frames (steps after a 16-frame GOP, predicted from the original frame)", "",
             "| block | search penalty | field bytes | prediction PSNR-RGB |", "|---:|---:|---:|---:|"]
    for r in rows:
        bias = "zero field" if r["bias"] is None else r["bias"]
        lines.append(f"| {r['block']} | {bias} | {r['field_bytes']:,} | {r['pred_psnr']:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
