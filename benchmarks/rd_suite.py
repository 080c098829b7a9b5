"""The standing rate-distortion suite: vqcodec against x264 (medium, veryslow, zerolatency) and x265 medium.

    python benchmarks/rd_suite.py [--model default] [--out benchmarks/results/rd] [--quick]

Four clips, each a use case (see SUITE): carphone (the public evaluation clip,
never trained on), a 352x272 crop of the second half of bikes.mp4 (the half
the default model did not train on), a synthetic static-camera scene with
moving objects, and a synthetic camera pan. For each it runs the same
machinery as `vqcodec bench` (vqcodec.bench.compare / report): every quality
of the model, a CRF sweep per anchor, PSNR-RGB / PSNR-YUV611 / MS-SSIM,
speed, peak memory, BD-rates over the overlapping range only. It writes
CLIP.json / CLIP.md / CLIP.png per clip and summary.md into --out; the JSON
holds this command line and the date. --quick (qualities 1 and 2, 8 frames,
x264 medium only) checks that it runs; it refuses to write into the committed
results folder.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "rd"


@dataclass(frozen=True)
class SuiteClip:
    spec: str  # a vqcodec.bench.clips spec
    frames: int | None
    size: tuple[int, int] | None
    why: str


SUITE = (
    SuiteClip("carphone_pristine.mp4", None, None,
              "QCIF talking head in a car, all 120 frames: the public evaluation clip, never trained on"),
    SuiteClip("bikes.mp4:0.5-1", 48, (352, 272),
              "outdoor scene with fast motion; frames from the half the default model did not train on"),
    SuiteClip("synthetic:static", 48, (352, 288),
              "fixed camera, two objects moving: the surveillance / video-call case"),
    SuiteClip("synthetic:pan", 48, (352, 288), "camera pan, nothing else moving: global motion"),
)


def replot(out: Path) -> int:
    from vqcodec.bench.report import header_of, redraw_clip_report, write_summary

    jsons = sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime)  # the order the suite wrote them
    if not jsons:
        raise SystemExit(f"error: no reports in {out}")
    results = [redraw_clip_report(p) for p in jsons]
    print(write_summary(results, out, header_of(jsons[0])).read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model name or path (default: default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results/rd)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: 8 frames, q1-2, x264 medium only")
    parser.add_argument("--no-ms-ssim", action="store_true", help="skip MS-SSIM (saves a few seconds per point)")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: redraw the .md/.png files and summary.md from the JSONs in --out")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    if args.quick and args.out.resolve() == DEFAULT_OUT:
        parser.error("--quick results must not replace the committed ones; give --out")

    import vqcodec
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.compare import BenchConfig, compare_clip
    from vqcodec.bench.report import report_header, write_clip_report, write_summary
    from vqcodec.bench.report_format import log

    cfg = BenchConfig(ms_ssim=not args.no_ms_ssim)
    if args.quick:
        cfg = BenchConfig(qualities=(1, 2), anchors=("x264:medium",), ms_ssim=not args.no_ms_ssim)
    codec = vqcodec.load_codec(args.model)
    header = report_header(["python", "benchmarks/rd_suite.py", *(sys.argv[1:] if argv is None else argv)])
    results = []
    for i, item in enumerate(SUITE, 1):
        clip = load_clip(item.spec, 8 if args.quick else item.frames, item.size)
        log(f"[{i}/{len(SUITE)}] {clip.name}: {clip.width}x{clip.height}, {clip.count} frames — {item.why}")
        result = compare_clip(clip, codec, cfg, log=log)
        paths = write_clip_report(result, args.out, header | {"suite_note": item.why})
        log(f"  wrote {paths['md']}")
        results.append(result)
    summary = write_summary(results, args.out, header)
    print(summary.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
