"""Low-latency mode speed at one size: keyframes every 8 frames, latency 0, the CLI's default quality.

    python benchmarks/lowlatency_speed.py [--model default] [--size 352x288] [--frames 32]
                                          [--out benchmarks/results/fast_prior/lowlatency_speed.json]

Compresses and decompresses a generated pan (vqcodec.bench.scenes.pan_scene)
in memory after an untimed warm-up; frames/s are wall clock, one process,
torch's default threads. Run on an idle machine.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from fractions import Fraction
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--size", default="352x288")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "fast_prior" / "lowlatency_speed.json")
    a = ap.parse_args()
    import numpy as np
    import torch

    import vqcodec
    from vqcodec.bench.scenes import pan_scene

    w, h = (int(v) for v in a.size.split("x"))
    frames = pan_scene(a.frames, w, h)
    codec = vqcodec.load_codec(a.model)
    quality = codec.qualities[len(codec.qualities) // 2]
    rows = {}
    for timed in (False, True):
        buf = io.BytesIO()
        start = time.perf_counter()
        vqcodec.compress(iter(frames), buf, w, h, Fraction(25), quality, "lowlatency", codec, keyint=8, latency=0)
        enc = time.perf_counter() - start
        start = time.perf_counter()
        out = np.stack(list(vqcodec.decompress(io.BytesIO(buf.getvalue()), codec)))
        dec = time.perf_counter() - start
        if timed:
            mse = float(np.mean((out.astype(np.float64) - frames) ** 2))
            rows = {"encode_fps": round(a.frames / enc, 2), "decode_fps": round(a.frames / dec, 2),
                    "bytes": len(buf.getvalue()), "psnr_rgb": round(10 * np.log10(255 ** 2 / mse), 2)}
    doc = {"command": "python " + " ".join(sys.argv), "model": a.model, "size": a.size, "frames": a.frames,
           "quality": quality, "keyint": 8, "latency": 0, "torch_threads": torch.get_num_threads(), **rows}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
