"""How fine the predicted steps' motion vectors should be: whole, half or quarter pixels.

    python benchmarks/motion_precision.py [--model default] [--clip bikes.mp4:0.5-1] [--size 176x144]
                                          [--frames 64] [--qualities 2,4,6,8] [--precisions 1,2,4]
                                          [--fine-from Q]
                                          [--out benchmarks/results/predictive/subpel/bikes.json]

The clip is compressed and decompressed at each quality by the full mode, as
`vqcodec compress` does, once per precision: the format's motion precision
(format/versions.py: motion_precision, 1 in v6 and 4 in v7) is replaced for
the run, so the encoder searches and the decoder warps in 1/precision
pixels (the side information's range grows with it). Reported per precision:
bytes and PSNR-RGB per quality (of what the decoder decoded), encode seconds,
and the BD-rate (PSNR-RGB) against the first precision listed.

--fine-from Q sets the lowest quality at which the encoder may send a fine
field (StepEncoder.FINE_FROM; below it every field is in whole pixels even
where the format allows finer): --fine-from 1 measures fine fields at every
quality.

Choose on held-out footage (the default: the second half of bikes.mp4), not
on the evaluation clip. Writes the JSON at --out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def run(codec, frames: np.ndarray, qualities: list[int], precision: int) -> dict:
    from vqcodec.bench.measure import full_mode_points
    from vqcodec.modes import steps as predicted  # the step coder reads the precision

    real = predicted.motion_precision
    predicted.motion_precision = lambda version: precision  # what the encoder and decoder read
    try:
        rows, seconds = full_mode_points(codec, frames, qualities)
    finally:
        predicted.motion_precision = real
    return {"precision": precision, "points": rows, "encode_seconds": seconds}


def main() -> None:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_and_motion_codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)  # --model, --clip, --size, --frames
    ap.set_defaults(frames=64)
    ap.add_argument("--qualities", default="2,4,6,8")
    ap.add_argument("--precisions", default="1,2,4")
    ap.add_argument("--fine-from", type=int, default=None, help="StepEncoder.FINE_FROM for the run")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/predictive/subpel/bikes.json"))
    args = ap.parse_args()
    if args.fine_from is not None:
        from vqcodec.modes.steps import StepEncoder

        StepEncoder.FINE_FROM = args.fine_from

    from vqcodec.bench.bdrate import points_bd_rate
    from vqcodec.bench.report_format import write_probe_report

    clip, codec = tuning_clip_and_motion_codec(args)  # never the evaluation clip
    qualities = [int(q) for q in args.qualities.split(",")]
    results = []
    for p in (int(v) for v in args.precisions.split(",")):
        r = run(codec, clip.frames, qualities, p)
        r["bd_rate_vs_first"] = points_bd_rate((results[0] if results else r)["points"], r["points"])
        results.append(r)
        print(f"precision 1/{p}: {[x['bytes'] for x in r['points']]} bytes, "
              f"{[round(x['psnr_rgb'], 2) for x in r['points']]} dB, BD-rate {r['bd_rate_vs_first']:+.2f} %",
              flush=True)
    write_probe_report(args.out, codec, clip, args.size, "Motion precision", ["precision", "encode s"],
                       lambda r: [f"1/{r['precision']} pixel", f"{r['encode_seconds']:.1f}"], results)

if __name__ == "__main__":
    main()
