"""Batch throughput: 16 short clips compressed by a local Dask cluster of 1 worker, then of 2.

    python benchmarks/batch_throughput.py [--clips 16] [--frames 32] [--size 176x144] [--runs 1,2,1x1]

For each run (WORKERS, or WORKERSxTHREADS; by default the local cluster divides the
cores between its workers: 1 worker computes with all torch threads), on the same generated clips (vqcodec.bench.scenes, static
and panning scenes in turn, deterministic) and the shipped default model:
- start: seconds to start the local cluster (scheduler, worker processes importing torch);
- coding throughput: frames / seconds from the first submitted file to the last result;
- end to end: frames / seconds including the cluster's start and close;
- scheduler overhead per file: the run's wall time on all workers minus the time the tasks
  themselves measured, per file (submission, scheduling, result transfer, idle slots at the end);
- the round trip of an empty task through the scheduler, for comparison;
- model loads per worker, from the results (each worker should load it once).
Every output is checked byte-identical across the cluster sizes. The local cluster divides
the cores between its workers.

Writes benchmarks/results/batch/throughput.json (with the command) and throughput.md.
Run it on an otherwise idle machine: it is a timing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from vqcodec.batch.engine import ClusterConfig, open_cluster, run_jobs
from vqcodec.batch.inputs import VIDEO_EXTENSIONS, plan_jobs, with_suffix_added
from vqcodec.batch.tasks import CompressSettings, compress_file
from vqcodec.bench.clips import parse_size
from vqcodec.bench.report import report_header
from vqcodec.bench.report_format import log
from vqcodec.bench.scenes import SCENES
from vqcodec.media.video_io import write_video

OUT = Path(__file__).resolve().parent / "results" / "batch"


def make_clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> None:
    kinds = sorted(SCENES)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        video = SCENES[kind](frames + i, *size)  # lengths differ a little, as a real corpus's do
        write_video(str(folder / f"clip{i:02d}_{kind}.mkv"), video, Fraction(25))


def _noop() -> None:
    return None


def run(folder: Path, out: Path, workers: int, threads: int | None, model: str) -> dict:
    jobs = plan_jobs([str(folder)], out, VIDEO_EXTENSIONS, with_suffix_added(".vqv"))
    results = []
    t0 = time.perf_counter()
    with open_cluster(ClusterConfig(workers=workers, threads=threads)) as cluster:
        started = time.perf_counter()
        cluster.client.gather([cluster.client.submit(_noop, pure=False) for _ in range(4)])  # warm the path
        t = time.perf_counter()
        cluster.client.gather([cluster.client.submit(_noop, pure=False) for _ in range(64)])
        noop_ms = 1000 * (time.perf_counter() - t) / 64
        t = time.perf_counter()
        run_jobs(cluster, compress_file, jobs, CompressSettings(model), results.append)
        coding = time.perf_counter() - t
        description = cluster.description
    total = time.perf_counter() - t0
    failed = [r for r in results if r.status != "done"]
    if failed:
        raise SystemExit(f"{failed[0].input}: {failed[0].error}")
    frames = sum(r.frames for r in results)
    busy = sum(r.seconds for r in results)
    loads: dict[str, int] = {}
    for r in results:
        loads[r.worker] = loads.get(r.worker, 0) + r.model_loaded
    return {
        "workers": workers, "cluster": description, "files": len(results), "frames": frames,
        "start_seconds": started - t0, "coding_seconds": coding, "end_to_end_seconds": total,
        "coding_frames_per_second": frames / coding, "end_to_end_frames_per_second": frames / total,
        "task_seconds_sum": busy,
        "scheduler_overhead_ms_per_file": 1000 * (coding * workers - busy) / len(results),
        "empty_task_round_trip_ms": noop_ms,
        "model_loads_per_worker": sorted(loads.values()),
        "outputs": {Path(r.output).name: Path(r.output).read_bytes() for r in results},
    }


def markdown(doc: dict) -> str:
    runs = doc["runs"]
    lines = [f"# Batch throughput — {doc['date']}", "", f"`{doc['command']}`", "",
             f"{doc['clips']} clips of {doc['frames_per_clip']}-{doc['frames_per_clip'] + doc['clips'] - 1} "
             f"frames at {doc['size']} (vqcodec.bench.scenes), model `{doc['model']}`, quality: its default; "
             f"{doc['machine']['cpu_count']} CPUs, load average at start "
             f"{', '.join(f'{v:.2f}' for v in doc['machine']['load_average_at_start'] or [])}.", "",
             "| workers | torch threads each | cluster start s | coding s | frames/s (coding) | frames/s (end to end) "
             "| speed-up (coding) | scheduler overhead ms/file | empty task ms | model loads per worker |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    base = runs[0]["coding_frames_per_second"]
    for r in runs:
        lines.append(f"| {r['workers']} | {r['cluster']['torch_threads_per_worker']} | {r['start_seconds']:.1f} | "
                     f"{r['coding_seconds']:.1f} | {r['coding_frames_per_second']:.1f} | "
                     f"{r['end_to_end_frames_per_second']:.1f} | {r['coding_frames_per_second'] / base:.2f}x | "
                     f"{r['scheduler_overhead_ms_per_file']:.0f} | {r['empty_task_round_trip_ms']:.1f} | "
                     f"{', '.join(map(str, r['model_loads_per_worker']))} |")
    lines += ["", f"Outputs byte-identical across the runs: {doc['outputs_identical']}.",
              "Scheduler overhead per file = (coding seconds x workers - the tasks' own seconds) / files: "
              "scheduling, result transfer and the workers' idle time at the end of the corpus.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--frames", type=int, default=32, help="frames of the shortest clip (each next one has one more)")
    ap.add_argument("--size", default="176x144")
    ap.add_argument("--runs", default="1,2,1x1", help="WORKERS or WORKERSxTHREADS, comma-separated")
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    size = parse_size(args.size)
    header = report_header(["python", "benchmarks/batch_throughput.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        make_clips(folder, args.clips, args.frames, size)
        runs = []
        for spec in args.runs.split(","):
            workers, _, threads = spec.partition("x")
            out = Path(tmp) / f"out{spec}"
            log(f"{spec}...")
            runs.append(run(folder, out, int(workers), int(threads) if threads else None, args.model))
            log(f"  {runs[-1]['coding_frames_per_second']:.1f} frames/s coding, start {runs[-1]['start_seconds']:.1f} s")
            shutil.rmtree(out)
    identical = all(r["outputs"] == runs[0]["outputs"] for r in runs)
    for r in runs:
        r["output_bytes"] = sum(map(len, r.pop("outputs").values()))
    doc = {**header, "clips": args.clips,
           "frames_per_clip": args.frames, "size": args.size, "model": args.model, "runs": runs,
           "outputs_identical": identical}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.json").write_text(json.dumps(doc, indent=2) + "\n")
    text = markdown(doc)
    (args.out / "throughput.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
