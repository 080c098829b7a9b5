"""Which motion block size each quality should use, and how hard the search should
hold to zero or the dominant motion: variants of the encoder's table
(StepEncoder.BLOCKS_BELOW) and of its penalty (motion/prediction.SEARCH_BIAS),
each coded at every quality, BD-rate against the first.

    python benchmarks/block_table.py [--clip bikes.mp4:0.5-1] [--size 176x144] [--frames 64]
                                     [--qualities 1,2,3,4,5,6,7] [--tables 4:64,6:32/3:64,6:32]
                                     [--search-biases 64,32]
                                     [--out benchmarks/results/block_table/bikes.json]

A table is "BELOW:BLOCK,..." pairs in order: the block size of the first pair
whose quality is above the stream's, else 16 (StepEncoder.block_for); tables
are separated by "/". The block size is the encoder's choice (each INTER
packet's head names it), so every variant writes valid streams. For every
table the clip is compressed and decompressed by the full mode at each
quality and reported: bytes and PSNR-RGB per quality, and the BD-rate against
the first table; with --search-biases, every table with every penalty (SAD
per pixel step; the first variant is the first table with the first
penalty). A packet's tile size follows its block size
(modes/tile_skip.tile_size), so a finer block also means finer tiles. Tune on
held-out footage only (an evaluation clip is refused). Writes the JSON at
--out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def parse_table(text: str) -> tuple[tuple[int, int], ...]:
    """"4:64,6:32" -> ((4, 64), (6, 32)); ValueError on anything else."""
    pairs = tuple(tuple(int(v) for v in pair.split(":")) for pair in text.split(","))
    if any(len(p) != 2 or p[1] not in (16, 32, 64) for p in pairs):
        raise ValueError(text)
    return pairs


def main() -> None:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_and_motion_codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)  # --model, --clip, --size, --frames
    ap.set_defaults(frames=64)
    ap.add_argument("--qualities", default="1,2,3,4,5,6,7")
    ap.add_argument("--tables", default="4:64,6:32/3:64,6:32",
                    help='"/"-separated tables of BELOW:BLOCK pairs (blocks 16, 32 or 64)')
    ap.add_argument("--search-biases", default=None,
                    help="comma-separated search penalties (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/block_table/bikes.json"))
    a = ap.parse_args()
    try:
        tables = [parse_table(t) for t in a.tables.split("/")]
    except ValueError:
        raise SystemExit(f"error: --tables wants BELOW:BLOCK pairs like 4:64,6:32 (blocks 16, 32, 64), "
                         f"got {a.tables!r}") from None
    from vqcodec.motion import prediction

    try:
        biases = [prediction.SEARCH_BIAS] if a.search_biases is None else [int(b) for b in a.search_biases.split(",")]
    except ValueError:
        raise SystemExit(f"error: --search-biases wants integers, got {a.search_biases!r}") from None

    from vqcodec.bench.measure import settings_curves
    from vqcodec.bench.report_format import write_probe_report
    from vqcodec.modes.steps import StepEncoder

    clip, codec = tuning_clip_and_motion_codec(a)  # never the evaluation clip
    arms = [({"table": [list(p) for p in table], "search_bias": bias},
             {(StepEncoder, "BLOCKS_BELOW"): table, (prediction, "SEARCH_BIAS"): bias})
            for table in tables for bias in biases]
    results = settings_curves(codec, clip.frames, [int(q) for q in a.qualities.split(",")], arms)
    write_probe_report(a.out, codec, clip, a.size, "Motion block size by quality and search penalty",
                       ["table (below q: block)", "search bias"],
                       lambda r: [", ".join(f"{b}:{k}" for b, k in r["table"]), str(r["search_bias"])], results)


if __name__ == "__main__":
    main()
