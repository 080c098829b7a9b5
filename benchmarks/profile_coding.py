"""Where the time of compress + decompress goes: autoencoder, prior, tables, range coder, I/O.

    python benchmarks/profile_coding.py [--model default] [--size 352x288] [--frames 16]
                                        [--quality 6] [--out benchmarks/results/profile]

Generates a clip (vqcodec.bench.scenes.pan_scene), writes it as a lossless
y4m file, then runs `vqcodec.compress` from that file to a .vqv file and
`vqcodec.decompress` back to frames under cProfile, and sums each function's
own time (tottime) by the part of the codec its source file belongs to
(PARTS below; torch's and numpy's built-ins count for the part that called
them). Writes <out>/<model>_<size>.json and prints a Markdown table. Run on
an idle machine: the shares are of wall time in one process.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

PARTS = {  # source file (suffix) -> part
    "autoencoder": ("models/autoencoder.py", "models/blocks.py", "models/scalar_quantizer.py", "models/residual_vq.py",
                    "torch/nn/modules/conv.py", "torch/nn/functional.py"),
    "prior": ("models/fast_prior.py", "models/int8.py", "models/laplace.py", "models/prior.py",
              "coding/integer_prior.py", "coding/fixed_point.py", "coding/fast_schedule.py"),
    "tables": ("coding/laplace_tables.py", "coding/cdf.py", "coding/tables.py", "coding/rounding.py"),
    "range coder": ("coding/range_coder.py",),
    "motion": ("motion/", "modes/tile_skip.py"),  # search, warping, side info, tile choice (format v6)
    "I/O": ("media/video_io.py", "format/container.py", "av/", "api.py", "stream.py"),
}


def part_of(filename: str) -> str:
    for part, suffixes in PARTS.items():
        if any(s in filename for s in suffixes):
            return part
    return "other"


def profile(fn) -> tuple[dict, float]:
    """-> ({part: seconds}, wall seconds): built-ins are charged to their caller's part."""
    pr = cProfile.Profile()
    start = time.perf_counter()
    pr.runcall(fn)
    wall = time.perf_counter() - start
    st = pstats.Stats(pr)
    out: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, callers) in st.stats.items():
        if filename == "~":  # a built-in: split its time over its callers' parts
            total = sum(c[3] for c in callers.values()) or 1.0
            for (cf, _, _), c in callers.items():
                out[part_of(cf)] = out.get(part_of(cf), 0.0) + tottime * c[3] / total
        else:
            out[part_of(filename)] = out.get(part_of(filename), 0.0) + tottime
    return out, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--size", default="352x288")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--quality", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "profile")
    a = ap.parse_args()
    import torch

    import vqcodec
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.media.video_io import VideoReader, write_video

    w, h = (int(v) for v in a.size.split("x"))
    frames = pan_scene(a.frames, w, h)
    codec = vqcodec.load_codec(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        src, vqv = Path(tmp) / "clip.y4m", Path(tmp) / "clip.vqv"
        write_video(str(src), frames, Fraction(25))

        def enc():
            with VideoReader(str(src)) as reader:
                vqcodec.compress(iter(reader), str(vqv), w, h, Fraction(25), a.quality, model=codec)

        def dec():
            for _ in vqcodec.decompress(str(vqv), codec):
                pass
        results = {}
        for name, fn in (("encode", enc), ("decode", dec)):
            parts, wall = profile(fn)
            results[name] = {"wall_s": round(wall, 3), "fps": round(a.frames / wall, 2),
                             "share": {k: round(v / sum(parts.values()), 4) for k, v in sorted(parts.items())}}
        size = vqv.stat().st_size
    doc = {"command": "python " + " ".join(sys.argv), "model": a.model, "size": a.size, "frames": a.frames,
           "quality": a.quality, "torch_threads": torch.get_num_threads(), "bytes": size,
           "bpp": round(size * 8 / (a.frames * w * h), 5), **results}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{Path(a.model).stem}_{a.size}.json").write_text(json.dumps(doc, indent=2) + "\n")
    parts = sorted({k for r in results.values() for k in r["share"]})
    print(f"| {a.model} {a.size} q{a.quality} | fps | " + " | ".join(parts) + " |")
    print("|---|---:|" + "---:|" * len(parts))
    for name, r in results.items():
        print(f"| {name} | {r['fps']} | " + " | ".join(f"{100 * r['share'].get(p, 0):.1f} %" for p in parts) + " |")


if __name__ == "__main__":
    main()
