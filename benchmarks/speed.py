"""Encode/decode speed of vqcodec vs x264 medium on generated clips, with peak memory.

    python benchmarks/speed.py [--sizes 176x144,352x288] [--frames 16] [--qualities 1,4,8]
                               [--model default] [--seed 0] [--repeat 1] [--threads N]
                               [--out benchmarks/results]

For each frame size a synthetic clip is generated (vqcodec.training.synthetic,
fixed seed, so every run codes the same pixels); vqcodec compresses and
decompresses it in memory at each quality (default: the model's lowest, middle
and highest), then x264 preset medium at CRF 30 (one encoder thread, as in
vqcodec.bench.anchors) codes the same frames. Reported: frames per second for
encode and decode (wall clock), bpp and PSNR-RGB for context, torch's thread
count, the load average before and after, and the process's peak resident
memory (ru_maxrss) after each size and at the end.

With --repeat N each point is timed N times and the fastest counts (all times
are in the JSON); --threads sets torch's intra-op thread count. On a machine
shared with another CPU-heavy job, torch's default (one thread per core)
oversubscribes the cores and timings can swing by 10x between identical runs:
use --repeat, and fewer threads, or an idle machine.

One untimed warm-up compress/decompress runs first so that one-off start-up
costs (allocator, kernel selection) do not land on the first measured point.
Timings are only comparable within one run on one machine, and the machine may
be loaded (the load average is recorded for that reason).

Writes speed.json and speed.md in --out and prints the Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import resource
import sys
import time
from dataclasses import asdict, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

import vqcodec
from vqcodec.bench.anchors import encode_anchor, parse_anchor
from vqcodec.bench.report_format import finite_or_none, fmt, int_list, log, machine_info
from vqcodec.metrics import bits_per_pixel, psnr_rgb
from vqcodec.training.synthetic import SyntheticConfig, synthetic_clip

ANCHOR = "x264:medium"
ANCHOR_CRF = 30.0
FPS = Fraction(25)  # nominal; only the header and the x264 time base see it
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
STEM = "speed"






def size_list(text: str) -> list[tuple[int, int]]:
    """"176x144,352x288" -> [(176, 144), (352, 288)] as (width, height)."""
    sizes = []
    for item in text.replace(" ", "").lower().split(","):
        if not item:
            continue
        try:
            w, h = (int(v) for v in item.split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"sizes are WIDTHxHEIGHT, comma-separated; got {item!r}") from None
        if w <= 0 or h <= 0 or w % 2 or h % 2:
            raise argparse.ArgumentTypeError(f"size {item!r}: width and height must be positive and even (yuv420p)")
        sizes.append((w, h))
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one size")
    return sizes


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def default_qualities(available: list[int]) -> list[int]:
    q = sorted(available)
    return list(dict.fromkeys([q[0], q[(len(q) - 1) // 2], q[-1]]))


def run_vqcodec(codec, frames: np.ndarray, quality: int, repeat: int) -> dict:
    """Compress + decompress `repeat` times; the fastest time of each counts."""
    t, h, w, _ = frames.shape
    enc_times, dec_times = [], []
    for _ in range(repeat):
        buf = io.BytesIO()
        start = time.perf_counter()
        stats = codec.compress(iter(frames), buf, w, h, FPS, quality)
        enc_times.append(time.perf_counter() - start)
        buf.seek(0)
        start = time.perf_counter()
        decoded = np.concatenate(list(codec.decompress(buf)), axis=0)
        dec_times.append(time.perf_counter() - start)
        if decoded.shape != frames.shape:
            raise RuntimeError(f"quality {quality}: decoded {decoded.shape}, expected {frames.shape}")
    return {
        "codec": "vqcodec",
        "setting": f"q={quality}",
        "quality": quality,
        "bytes": stats.bytes,
        "bpp": bits_per_pixel(stats.bytes, w, h, t),
        "psnr_rgb": psnr_rgb(frames, decoded),
        **timings(t, enc_times, dec_times),
    }


def timings(t: int, enc_times: list[float], dec_times: list[float]) -> dict:
    return {
        "encode_seconds": min(enc_times),
        "decode_seconds": min(dec_times),
        "encode_fps": t / min(enc_times),
        "decode_fps": t / min(dec_times),
        "encode_seconds_all": enc_times,
        "decode_seconds_all": dec_times,
    }


def run_x264(frames: np.ndarray, repeat: int) -> tuple[dict, dict]:
    t, h, w, _ = frames.shape
    cfg = replace(parse_anchor(ANCHOR), crf=ANCHOR_CRF)
    runs = [encode_anchor(frames, FPS, cfg) for _ in range(repeat)]
    r = runs[0]
    point = {
        "codec": "x264 medium",
        "setting": f"crf={cfg.crf:g}",
        "crf": cfg.crf,
        "bytes": r.packet_bytes,
        "payload_bytes": r.payload_bytes,
        "bpp": bits_per_pixel(r.packet_bytes, w, h, t),
        "bpp_payload": bits_per_pixel(r.payload_bytes, w, h, t),
        "psnr_rgb": psnr_rgb(frames, r.decoded),
        **timings(t, [x.encode_seconds for x in runs], [x.decode_seconds for x in runs]),
        "encoder_options": cfg.encoder_options(),
    }
    return point, {"config": asdict(cfg), "encoder_info": r.encoder_info, "library_versions": r.library_versions}






def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"# vqcodec speed — model `{report['model']['name']}` (sha256 {report['model']['sha256'][:16]}…)",
        "",
        f"{report['date']}, {m['platform']}, {m['cpu_count']} CPUs, torch threads {m['torch_threads']}, "
        f"x264 threads 1. Load average before {fmt_load(m['load_average_at_start'])}, "
        f"after {fmt_load(m['load_average_at_end'])}.",
        "",
        "**The machine may be loaded (other jobs were allowed to run): read the frame rates as "
        "indicative, and compare only rows of the same run.**",
        "",
        f"Synthetic clips (seed {report['settings']['seed']}, {report['settings']['frames']} frames); "
        f"wall-clock frames/s (fastest of {report['settings']['repeat']}), in memory. "
        "bpp: whole .vqv file / all x264 packets.",
        "",
        "| size | codec | setting | bpp | PSNR-RGB | enc fps | dec fps | peak RSS after size (MiB) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in report["runs"]:
        size = f"{run['width']}x{run['height']}"
        for p in run["points"]:
            lines.append(
                f"| {size} | {p['codec']} | {p['setting']} | {p['bpp']:.4f} | {fmt(p['psnr_rgb'], '.2f')} | "
                f"{p['encode_fps']:.2f} | {p['decode_fps']:.2f} | {run['peak_rss_mib_after']:.0f} |"
            )
    lines += ["", f"Peak RSS of the whole run (ru_maxrss): {report['peak_rss_mib']:.0f} MiB "
                  "(includes the synthetic-clip generator's photo bank and noise bank)."]
    return "\n".join(lines) + "\n"


def fmt_load(load: list[float] | None) -> str:
    return "n/a" if load is None else "/".join(f"{v:.2f}" for v in load)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=size_list, default=[(176, 144), (352, 288)],
                        help="comma-separated WIDTHxHEIGHT (default 176x144,352x288; e.g. add 1280x720)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--qualities", type=int_list, default=None,
                        help="comma-separated qualities (default: the model's lowest, middle and highest)")
    parser.add_argument("--model", default="default", help="model name or path (default: default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic clips (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each point this many times and keep the fastest (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) before measuring (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.frames <= 0:
        parser.error("--frames must be positive")
    if args.repeat <= 0:
        parser.error("--repeat must be positive")
    if args.threads is not None:
        if args.threads <= 0:
            parser.error("--threads must be positive")
        torch.set_num_threads(args.threads)

    codec = vqcodec.load_codec(args.model)
    qualities = args.qualities or default_qualities(list(codec.qualities))
    bad = [q for q in qualities if q not in codec.qualities]
    if bad:
        parser.error(f"qualities {bad} are not offered by model {codec.model_id.name!r} ({codec.qualities})")

    report: dict = {
        "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else ["speed.py", *argv])]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info() | {
            "note": "the machine may be loaded by other jobs; timings are indicative",
        },
        "versions": {"vqcodec": vqcodec.__version__, "torch": torch.__version__, "av": av.__version__,
                     "numpy": np.__version__},
        "model": {"name": codec.model_id.name, "sha256": codec.model_id.sha256.hex(),
                  "qualities": list(codec.qualities)},
        "settings": {"sizes": [f"{w}x{h}" for w, h in args.sizes], "frames": args.frames, "qualities": qualities,
                     "seed": args.seed, "repeat": args.repeat, "threads_arg": args.threads, "fps_nominal": str(FPS),
                     "anchor": ANCHOR, "anchor_crf": ANCHOR_CRF,
                     "clip": "vqcodec.training.synthetic.synthetic_clip(np.random.default_rng(seed), "
                             "SyntheticConfig(frames, height, width)), one per size",
                     "warmup": "one untimed compress+decompress before the first measurement"},
        "runs": [],
    }
    log(f"model {codec.model_id.name} ({codec.model_id.sha256.hex()[:12]}); qualities {qualities}; "
        f"sizes {report['settings']['sizes']}; {args.frames} frames; torch threads {torch.get_num_threads()}; "
        f"load average {fmt_load(report['machine']['load_average_at_start'])}")

    anchor_info: dict = {}
    for i, (w, h) in enumerate(args.sizes):
        frames = synthetic_clip(np.random.default_rng(args.seed), SyntheticConfig(frames=args.frames,
                                                                                      height=h, width=w))
        if i == 0:
            warm = frames[: min(len(frames), codec.config.gop)]
            run_vqcodec(codec, warm, qualities[0], 1)
            log("warm-up done")
        points = []
        for q in qualities:
            p = run_vqcodec(codec, frames, q, args.repeat)
            points.append(p)
            log(f"[{w}x{h}] vqcodec q={q}: enc {p['encode_fps']:.2f} fps, dec {p['decode_fps']:.2f} fps, "
                f"{p['bpp']:.4f} bpp, {p['psnr_rgb']:.2f} dB")
        p, anchor_info = run_x264(frames, args.repeat)
        points.append(p)
        log(f"[{w}x{h}] x264 medium crf={ANCHOR_CRF:g}: enc {p['encode_fps']:.1f} fps, "
            f"dec {p['decode_fps']:.1f} fps, {p['bpp']:.4f} bpp, {p['psnr_rgb']:.2f} dB")
        rss = peak_rss_mib()
        log(f"[{w}x{h}] peak RSS so far {rss:.0f} MiB")
        report["runs"].append({"width": w, "height": h, "frames": args.frames, "points": points,
                               "peak_rss_mib_after": rss})

    report["anchor"] = anchor_info
    report["peak_rss_mib"] = peak_rss_mib()
    report["machine"]["load_average_at_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"{STEM}.json", args.out / f"{STEM}.md"
    json_path.write_text(json.dumps(finite_or_none(report), indent=2, allow_nan=False) + "\n")
    text = markdown(report)
    md_path.write_text(text)
    log(f"wrote {json_path}, {md_path}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
