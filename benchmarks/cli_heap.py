"""What grows in `vqcodec compress -` over a long stream: the Python heap (tracemalloc) and RSS.

    python benchmarks/cli_heap.py [--frames 4800] [--size 176x144] [--modes full,lowlatency]
                                  [--no-trace] [--out benchmarks/results/stream_memory/cli_heap.json]

cli_memory.py sees the peak RSS of whole runs; this looks inside one run. The
CLI's own compress command runs in a child process per mode (vqcodec_cli.main,
standalone mode off) on y4m from a pipe, written by cli_memory.py's feeder
(the `static` scene, ping-pong). tracemalloc traces every Python allocation
(numpy arrays included; torch's own allocator and FFmpeg's are not traced: RSS
covers those). At frames 300, 600, 1200, 2400, ... and at the end it records
the traced heap, VmRSS less tracemalloc's own bookkeeping, the peak RSS so far
(VmHWM), and the objects the garbage collector tracks. The heap at the last mark is compared with the one
at the first (after warm-up): the source lines whose allocations grew most, so
a per-frame list or dict shows up with its line and its size. tracemalloc
slows the coder several times over; --no-trace records RSS alone, for runs
long enough to see whether RSS levels off. Writes the JSON and a Markdown
summary next to it (.md).
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from cli_memory import FEED
from stream_memory import status_mib

FIRST_MARK = 300  # frames: the comparison starts here, after the first intra periods
TOP = 12  # source lines listed per mode


def marks(frames: int) -> list[int]:
    out, m = [], FIRST_MARK
    while m < frames:
        out.append(m)
        m *= 2
    return out + [frames]


def run(mode: str, frames: int, w: int, h: int, out: Path, trace: bool) -> dict:
    """One CLI run (with tracemalloc if `trace`) -> {"marks": [...], "growth": [...]}."""
    from vqcodec.stream import StreamEncoder
    from vqcodec_cli.main import main as cli

    feed = subprocess.Popen([sys.executable, "-c", FEED, str(frames), str(w), str(h)], stdout=subprocess.PIPE)
    todo, rows, first = marks(frames), [], None
    push = StreamEncoder.push

    def counted(self, frame):  # the CLI's own push, with a look at the heap at each mark
        nonlocal first
        packets = push(self, frame)
        if todo and self.frames_in == todo[0]:
            todo.pop(0)
            gc.collect()
            snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__),
                                                               tracemalloc.Filter(False, __file__)]) if trace else None
            first = first or snap
            rows.append({"frames": self.frames_in, "peak_rss_mib": round(status_mib("VmHWM"), 1),
                         "heap_mib": round(tracemalloc.get_traced_memory()[0] / 2**20, 3) if trace else None,
                         "rss_mib": round(status_mib("VmRSS") - tracemalloc.get_tracemalloc_memory() / 2**20, 1),
                         "gc_objects": len(gc.get_objects())})
            print(f"  {mode} {rows[-1]}", file=sys.stderr, flush=True)
            if not todo:
                rows[-1]["snapshot"] = snap
        return packets

    stdin = sys.stdin
    StreamEncoder.push = counted
    sys.stdin = io.TextIOWrapper(feed.stdout)  # the CLI reads "-" as sys.stdin.buffer
    if trace:
        tracemalloc.start(8)
    try:
        cli(["compress", "-", str(out), "--mode", mode, "-f"], standalone_mode=False)
    finally:
        tracemalloc.stop()
        StreamEncoder.push, sys.stdin = push, stdin
        feed.wait()
    last = rows[-1].pop("snapshot")
    growth = [{"bytes": s.size_diff, "blocks": s.count_diff, "where": str(s.traceback[-1]),
               "stack": [str(f) for f in s.traceback]}  # oldest call first
              for s in last.compare_to(first, "traceback")[:TOP]] if trace else []
    return {"mode": mode, "marks": rows, "growth": growth}


def markdown(doc: dict) -> str:
    lines = [f"# The Python heap and RSS of `vqcodec compress -` over {doc['frames']} frames ({doc['size']})", "",
             f"`{doc['command']}`, {doc['date']}. Heap: tracemalloc's traced Python memory (numpy included); "
             "RSS: VmRSS less tracemalloc's own bookkeeping; peak: VmHWM (tracemalloc's included). "
             "Each mode in its own process.", ""]
    for r in doc["runs"]:
        lines += [f"## {r['mode']}", "", "| frames | heap MiB | RSS MiB | peak RSS so far MiB | gc objects |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {m['frames']} | {'-' if m['heap_mib'] is None else format(m['heap_mib'], '.3f')} | "
                  f"{m['rss_mib']:.1f} | {m['peak_rss_mib']:.1f} | {m['gc_objects']} |" for m in r["marks"]]
        if r["growth"]:
            lines += ["", f"Largest growth from frame {r['marks'][0]['frames']} to {r['marks'][-1]['frames']}:", "",
                      "| bytes | blocks | allocated at |", "|---:|---:|---|"]
            lines += [f"| {g['bytes']:+} | {g['blocks']:+} | `{g['where']}` |" for g in r["growth"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4800)
    ap.add_argument("--size", default="176x144")
    ap.add_argument("--modes", default="full,lowlatency")
    ap.add_argument("--no-trace", dest="trace", action="store_false", help="RSS only, at full speed")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "stream_memory" / "cli_heap.json")
    ap.add_argument("--run", help=argparse.SUPPRESS)  # internal: one mode in this process, JSON to stdout
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    if a.run:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(a.run, a.frames, w, h, Path(tmp) / "out.vqv", a.trace)))
        return
    from vqcodec.bench.report import report_header

    doc = report_header(["python", "benchmarks/cli_heap.py", *sys.argv[1:]]) | {
        "frames": a.frames, "size": a.size, "traced": a.trace, "runs": []}
    for mode in a.modes.split(","):  # a process each: one mode's memory does not carry into the next
        args = [sys.executable, __file__, "--run", mode, "--frames", str(a.frames), "--size", a.size]
        done = subprocess.run(args + ([] if a.trace else ["--no-trace"]), stdout=subprocess.PIPE, check=True)
        doc["runs"].append(json.loads(done.stdout.decode().splitlines()[-1]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    a.out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
