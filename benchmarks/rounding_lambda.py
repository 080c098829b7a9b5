"""Tune the encoder's rate-distortion rounding (vqcodec/rounding.py) on held-out footage.

    python benchmarks/rounding_lambda.py --model runs/scalar10/scalar10.json
        [--clip bikes.mp4:0.5-1] [--size 176x144] [--frames 32]
        [--qualities 1,3,5,7,9] [--lambdas 0,0.05,0.1,0.2,0.4]
        [--out benchmarks/results/rounding]

For each lambda (0 = nearest rounding, the reference) it codes the clip at
every quality with the full-mode encoder (vqcodec.bench.measure.encoder_point:
payload bits, PSNR-RGB of what the coded tokens decode to) and reports the
BD-rate of each lambda's curve against lambda = 0 over their overlapping
PSNR range (negative: fewer bits for the same PSNR). The default clip is the
second half of bikes.mp4, which no training recipe uses; never tune on the
evaluation clip. Writes rounding.json and rounding.md in --out.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "rounding"


def main(argv: list[str] | None = None) -> int:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_or_exit

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tuning_clip_options(ap)
    ap.add_argument("--qualities", default="1,3,5,7,9")
    ap.add_argument("--lambdas", default="0,0.05,0.1,0.2,0.4")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    from vqcodec.bench.bdrate import bd_rate
    from vqcodec.bench.measure import encoder_point
    from vqcodec.coding.rounding import rounding_for
    from vqcodec.zoo import load_codec

    clip = tuning_clip_or_exit(args)  # an evaluation clip, a missing file, a bad size: one line
    codec = load_codec(args.model)
    if not codec.config.quantizer.scalar:
        raise SystemExit("error: rate-distortion rounding applies to scalar-quantized models only")
    qualities = [int(q) for q in args.qualities.split(",")]
    lambdas = [float(v) for v in args.lambdas.split(",")]
    if 0.0 not in lambdas:
        lambdas.insert(0, 0.0)
    curves = {}
    for lmbda in lambdas:
        codec.rounding = rounding_for(lmbda)
        curves[lmbda] = []
        for q in qualities:
            pt = encoder_point(codec, clip.frames, q) | {"quality": q}
            curves[lmbda].append(pt)
            print(f"lambda {lmbda:<5} q{q:<2} {pt['bpp']:.4f} bpp  {pt['psnr_rgb']:.2f} dB  ({pt['seconds']:.0f} s)",
                  flush=True)
    ref = curves[0.0]
    rows = []
    for lmbda, pts in curves.items():
        bd = 0.0 if lmbda == 0 else bd_rate([p["bpp"] for p in ref], [p["psnr_rgb"] for p in ref],
                                             [p["bpp"] for p in pts], [p["psnr_rgb"] for p in pts])
        rows.append({"lambda": lmbda, "bd_rate_vs_nearest": bd, "points": pts})
    result = {
        "command": "python benchmarks/rounding_lambda.py " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "date": datetime.date.today().isoformat(), "machine": platform.platform(),
        "model": args.model, "clip": clip.source, "frames": len(clip.frames), "qualities": qualities,
        "rate": "payload bits only (vqcodec.bench.measure.encoder_point)", "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rounding.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Rate-distortion rounding on {clip.name} ({len(clip.frames)} frames, {args.size})", "",
             f"`{result['command']}` ({result['date']}); BD-rate on PSNR-RGB against nearest rounding.", "",
             "| lambda | BD-rate vs nearest | " + " | ".join(f"q{q} bpp / dB" for q in qualities) + " |",
             "|---:|---:|" + "---:|" * len(qualities)]
    for r in rows:
        cells = " | ".join(f"{p['bpp']:.4f} / {p['psnr_rgb']:.2f}" for p in r["points"])
        lines.append(f"| {r['lambda']} | {r['bd_rate_vs_nearest']:+.1f} % | {cells} |")
    (args.out / "rounding.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
