"""Constant memory of the streaming API: frames -> StreamEncoder -> StreamDecoder -> frames.

    python benchmarks/stream_memory.py [--frames 10000] [--size 352x288] [--mode lowlatency]
                                       [--quality 1] [--keyint 8] [--latency 0] [--model default]
                                       [--out benchmarks/results/stream_memory]

One process runs the whole camera pipeline, as an application embedding vqcodec
would: a generator makes each frame on demand (the 96-frame `static` benchmark scene
of vqcodec.bench.scenes, played forwards and backwards forever: a fixed camera with
objects moving; the frame count is not known in advance and the header says so),
StreamEncoder.push turns it into packets, StreamDecoder.push turns the packets back
into frames, and every decoded frame is checked against the frame count. Nothing is
kept: the packets are only counted.

Recorded at frames 100, 1000, 2000, ... and at the end: resident memory (VmRSS) and
its peak so far (VmHWM), packets, bytes, and the frames/s of the pipeline. Targets
(issue 6): peak RSS under 1.5 GB, and less than 5 % growth of RSS between frame 1,000
and the last frame. The JSON is rewritten at every mark, so a run cut short keeps
what it measured. Writes <out>/<mode>.json and <out>/<mode>.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path


DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "stream_memory"
LOOP = 96  # frames of the scene; played as a ping-pong loop
PEAK_LIMIT_MIB = 1.5 * 1024
GROWTH_LIMIT = 0.05


def status_mib(key: str) -> float:
    """VmRSS / VmHWM of this process from /proc (Linux), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    raise OSError(f"{key} is not in /proc/self/status")


def camera(width: int, height: int):
    """An endless generator of (H, W, 3) uint8 frames: the static scene, ping-pong."""
    from vqcodec.bench.scenes import static_scene

    clip = static_scene(LOOP, width, height)  # (96, H, W, 3): ~29 MB at CIF, made once
    t = 0
    while True:
        i = t % (2 * LOOP - 2)
        yield clip[i if i < LOOP else 2 * LOOP - 2 - i]
        t += 1


def marks(frames: int) -> list[int]:
    return sorted({m for m in (100, *range(1000, frames + 1, 1000), frames) if m <= frames})


def run(args) -> dict:
    import torch

    from vqcodec import load_codec
    from vqcodec.stream import StreamDecoder, StreamEncoder

    torch.set_num_threads(args.threads)
    w, h = args.size
    codec = load_codec(args.model)
    options = {} if args.mode == "full" else {"keyint": args.keyint, "latency": args.latency}
    enc = StreamEncoder(w, h, 25, args.quality, mode=args.mode, model=codec, **options)
    dec = StreamDecoder(codec)
    doc = {
        "benchmark": "stream_memory", "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "model": codec.model_id.name,
        "model_sha256": codec.model_id.sha256.hex(), "mode": args.mode, "width": w, "height": h,
        "quality": args.quality, **options, "torch_threads": args.threads, "frames": args.frames,
        "cpu_count": os.cpu_count(), "marks": [],
    }
    todo = marks(args.frames)
    decoded = packets = nbytes = 0
    start = time.perf_counter()
    source = camera(w, h)
    for t in range(args.frames):
        frame = next(source)
        for p in enc.push(frame) if t < args.frames - 1 else enc.push(frame) + enc.flush():
            packets += 1
            nbytes += len(p)
            for out in dec.push(p):
                assert out.shape == (h, w, 3)
                decoded += 1
        if t + 1 == todo[0]:
            todo.pop(0)
            elapsed = time.perf_counter() - start
            doc["marks"].append({
                "frames_in": t + 1, "frames_out": decoded, "packets": packets, "bytes": nbytes,
                "rss_mib": round(status_mib("VmRSS:"), 1), "peak_rss_mib": round(status_mib("VmHWM:"), 1),
                "seconds": round(elapsed, 1), "fps": round((t + 1) / elapsed, 2)})
            summarise(doc)
            write(doc, args.out)
            m = doc["marks"][-1]
            print(f"{m['frames_in']:>6} frames in, {m['frames_out']:>6} out: RSS {m['rss_mib']} MiB "
                  f"(peak {m['peak_rss_mib']}), {m['fps']} frames/s", flush=True)
    dec.flush()
    assert dec.ended and decoded == args.frames, (decoded, args.frames)
    return doc


def summarise(doc: dict) -> None:
    by = {m["frames_in"]: m for m in doc["marks"]}
    last = doc["marks"][-1]
    doc["peak_rss_mib"] = max(m["peak_rss_mib"] for m in doc["marks"])
    doc["peak_under_limit"] = doc["peak_rss_mib"] < PEAK_LIMIT_MIB
    if 1000 in by and last["frames_in"] > 1000:
        growth = (last["rss_mib"] - by[1000]["rss_mib"]) / by[1000]["rss_mib"]
        doc["rss_growth_1000_to_last"] = round(growth, 4)
        doc["growth_under_limit"] = growth < GROWTH_LIMIT
    doc["complete"] = last["frames_in"] == doc["frames"]


def write(doc: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / doc["mode"]
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    rows = ["| frames in | frames out | RSS MiB | peak RSS MiB | frames/s |", "|---:|---:|---:|---:|---:|"]
    rows += [f"| {m['frames_in']} | {m['frames_out']} | {m['rss_mib']} | {m['peak_rss_mib']} | {m['fps']} |"
             for m in doc["marks"]]
    growth = doc.get("rss_growth_1000_to_last")
    text = [f"# Streaming memory: {doc['mode']} q{doc['quality']}, {doc['width']}x{doc['height']}", "",
            f"`python benchmarks/{doc['command']}` ({doc['date']}, model {doc['model']} "
            f"{doc['model_sha256'][:12]}, {doc['torch_threads']} torch thread(s)). Encoder and decoder in one "
            "process; frames generated on demand, packets only counted. frames/s is wall-clock "
            "throughput with whatever else ran on the machine: a sanity figure, not a speed measurement "
            "(benchmarks/lowlatency.py measures speed).", "", *rows, "",
            f"Peak RSS {doc['peak_rss_mib']} MiB (target < {PEAK_LIMIT_MIB:.0f}); RSS growth from frame 1,000 "
            f"to the last: {'n/a' if growth is None else f'{100 * growth:+.2f} %'} (target < 5 %)."
            + ("" if doc["complete"] else " Run incomplete.")]
    stem.with_suffix(".md").write_text("\n".join(text) + "\n")


def size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size is WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--size", type=size, default=(352, 288))
    p.add_argument("--mode", choices=["lowlatency", "full"], default="lowlatency")
    p.add_argument("--quality", type=int, default=1)
    p.add_argument("--keyint", type=int, default=8)
    p.add_argument("--latency", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--model", default="default")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args()
    if args.frames < 1:
        p.error("--frames must be at least 1")
    doc = run(args)
    print(f"peak RSS {doc['peak_rss_mib']} MiB; growth 1000->last {doc.get('rss_growth_1000_to_last')}")


if __name__ == "__main__":
    main()
