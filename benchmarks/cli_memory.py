"""Peak memory of `vqcodec compress -` (y4m on stdin) against stream length, both modes.

    python benchmarks/cli_memory.py [--frames 300,1200,4800] [--size 176x144]
                                    [--out benchmarks/results/stream_memory/cli.json]

For each mode and frame count, a child process writes generated y4m frames (the
96-frame `static` scene of vqcodec.bench.scenes played forwards and backwards,
as stream_memory.py) into a pipe, and `/usr/bin/time -f %M vqcodec compress -
OUT --mode MODE` reads it; the peak resident set (kB, the kernel's ru_maxrss)
of the vqcodec process is recorded. If memory is warm-up, the peaks level
off; if something grows with the stream, they keep growing. Writes the JSON
and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# The y4m writer, run as a child process (cli_heap.py feeds the CLI with it too).
FEED = """
import sys
import numpy as np
from vqcodec.bench.scenes import static_scene
n, w, h = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
scene = static_scene(96, w, h)
loop = np.concatenate([scene, scene[::-1]])
out = sys.stdout.buffer
out.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C444\\n".encode())
for i in range(n):
    rgb = loop[i % len(loop)].astype(np.float32)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = (rgb[..., 2] - y) * 0.564 + 128
    v = (rgb[..., 0] - y) * 0.713 + 128
    out.write(b"FRAME\\n")
    for p in (y, u, v):
        out.write(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes())
"""


def peak_kb(mode: str, frames: int, w: int, h: int, tmp: Path) -> int:
    feed = subprocess.Popen([sys.executable, "-c", FEED, str(frames), str(w), str(h)], stdout=subprocess.PIPE)
    log = tmp / "time.txt"
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(log), "vqcodec", "compress", "-", str(tmp / "out.vqv"),
                    "--mode", mode, "-f"], stdin=feed.stdout, check=True, stderr=subprocess.DEVNULL)
    feed.wait()
    return int(log.read_text().split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="300,1200,4800")
    ap.add_argument("--size", default="176x144")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "stream_memory" / "cli.json")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    counts = [int(v) for v in a.frames.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("full", "lowlatency"):
            for n in counts:
                rows.append({"mode": mode, "frames": n, "peak_rss_mib": round(peak_kb(mode, n, w, h, Path(tmp)) / 1024, 1)})
                print(rows[-1], file=sys.stderr, flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "size": a.size, "rows": rows}, indent=2) + "\n")
    print("| mode | " + " | ".join(f"{n} frames" for n in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for mode in ("full", "lowlatency"):
        print(f"| {mode} | " + " | ".join(f"{r['peak_rss_mib']} MiB" for r in rows if r["mode"] == mode) + " |")


if __name__ == "__main__":
    main()
