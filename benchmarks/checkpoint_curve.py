"""Quality against training time: what more CPU minutes buy (issue 3).

    python benchmarks/checkpoint_curve.py --run runs/scalar10 --snapshots runs/scalar10_snap
        --clip CLIP [--frames 48] [--qualities 2,5,8]
        [--out benchmarks/results/checkpoint_curve]

A `vqcodec train` run has two stages, so the curve has two parts:

  autoencoder  PSNR-RGB of the held-out evaluation clip at each quality, from
               the run's train_log.jsonl (the trainer evaluates every 200
               steps): reconstruction quality against stage-1 minutes;
  prior        each prior checkpoint (copied by a watcher into --snapshots as
               prior_<step>.safetensors with its progress.json) coded on
               --clip with the final autoencoder: payload bits per pixel at
               each quality (vqcodec.bench.measure.encoder_point) and the
               BD-rate against x264 preset medium on the same frames, against
               total minutes (stage 1 + stage 2 so far).

Nothing is chosen with these numbers (no early stopping), so evaluating on
an evaluation clip is allowed: it is only measured. Minutes are the run's own wall
clock as its log recorded it. Writes checkpoint_curve.json / .md / .png.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
from fractions import Fraction
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "checkpoint_curve"


def autoencoder_curve(log_path: Path) -> list[dict]:
    rows = []
    for line in log_path.read_text().splitlines():
        d = json.loads(line)
        if d.get("stage") == "autoencoder" and any(k.startswith("psnr_q") for k in d):
            rows.append({"step": d["step"], "minutes": d["seconds"] / 60,
                         "psnr": {k[len("psnr_q"):]: v for k, v in d.items() if k.startswith("psnr_q")}})
    return rows


def snapshot_model(snap: Path, config: Path) -> str:
    """A loadable model path for a snapshot: its weights plus a copy of the run's config."""
    cfg = snap.with_suffix(".json")
    if not cfg.exists():
        shutil.copyfile(config, cfg)
    return str(cfg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--snapshots", type=Path, required=True)
    ap.add_argument("--clip", required=True, help="the evaluation clip to code each prior checkpoint on")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--qualities", default="2,5,8")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    from vqcodec.bench.anchors import parse_anchor
    from vqcodec.bench.bdrate import bd_rate
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.compare import BenchConfig, _sweep
    from vqcodec.bench.measure import encoder_point
    from vqcodec.zoo import load_codec

    configs = [p for p in args.run.glob("*.json") if p.name != "progress.json"]
    if len(configs) != 1:
        raise SystemExit(f"error: expected one model config in {args.run}, found {[p.name for p in configs]}")
    config = configs[0]
    qualities = [int(q) for q in args.qualities.split(",")]
    clip = load_clip(args.clip, args.frames)
    ae_rows = autoencoder_curve(args.run / "train_log.jsonl")
    prior_rows = []
    snaps = sorted(args.snapshots.glob("prior_*.safetensors"), key=lambda p: int(p.stem.split("_")[1]))
    for snap in snaps:
        progress = json.loads(snap.with_suffix(".progress.json").read_text())
        codec = load_codec(snapshot_model(snap, config))
        pts = [encoder_point(codec, clip.frames, q) | {"quality": q} for q in qualities]
        prior_rows.append({"step": progress["step"], "minutes": progress["seconds"] / 60, "points": pts})
        print(f"prior step {progress['step']:>5} ({progress['seconds'] / 60:.1f} min): "
              + ", ".join(f"q{p['quality']} {p['bpp']:.4f} bpp {p['psnr_rgb']:.2f} dB" for p in pts), flush=True)
    lo = min(p["psnr_rgb"] for r in prior_rows for p in r["points"])
    hi = max(p["psnr_rgb"] for r in prior_rows for p in r["points"])
    anchor, _ = _sweep(clip, parse_anchor("x264:medium"), lo, hi, BenchConfig(ms_ssim=False), print)
    ar, aq = [p.bpp for p in anchor], [p.quality.psnr_rgb for p in anchor]
    for r in prior_rows:
        r["bd_rate_vs_x264_medium"] = bd_rate(ar, aq, [p["bpp"] for p in r["points"]],
                                              [p["psnr_rgb"] for p in r["points"]])
    result = {
        "command": "python benchmarks/checkpoint_curve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.date.today().isoformat(), "run": str(args.run), "clip": clip.source,
        "frames": len(clip.frames), "qualities": qualities,
        "rate": "payload bits only (encoder_point); x264: packet bytes without the settings SEI",
        "autoencoder": ae_rows, "prior": prior_rows,
        "x264_medium": [{"bpp": b, "psnr_rgb": q} for b, q in zip(ar, aq)],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "checkpoint_curve.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, args.out / "checkpoint_curve.md")
    plot(result, args.out / "checkpoint_curve.png")
    return 0


def write_markdown(result: dict, path: Path) -> None:
    qs = result["qualities"]
    lines = [f"# Quality against training time ({result['run']})", "", f"`{result['command']}` ({result['date']})", "",
             "## Stage 1: autoencoder, held-out PSNR-RGB (dB) by quality", "",
             "| step | minutes | " + " | ".join(f"q{q}" for q in result["autoencoder"][0]["psnr"]) + " |",
             "|---:|---:|" + "---:|" * len(result["autoencoder"][0]["psnr"])]
    for r in result["autoencoder"]:
        lines.append(f"| {r['step']} | {r['minutes']:.1f} | " + " | ".join(f"{v:.2f}" for v in r["psnr"].values()) + " |")
    lines += ["", f"## Stage 2: prior, on {result['clip']} ({result['frames']} frames)", "",
              "| prior step | total minutes | BD-rate vs x264 medium | "
              + " | ".join(f"q{q} bpp / dB" for q in qs) + " |", "|---:|---:|---:|" + "---:|" * len(qs)]
    for r in result["prior"]:
        cells = " | ".join(f"{p['bpp']:.4f} / {p['psnr_rgb']:.2f}" for p in r["points"])
        lines.append(f"| {r['step']} | {r['minutes']:.1f} | {r['bd_rate_vs_x264_medium']:+.0f} % | {cells} |")
    path.write_text("\n".join(lines) + "\n")


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    ae = result["autoencoder"]
    for q in ae[0]["psnr"]:
        a.plot([r["minutes"] for r in ae], [r["psnr"][q] for r in ae], marker=".", label=f"q{q}")
    a.set_xlabel("stage-1 minutes (2-core CPU)")
    a.set_ylabel("held-out PSNR-RGB (dB), no rate limit")
    a.set_title("autoencoder: reconstruction vs training time")
    a.legend(fontsize=7, ncol=2)
    a.grid(alpha=0.3)
    pr = result["prior"]
    b.plot([r["minutes"] for r in pr], [r["bd_rate_vs_x264_medium"] for r in pr], marker="o", color="C3")
    b.set_xlabel("total minutes (stage 1 + prior so far)")
    b.set_ylabel("BD-rate vs x264 medium (%)")
    b.set_title(f"prior: {result['frames']} frames of {Path(result['clip'].split(' ')[0]).name}")
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
