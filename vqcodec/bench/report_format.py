"""Small pieces every benchmark report shares: comma-list arguments, JSON
without inf/nan, and Markdown cells for missing values."""
from __future__ import annotations

import argparse
import math
import sys


def log(msg: str) -> None:
    """Progress line on stderr (stdout carries the report)."""
    print(msg, file=sys.stderr, flush=True)


def int_list(text: str) -> list[int]:
    """argparse type: '1,2,8' -> [1, 2, 8]."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def finite_or_none(x):
    """JSON has no inf/nan: write null for them (e.g. a lossless PSNR)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


def fmt(x, spec: str) -> str:
    """Markdown cell: '—' for a missing or non-finite value."""
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def machine_info() -> dict:
    """What a timing depends on: platform, CPUs, torch threads, current load."""
    import os
    import platform

    import torch

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def clip_probe_doc(codec, clip, size: str, results: list) -> dict:
    """The JSON of a probe that codes one clip with one model: the command that
    made it, the date, the model and its weights, the clip, and the results."""
    import datetime

    return {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "model": codec.model_id.name, "weights_sha256": codec.model_id.sha256.hex(), "clip": clip.source,
            "frames": int(clip.frames.shape[0]), "size": size, "results": results}


def write_report(out, doc: dict, lines: list[str]) -> None:
    """doc as JSON at out (a Path), lines as Markdown beside it (.md); prints the Markdown."""
    import json

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def bytes_db_header(qualities: list[int]) -> str:
    """Markdown header cells of a per-quality bytes / PSNR-RGB row."""
    return " | ".join(f"q{q} bytes / dB" for q in qualities)


def bytes_db_cells(points: list[dict]) -> str:
    """Markdown cells of points with 'bytes' and 'psnr_rgb', one per quality."""
    return " | ".join(f"{p['bytes']:,.0f} / {p['psnr_rgb']:.2f}" for p in points)


def write_probe_report(out, codec, clip, size: str, title: str, columns: list[str], label, results: list) -> None:
    """A tuning probe's report: clip_probe_doc's JSON at out (a Path) and a
    Markdown table beside it, one row per result: its label cells (label(result)
    -> list of str, headed by columns), bytes / dB per quality of its "points",
    and its "bd_rate_vs_first"."""
    doc = clip_probe_doc(codec, clip, size, results)
    qualities = [p["quality"] for p in results[0]["points"]]
    lines = [f"{title} on {clip.source}, {doc['frames']} frames, {size} (`{doc['command']}`)", "",
             "| " + " | ".join(columns) + " | " + bytes_db_header(qualities) + " | BD-rate vs the first |",
             "|" + "---|" * len(columns) + "---:|" * (len(qualities) + 1)]
    for r in results:
        cells = " | ".join([*label(r), bytes_db_cells(r["points"]), f"{r['bd_rate_vs_first']:+.2f} %"])
        lines.append(f"| {cells} |")
    write_report(out, doc, lines)
