"""Where a motion-compensated model's bits go (format v6): intra GOPs, motion, step tokens, step modes.

    python benchmarks/predicted_bits.py --model MODEL [--clip carphone_pristine.mp4] [--frames 120]
                                        [--size WxH] [--still] [--qualities 2,5,8] [--blocks 16,32]
                                        [--out benchmarks/results/predictive/bits.json]

The clip is coded at each quality by the full mode, as `vqcodec compress`
does (rate-distortion rounding included), and the encoder's own counts are
read back:

- intra: the INTRA packets' payload bytes (the intra GOPs);
- motion: the fields' bits, as the adaptive models priced them when coded;
- step tokens: the predicted steps' token bits under the prior (ideal);
- heads: the INTER packets' step counts and step modes (bytes);
- the INTER payloads' bytes in all (motion + tokens + heads + range-coder flush);
- steps predicted, skipped and intra; the decoded frames' PSNR-RGB (the encoder's closed
  loop reconstruction, which the decoder reproduces exactly: tests/test_predicted.py).

"still_bytes_per_frame" divides the INTER payloads by the predicted frames:
on a still clip, what a frame after the intra GOP costs. Writes the JSON at
--out and a Markdown table beside it (.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def measure(codec, frames: np.ndarray, quality: int, block: int | None = None) -> dict:
    from vqcodec.format import step_modes
    from vqcodec.format.container import PacketType
    from vqcodec.media.metrics import psnr_rgb
    from vqcodec.modes import encoder_for

    t, h, w, _ = frames.shape
    enc = encoder_for("full", codec, w, h, Fraction(25), t, quality, codec.version_for())
    if not hasattr(enc, "step_modes"):
        raise SystemExit(f"model {codec.model_id.name!r} has no motion-compensated coding (format v6)")
    enc.steps.block = block  # None: the encoder's choice by quality
    out, heads, inter_frames = [], 0, 0
    for i, frame in enumerate(frames):
        for p in enc.push(frame) + (enc.flush() if i + 1 == t else []):
            out.append(enc.reconstruction()[: p.frame_count, :h, :w])
            if p.kind == PacketType.INTER:
                heads += step_modes.read_for(codec.version_for(), p.payload)[2]
                inter_frames += p.frame_count
    decoded = np.concatenate(out)
    total = enc.intra_bytes + enc.inter_bytes
    return {
        "quality": quality, "motion_block": enc.steps.block_for(quality), "payload_bytes": total, "bpp": 8 * total / (t * h * w),
        "psnr_rgb": psnr_rgb(frames, decoded),
        "intra_bytes": enc.intra_bytes, "inter_bytes": enc.inter_bytes,
        "motion_bytes": enc.steps.motion_bits / 8, "step_token_bytes": enc.step_bits / 8, "head_bytes": heads,
        "tiles_kept": enc.steps.tiles_kept, "steps_predicted": enc.step_modes[0], "steps_skipped": enc.step_modes[1], "steps_intra": enc.step_modes[2],
        "predicted_frames": inter_frames,
        "inter_bytes_per_frame": enc.inter_bytes / max(1, inter_frames),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", default="carphone_pristine.mp4")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default=None, help="centre crop WxH")
    ap.add_argument("--qualities", default="2,5,8")
    ap.add_argument("--still", action="store_true",
                    help="hold the clip's first frame for every frame: what a still camera costs")
    ap.add_argument("--blocks", default=None,
                    help="motion block sizes to code each quality with, e.g. 16,32 (default: the encoder's choice)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/predictive/bits.json"))
    args = ap.parse_args()
    from vqcodec import load_codec
    from vqcodec.bench.clips import load_clip, parse_size

    clip = load_clip(args.clip, max_frames=args.frames, size=parse_size(args.size) if args.size else None)
    codec = load_codec(args.model)
    if args.still:
        clip = replace(clip, source=f"{clip.source}, its first frame held still",
                       frames=np.repeat(clip.frames[:1], len(clip.frames), axis=0))
    rows = []
    blocks = [None] if args.blocks is None else [int(b) for b in args.blocks.split(",")]
    for q in (int(x) for x in args.qualities.split(",")):
        for block in blocks:
            rows.append(measure(codec, clip.frames, q, block))
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}),
                  flush=True)
    doc = {"command": "python benchmarks/predicted_bits.py " + " ".join(sys.argv[1:]), "clip": clip.source,
           "size": [clip.width, clip.height], "frames": len(clip.frames), "model": args.model, "points": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    cols = ["quality", "motion_block", "bpp", "psnr_rgb", "intra_bytes", "inter_bytes", "motion_bytes", "step_token_bytes",
            "head_bytes", "tiles_kept", "steps_predicted", "steps_skipped", "steps_intra", "inter_bytes_per_frame"]
    lines = [f"Command: `{doc['command']}`", "", f"{clip.source}, {clip.width}x{clip.height}, {len(clip.frames)} frames",
             "", "| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
