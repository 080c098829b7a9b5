"""How much the predicted steps' decisions should weigh bits: the tile choice
(keep the prediction in a tile) and the skip decision (a whole step decodes to
its prediction), each SSE + lambda x scale x bits; and how large the tiles
should be.

    python benchmarks/step_lambdas.py [--clip bikes.mp4:0.5-1] [--size 176x144] [--frames 64]
                                      [--qualities 1,3,5,7,9] [--tile 1,0.7,1.4] [--skip 1]
                                      [--tile-size v8,32,16] [--map none,1]
                                      [--out benchmarks/results/predictive/step_lambdas/bikes.json]

For every (tile size, tile scale, skip scale) the clip is compressed and
decompressed by the full mode at each quality (StepEncoder.TILE_LAMBDA and
SKIP_LAMBDA set for the run; the decoder is not involved in either choice; a
tile size in pixels is set for the encoder and the decoder alike at every
quality, tile_skip.TILE, FINE_TILE and FINEST_TILE: a probe, whose streams are
valid only where the size is the format's; "v8" is the format's own rule,
tile_skip.tile_size, which since v10 has 8-pixel tiles at 16-pixel blocks), and
reported: bytes and PSNR-RGB per quality, and the BD-rate against the
first run. --map scales the price of each tile's own bit in the tile map
(StepEncoder.MAP_LAMBDA; none: the map is not priced). Tune on held-out
footage only (an evaluation clip is refused).
Writes the JSON at --out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def run(codec, frames: np.ndarray, qualities: list[int], tile: float, skip: float, size: int | None = None,
        map_scale: float | None = 1.0) -> dict:
    from vqcodec.bench.measure import full_mode_points
    from vqcodec.modes import tile_skip
    from vqcodec.modes.steps import StepEncoder

    saved = (StepEncoder.TILE_LAMBDA, StepEncoder.SKIP_LAMBDA, StepEncoder.MAP_LAMBDA,
             tile_skip.TILE, tile_skip.FINE_TILE, tile_skip.FINEST_TILE)
    StepEncoder.TILE_LAMBDA, StepEncoder.SKIP_LAMBDA, StepEncoder.MAP_LAMBDA = tile, skip, map_scale
    if size is not None:  # one size at every quality
        tile_skip.TILE = tile_skip.FINE_TILE = tile_skip.FINEST_TILE = size
    try:
        rows, _ = full_mode_points(codec, frames, qualities)
    finally:
        (StepEncoder.TILE_LAMBDA, StepEncoder.SKIP_LAMBDA, StepEncoder.MAP_LAMBDA,
         tile_skip.TILE, tile_skip.FINE_TILE, tile_skip.FINEST_TILE) = saved
    return {"tile_size": size or "v8", "tile": tile, "skip": skip, "map": map_scale, "points": rows}


def main() -> None:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_and_motion_codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)  # --model, --clip, --size, --frames
    ap.set_defaults(frames=64)
    ap.add_argument("--qualities", default="1,3,5,7,9")
    ap.add_argument("--tile", default="1", help="comma-separated tile-choice scales")
    ap.add_argument("--skip", default="1", help="comma-separated skip-decision scales")
    ap.add_argument("--map", default="1",
                    help="comma-separated scales of the tile map's own bits in the tile choice (format v10), "
                         "or none (not priced)")
    ap.add_argument("--tile-size", default="v8",
                    help="comma-separated tile sizes in pixels (multiples of 8) or v8 (the format's rule)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/predictive/step_lambdas/bikes.json"))
    a = ap.parse_args()

    from vqcodec.bench.bdrate import points_bd_rate
    from vqcodec.bench.report_format import write_probe_report

    clip, codec = tuning_clip_and_motion_codec(a)  # never the evaluation clip
    qualities = [int(q) for q in a.qualities.split(",")]
    results = []
    sizes = [None if n == "v8" else int(n) for n in a.tile_size.split(",")]
    maps = [None if m == "none" else float(m) for m in a.map.split(",")]
    runs = [(n, float(t), float(s), m) for n in sizes for t in a.tile.split(",") for s in a.skip.split(",")
            for m in maps]
    for size, tile, skip, map_scale in runs:
        r = run(codec, clip.frames, qualities, tile, skip, size, map_scale)
        r["bd_rate_vs_first"] = points_bd_rate((results[0] if results else r)["points"], r["points"])
        results.append(r)
        print(f"tiles {size or 'v8'} tile x{tile} skip x{skip} map x{map_scale}: BD-rate {r['bd_rate_vs_first']:+.2f} %",
              file=sys.stderr, flush=True)
    write_probe_report(a.out, codec, clip, a.size, "Step decisions' lambdas", ["tile size", "tile x", "skip x", "map x"],
                       lambda r: [str(r["tile_size"]), str(r["tile"]), str(r["skip"]), str(r["map"])], results)

if __name__ == "__main__":
    main()
