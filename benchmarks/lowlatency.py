"""The low-latency mode's benchmark: rate-distortion against x264 zerolatency
with the same keyframe interval, x264 medium and vqcodec's full mode, and speed
at 352x288 (CIF) on this CPU.

    python benchmarks/lowlatency.py [--model default] [--out benchmarks/results/lowlatency_v15] [--quick]
                                    [--speed-only] [--qualities 1,3,5,7,9,10]

RD (same machinery as `vqcodec bench`): carphone (all 120 frames, never
trained on) and a synthetic static-camera scene at 352x288 (48 frames); modes
full, lowlatency (latency 0: format v14-v15's one-frame predicted steps, keyframes
every 64), lowlatency-l7 (latency 7: 2-frame steps in packets of 8) and
lowlatency-keyframes (the keyframe path format v13 wrote: keyframes every 8,
motion-compensated frames between, latency 0); anchors x264
medium+zerolatency with keyint 64 (g64, what lowlatency uses) and x264 medium.
Writes CLIP.json/.md/.png per clip, summary.md, and vs_full.md: BD-rate of
each low-latency setting against the full mode (negative = fewer bits).

Speed: a 48-frame synthetic pan at 352x288, each setting at quality 1 and the
CLI's default (6): encode and decode frames per second (stream in memory,
frames in memory), in speed.json / speed.md. Targets (issues 28, 29): the
latency-0 camera setting encodes >= 15 and decodes >= 30 fps.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "lowlatency_v15"
MODES = ("full", "lowlatency", "lowlatency-l7", "lowlatency-keyframes")
ANCHORS = ("x264:medium+zerolatency:g64", "x264:medium")
CLIPS = (("carphone_pristine.mp4", None, None), ("synthetic:static", 48, (352, 288)))
SPEED_MODES = ("lowlatency", "lowlatency-l7", "lowlatency-keyframes")
SPEED_QUALITIES = (1, 6)


def vs_full(results) -> str:
    from vqcodec.bench.compare import bd_between

    lines = ["# Low-latency mode against the full mode (BD-rate, PSNR-RGB; negative = fewer bits)", "",
             "| clip | " + " | ".join(MODES[1:]) + " |", "|---|" + "---|" * len(MODES[1:])]
    for r in results:
        curves = r.curves()
        full = curves["vqcodec full"]
        cells = []
        for m in MODES[1:]:
            bd = bd_between(curves[f"vqcodec {m}"], full, "psnr_rgb")
            cells.append(f"{bd.percent:+.1f} %" if bd.percent is not None else f"n/a ({bd.reason})")
        lines.append(f"| {r.clip.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def speed(codec, frames: int, qualities) -> list[dict]:
    from fractions import Fraction

    from vqcodec.bench.measure import MODES as REGISTRY
    from vqcodec.bench.report_format import log
    from vqcodec.bench.scenes import pan_scene
    from vqcodec.media.metrics import psnr_rgb

    clip = pan_scene(frames, 352, 288)
    REGISTRY["lowlatency"].code(codec, clip[:8], Fraction(30), 1)  # warm-up
    rows = []
    for mode in SPEED_MODES:
        for q in qualities:
            stream, stats, decoded, enc_s, dec_s = REGISTRY[mode].code(codec, clip, Fraction(30), q)
            row = {"mode": mode, "quality": q, "frames": frames, "size": "352x288",
                   "encode_fps": frames / enc_s, "decode_fps": frames / dec_s,
                   "bpp": stats.bits_per_pixel, "psnr_rgb": psnr_rgb(clip, decoded)}
            log(f"  speed {mode} q{q}: encode {row['encode_fps']:.1f} fps, decode {row['decode_fps']:.1f} fps")
            rows.append(row)
    return rows


def speed_markdown(rows: list[dict], header: dict) -> str:
    lines = ["# Low-latency mode speed at 352x288 (synthetic pan, this machine)", "",
             f"Command: `{header['command'] if isinstance(header['command'], str) else ' '.join(header['command'])}`, {header['date']}. Targets: decode >= 30 fps, "
             "encode >= 15 fps at latency 0.", "",
             "| mode | quality | encode fps | decode fps | bpp | PSNR-RGB dB |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['quality']} | {r['encode_fps']:.1f} | {r['decode_fps']:.1f} | "
                     f"{r['bpp']:.4f} | {r['psnr_rgb']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 frames, q1-2 (needs --out)")
    parser.add_argument("--qualities", default="1,3,5,7,9,10", help="RD qualities, comma-separated")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the speed part (run it on an idle machine); the RD files are kept")
    args = parser.parse_args(argv)
    if args.quick and args.out.resolve() == DEFAULT_OUT:
        parser.error("--quick results must not replace the committed ones; give --out")

    import vqcodec
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.compare import BenchConfig, compare_clip
    from vqcodec.bench.report import report_header, write_atomic, write_clip_report, write_summary
    from vqcodec.bench.report_format import log

    qualities = (1, 2) if args.quick else tuple(int(q) for q in args.qualities.split(","))
    cfg = BenchConfig(qualities=qualities, modes=MODES, anchors=ANCHORS, ms_ssim=False)
    codec = vqcodec.load_codec(args.model)
    header = report_header(["python", "benchmarks/lowlatency.py", *(sys.argv[1:] if argv is None else argv)])
    results = []
    for spec, frames, size in () if args.speed_only else CLIPS:
        clip = load_clip(spec, 8 if args.quick else frames, size)
        log(f"{clip.name}: {clip.width}x{clip.height}, {clip.count} frames")
        result = compare_clip(clip, codec, cfg, log=log)
        write_clip_report(result, args.out, header)
        results.append(result)
    if results:
        write_summary(results, args.out, header)
        write_atomic(args.out / "vs_full.md", vs_full(results).encode())
    rows = speed(codec, 8 if args.quick else 48, (1,) if args.quick else SPEED_QUALITIES)
    write_atomic(args.out / "speed.json", (json.dumps(header | {"rows": rows}, indent=2) + "\n").encode())
    write_atomic(args.out / "speed.md", speed_markdown(rows, header).encode())
    if results:
        print((args.out / "summary.md").read_text())
        print((args.out / "vs_full.md").read_text())
    print(speed_markdown(rows, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
