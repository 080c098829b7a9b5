"""Is the prior calibrated? Scale its output logits and measure the rate on held-out footage.

    python benchmarks/prior_temperature.py [--model default] [--clip bikes.mp4:0.5-1]
        [--size 176x144] [--frames 32] [--qualities 2,4,6,8,10] [--scales 1,0.9,1.1]
        [--out benchmarks/results/prior_temperature]

The prior's logits are linear in its output heads (head_w, head_b and the
copy head's copy_w, copy_b; prior.py), so multiplying those four tensors by
s is exactly a temperature 1/s on every table the range coder uses. For each
scale it codes the clip at each quality with the full-mode encoder
(vqcodec.bench.measure.encoder_point) and nearest rounding, so the tokens
are the same at every scale and only their code length moves: payload bytes
per quality, and the change against scale 1. A prior that is calibrated as
trained loses bits at any s != 1; one that is over- (under-) confident on
this footage gains at s < 1 (s > 1). Never run it on the evaluation clip.
Writes prior_temperature.json / .md in --out.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "prior_temperature"
OUTPUT_HEADS = ("head_w", "head_b", "copy_w", "copy_b")  # every tensor the logits are linear in


def main(argv: list[str] | None = None) -> int:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_or_exit

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tuning_clip_options(ap)
    ap.add_argument("--qualities", default="2,4,6,8,10")
    ap.add_argument("--scales", default="1,0.9,1.1")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    import torch

    from vqcodec.bench.measure import encoder_point
    from vqcodec.coding.rounding import rounding_for
    from vqcodec.zoo import load_codec

    qualities = [int(q) for q in args.qualities.split(",")]
    scales = [float(s) for s in args.scales.split(",")]
    if 1.0 not in scales:
        scales.insert(0, 1.0)
    clip = tuning_clip_or_exit(args)  # an evaluation clip, a missing file, a bad size: one line
    rows = {}
    for s in scales:
        # a fresh codec per scale: its integer prior is converted from the float one on first use
        codec = load_codec(args.model)
        codec.rounding = rounding_for(0.0)  # nearest: the same tokens at every scale
        with torch.no_grad():
            for name in OUTPUT_HEADS:  # a prior without the copy head has no copy_w, copy_b
                if hasattr(codec.prior, name):
                    getattr(codec.prior, name).mul_(s)
        rows[s] = [encoder_point(codec, clip.frames, q)["payload_bytes"] for q in qualities]
        print(f"scale {s:<5} payload bytes {rows[s]}", flush=True)
    ref = rows[1.0]
    results = [{"scale": s, "payload_bytes": b,
                "change_percent": [100 * (x / r - 1) for x, r in zip(b, ref)]} for s, b in rows.items()]
    result = {
        "command": " ".join(["python benchmarks/prior_temperature.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.date.today().isoformat(), "machine": platform.platform(),
        "model": args.model, "model_sha256": codec.model_id.sha256.hex(), "clip": clip.source,
        "frames": len(clip.frames), "qualities": qualities,
        "rate": "payload bytes, nearest rounding (vqcodec.bench.measure.encoder_point)", "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prior_temperature.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Prior logit scale on {clip.name} ({len(clip.frames)} frames, {args.size})", "",
             f"`{result['command']}` ({result['date']}, model sha256 {codec.model_id.sha256.hex()[:12]}); "
             "payload bytes with nearest rounding, change against the trained scale 1.", "",
             "| scale | " + " | ".join(f"q{q}" for q in qualities) + " |",
             "|---:|" + "---:|" * len(qualities)]
    for r in results:
        lines.append(f"| {r['scale']:g} | " + " | ".join(
            f"{b} ({c:+.2f} %)" for b, c in zip(r["payload_bytes"], r["change_percent"])) + " |")
    (args.out / "prior_temperature.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
