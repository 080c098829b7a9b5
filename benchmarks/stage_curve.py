"""What more CPU minutes bought the shipped default, stage by stage (issue 3).

    python benchmarks/stage_curve.py \
        --stage LOG EVAL_DIR HELDOUT_DIR [--stage ...] \
        [--out benchmarks/results/stage_curve]

The shipped default was trained in stages, each a `vqcodec train` command
that starts from the previous stage's weights (recipes/default.sh). For every
stage, in order, give:

  LOG           its train_log.jsonl (benchmarks/results/*_train_log.jsonl):
                its wall-clock minutes are the log's last "seconds" (a
                --resume'd run's log goes on counting), and the curve's x is
                the running total over the stages so far;
  EVAL_DIR      the `vqcodec bench EVALUATION_CLIP ...` result folder of the
                model that stage shipped (measured only: nothing was chosen
                on it);
  HELDOUT_DIR   the `vqcodec bench bikes.mp4:0.5-1 ...` result folder of the
                same model (the held-out clip every shipping choice was made on).

It reads the BD-rates against x264 medium (PSNR-RGB) and the commands that
produced them from those folders' JSON, and writes stage_curve.json / .md
/ .png in --out. It measures nothing itself, so it takes seconds.
"""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "stage_curve"
ANCHOR = "x264 medium"


def log_minutes(path: Path) -> float:
    """Wall-clock minutes of a training run: the last record's "seconds"."""
    last = None
    for line in path.read_text().splitlines():
        if line.strip():
            last = json.loads(line)
    if last is None or "seconds" not in last:
        raise SystemExit(f"error: {path} holds no training records")
    return last["seconds"] / 60


def bench_result(folder: Path) -> dict:
    """The one clip result in a `vqcodec bench` folder: model, command, BD-rate vs ANCHOR."""
    from vqcodec.bench.report import header_of, read_clip_result

    files = [p for p in folder.glob("*.json")]
    if len(files) != 1:
        raise SystemExit(f"error: expected one clip result (.json) in {folder}, found {len(files)}")
    result = read_clip_result(files[0])
    bd = [b for b in result.bd if b.anchor == ANCHOR and b.metric == "psnr_rgb" and b.percent is not None]
    if not bd:
        raise SystemExit(f"error: {files[0]} has no BD-rate against {ANCHOR}")
    psnr = [p.quality.psnr_rgb for p in result.points if p.codec == "vqcodec"]
    return {"file": str(files[0]), "command": header_of(files[0])["command"],
            "clip": result.clip.name, "model_sha256": result.model["sha256"][:12], "bd_rate_percent": round(bd[0].percent, 1),
            "psnr_range_db": [round(min(psnr), 2), round(max(psnr), 2)]}


def write_markdown(path: Path, rows: list[dict], command: str) -> None:
    ev, ho = rows[-1]["evaluation"]["clip"], rows[-1]["heldout"]["clip"]
    lines = ["# Shipped default: BD-rate against x264 medium by total training time", "",
             f"`{command}` ({datetime.date.today()}); 2-core CPU, no GPU. BD-rate on PSNR-RGB over",
             "each pair's overlapping PSNR range (negative: fewer bits than x264).", "",
             f"| stage | log | minutes | total minutes | {ev} BD-rate | {ev} PSNR range | {ho} (held out) BD-rate |",
             "|---:|---|---:|---:|---:|---|---:|"]
    for i, r in enumerate(rows, 1):
        c, h = r["evaluation"], r["heldout"]
        lines.append(f"| {i} | `{Path(r['log']).name}` | {r['minutes']:.1f} | {r['total_minutes']:.1f} | "
                     f"{c['bd_rate_percent']:+.0f} % | {c['psnr_range_db'][0]:.1f}–{c['psnr_range_db'][1]:.1f} dB | "
                     f"{h['bd_rate_percent']:+.0f} % |")
    lines += ["", "Commands behind each figure:", ""]
    for i, r in enumerate(rows, 1):
        lines.append(f"{i}. evaluation: `{r['evaluation']['command']}`; held-out: `{r['heldout']['command']}`")
    path.write_text("\n".join(lines) + "\n")


def write_plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x = [r["total_minutes"] for r in rows]
    # labels above the evaluation curve and below the held-out one: late stages sit close together
    for key, label, style, dy in (("evaluation", f"{rows[-1]['evaluation']['clip']} (evaluation)", "o-", 6),
                                  ("heldout", f"{rows[-1]['heldout']['clip']} (held out)", "s--", -13)):
        y = [r[key]["bd_rate_percent"] for r in rows]
        ax.plot(x, y, style, label=label)
        for xi, yi in zip(x, y):
            ax.annotate(f"{yi:+.0f} %", (xi, yi), textcoords="offset points", xytext=(-8, dy), fontsize=7)
    ax.set_xlim(right=x[-1] + 0.06 * (x[-1] - min(0.0, x[0])))
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.axhline(0, color="grey", lw=0.8)
    ax.text((x[0] + x[-1]) / 2, 97, "issue limit +100 %", fontsize=7, color="grey", ha="center", va="top")
    ax.set_xlabel("total training minutes (2-core CPU)")
    ax.set_ylabel("BD-rate vs x264 medium (%)")
    ax.set_title("shipped default: BD-rate against training time", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", nargs=3, action="append", required=True,
                    metavar=("LOG", "EVAL_DIR", "HELDOUT_DIR"))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    rows, total = [], 0.0
    for log, evaluation, heldout in args.stage:
        minutes = log_minutes(Path(log))
        total += minutes
        rows.append({"log": log, "minutes": round(minutes, 1), "total_minutes": round(total, 1),
                     "evaluation": bench_result(Path(evaluation)), "heldout": bench_result(Path(heldout))})
    command = "python benchmarks/stage_curve.py " + " ".join(
        f"--stage {' '.join(s)}" for s in args.stage) + (
        f" --out {args.out}" if args.out != DEFAULT_OUT else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stage_curve.json").write_text(json.dumps(
        {"command": command, "date": datetime.date.today().isoformat(), "stages": rows}, indent=2) + "\n")
    write_markdown(args.out / "stage_curve.md", rows, command)
    write_plot(args.out / "stage_curve.png", rows)
    for r in rows:
        print(f"{r['total_minutes']:6.1f} min: {r['evaluation']['clip']} {r['evaluation']['bd_rate_percent']:+.0f} %, "
              f"held-out {r['heldout']['bd_rate_percent']:+.0f} %")
    print(f"wrote {args.out}/stage_curve.json, .md, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
