"""Speed of two (or more) source trees of vqcodec, interleaved: before/after a change.

    git worktree add /tmp/before <commit>
    python benchmarks/speed_ab.py --trees /tmp/before,. [--labels before,after]
                                  [--sizes 176x144,352x288,1280x720] [--quality 6] [--frames 32]
                                  [--repeat 3] [--out benchmarks/results/v7_speed/ab]

Why: on the 2-core development machine the same code runs up to 30 % faster
or slower from one minute to the next (neighbours on the host), so two
benchmarks/speed.py runs made one after the other cannot tell a 20 % change
from noise. Here every (repeat, size, tree) point is its own process, the
trees take turns within each repeat, and each tree's figure is the fastest of
its repeats (the run least disturbed), with the median beside it.

Each child imports vqcodec from its tree (PYTHONPATH), generates the clip
(vqcodec.bench.scenes.pan_scene, the clip of speed.py), loads the `default`
model of its tree, codes the first 4 frames once untimed (warm-up), then
times `vqcodec.compress` and `vqcodec.decompress` of the whole clip in memory
at --quality, torch's default threads. It reports frames/s both ways and the
stream's size and SHA-256, so the table also says whether the trees wrote
the same stream (a speed change that should not change the bits).

Writes <out>/speed_ab.json and speed_ab.md and prints the Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import hashlib, io, json, sys, time
from fractions import Fraction
import torch, vqcodec
from vqcodec.bench.scenes import pan_scene
w, h = (int(v) for v in sys.argv[1].split("x"))
n, q = int(sys.argv[2]), int(sys.argv[3])
frames = pan_scene(n, w, h)
codec = vqcodec.load_codec("default")
vqcodec.compress(iter(frames[:4]), io.BytesIO(), w, h, Fraction(25), q, model=codec)
buf = io.BytesIO()
start = time.perf_counter()
vqcodec.compress(iter(frames), buf, w, h, Fraction(25), q, model=codec)
enc = time.perf_counter() - start
start = time.perf_counter()
count = sum(1 for _ in vqcodec.decompress(io.BytesIO(buf.getvalue()), codec))
dec = time.perf_counter() - start
data = buf.getvalue()
print(json.dumps({"encode_fps": n / enc, "decode_fps": count / dec, "bytes": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "threads": torch.get_num_threads(),
                  "vqcodec": vqcodec.__file__}))
"""


def run_point(tree: Path, size: str, frames: int, quality: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CHILD, size, str(frames), str(quality)], env=env,
                         capture_output=True, text=True,
                         cwd=tempfile.gettempdir())  # not a tree: vqcodec comes from PYTHONPATH only
    if out.returncode:
        sys.exit(f"{tree} at {size} failed:\n{out.stderr.strip().splitlines()[-1] if out.stderr else ''}")
    point = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(point["vqcodec"]).resolve().is_relative_to(tree.resolve()):
        sys.exit(f"{tree}: the child imported vqcodec from {point['vqcodec']}, not from the tree")
    return point


def summarize(runs: list[dict]) -> dict:
    enc = [r["encode_fps"] for r in runs]
    dec = [r["decode_fps"] for r in runs]
    return {"encode_fps": round(max(enc), 2), "encode_fps_median": round(statistics.median(enc), 2),
            "decode_fps": round(max(dec), 2), "decode_fps_median": round(statistics.median(dec), 2),
            "bytes": runs[0]["bytes"], "sha256": runs[0]["sha256"],
            "same_stream_every_run": len({r["sha256"] for r in runs}) == 1, "runs": len(runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", required=True, help="comma-separated source checkouts (the first is the reference)")
    ap.add_argument("--labels", default=None, help="comma-separated names for the trees (default: their paths)")
    ap.add_argument("--sizes", default="176x144,352x288,1280x720")
    ap.add_argument("--quality", type=int, default=6)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/speed_ab"))
    a = ap.parse_args()
    trees = [Path(t).resolve() for t in a.trees.split(",")]
    labels = a.labels.split(",") if a.labels else [str(t) for t in trees]
    if len(labels) != len(trees):
        sys.exit("--labels needs one name per tree")
    for t in trees:
        if not (t / "vqcodec" / "__init__.py").is_file():
            sys.exit(f"{t} is not a vqcodec source tree (no vqcodec/__init__.py)")
    sizes = a.sizes.split(",")
    load_before = os.getloadavg()
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in range(a.repeat):
        for size in sizes:
            for tree, label in zip(trees, labels):
                point = run_point(tree, size, a.frames, a.quality)
                runs.setdefault((size, label), []).append(point)
                print(f"repeat {r + 1}/{a.repeat} {size} {label}: encode {point['encode_fps']:.2f} fps, "
                      f"decode {point['decode_fps']:.2f} fps", file=sys.stderr, flush=True)
    rows = []
    for size in sizes:
        ref = summarize(runs[(size, labels[0])])
        for label in labels:
            s = summarize(runs[(size, label)])
            s.update(size=size, tree=label, same_stream_as_first=s["sha256"] == ref["sha256"],
                     encode_speedup=round(s["encode_fps"] / ref["encode_fps"], 3),
                     decode_speedup=round(s["decode_fps"] / ref["decode_fps"], 3))
            rows.append(s)
    doc = {"command": "python " + " ".join(sys.argv), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", "quality": a.quality, "frames": a.frames,
           "repeat": a.repeat, "load_average_before": load_before, "load_average_after": os.getloadavg(),
           "trees": dict(zip(labels, map(str, trees))), "rows": rows}
    lines = [f"# Speed, interleaved: {', '.join(labels)}", "",
             f"{doc['date']}, `{doc['command']}`; {doc['machine']}. Clip: pan_scene, {a.frames} frames, "
             f"q{a.quality}, in memory. Fastest of {a.repeat} runs per tree (median in brackets); each run its own "
             f"process, the trees taking turns.", "",
             "| size | tree | encode fps | decode fps | encode x | decode x | bytes | same stream as the first |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for s in rows:
        lines.append(f"| {s['size']} | {s['tree']} | {s['encode_fps']} ({s['encode_fps_median']}) | "
                     f"{s['decode_fps']} ({s['decode_fps_median']}) | {s['encode_speedup']} | {s['decode_speedup']} | "
                     f"{s['bytes']} | {'yes' if s['same_stream_as_first'] else 'NO'} |")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "speed_ab.json").write_text(json.dumps(doc, indent=2) + "\n")
    (a.out / "speed_ab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
