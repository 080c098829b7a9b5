"""Bounded fuzz run: N mutated / truncated / random streams, each under a time limit.

    OMP_WAIT_POLICY=PASSIVE python fuzz/run_fuzz.py --cases 10000 --seed 0

Each case is made and run in a worker process (fuzz_decoder.make_case, then
fuzz_decoder.run_case: parse, then decode to the last frame). The worker sends the
case's bytes before running it, so the parent still has them if the worker hangs or
dies. The parent is a watchdog: a case still running after --time-limit seconds is a
hang, a worker whose RSS passes --rss-limit-mb is a memory finding, a worker that
dies is a crash; in each case the worker is killed and restarted. An exception
outside the library's own error types is a traceback finding. Findings are written
as .vqv files next to the summary, and the summary (cases, outcomes by error type,
max seconds per case, peak RSS, findings) as JSON to --out.

Case i is drawn from random.Random(seed * 1_000_003 + i), so `--seed S --first i
--cases 1` makes case i again. Exit status: 0 if there was no finding, 1 if any.
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "fuzz" / "run_fuzz.json"
_POLL = 0.05  # seconds between the watchdog's looks at the worker


def _worker(conn, seed: int) -> None:
    """Make and run cases on request; report bytes first, then the outcome."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import fuzz_decoder as fd

    codec, seeds = fd.load_codec(), fd.seed_streams()
    conn.send(("ready", _rss_kb()))
    while True:
        index = conn.recv()
        if index is None:
            return
        data = fd.make_case(random.Random(seed * 1_000_003 + index), codec, seeds)
        conn.send(("input", data))
        start = time.perf_counter()
        try:
            parsed, decoded = fd.run_case(codec, data)
            conn.send(("done", parsed, decoded, time.perf_counter() - start, _rss_kb()))
        except BaseException as e:  # noqa: BLE001  (the finding: report it, keep going)
            tb = traceback.extract_tb(e.__traceback__)
            where = f"{tb[-1].filename}:{tb[-1].lineno} in {tb[-1].name}" if tb else "?"
            conn.send(("error", type(e).__name__, str(e)[:500], where, traceback.format_exc()[-4000:],
                       time.perf_counter() - start, _rss_kb()))


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak, KiB on Linux


def _current_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Watchdog:
    """One worker at a time; restarted after it is killed or dies."""

    def __init__(self, seed: int, time_limit: float, rss_limit_mb: float):
        self.seed, self.time_limit, self.rss_limit_mb = seed, time_limit, rss_limit_mb
        self.proc = self.conn = None
        self.baseline_rss_mb, self.restarts = 0.0, -1
        self.peak_polled_mb = 0.0  # what the watchdog saw, killed workers included

    def start(self) -> None:
        ctx = mp.get_context("spawn")  # no fork after torch: a fresh interpreter each time
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.seed), daemon=True)
        self.proc.start()
        child.close()
        _, rss = self.conn.recv()
        self.baseline_rss_mb, self.restarts = rss / 1024, self.restarts + 1

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.start()

    def run(self, index: int) -> tuple[str, bytes | None, tuple]:
        """-> (status, case bytes, details); status: done, error, hang, memory, crash."""
        self.conn.send(index)
        deadline, data, peak = time.monotonic() + self.time_limit, None, 0.0
        while True:
            try:
                ready = self.conn.poll(_POLL)
                msg = self.conn.recv() if ready else None
            except (EOFError, ConnectionResetError):
                self.proc.join(1)
                code = self.proc.exitcode
                self.start()
                return "crash", data, (f"worker died (exit code {code})",)
            if msg is not None and msg[0] == "input":
                data = msg[1]
                continue
            if msg is not None:
                return msg[0], data, msg[1:]
            peak = max(peak, _current_rss_mb(self.proc.pid))
            self.peak_polled_mb = max(self.peak_polled_mb, peak)
            if peak > self.rss_limit_mb:
                self.kill()
                return "memory", data, (f"RSS {peak:.0f} MB over the limit of {self.rss_limit_mb:.0f} MB",)
            if time.monotonic() > deadline:
                self.kill()
                return "hang", data, (f"still running after {self.time_limit:g} s",)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.rstrip("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(cases: int, seed: int, first: int, time_limit: float, rss_limit_mb: float, out: Path,
        quiet: bool = False) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    dog = Watchdog(seed, time_limit, rss_limit_mb)
    dog.start()
    decoded, parsed = collections.Counter(), collections.Counter()
    findings, max_s, max_at, total_s, peak_kb = [], 0.0, None, 0.0, 0
    start = time.monotonic()
    for index in range(first, first + cases):
        status, data, details = dog.run(index)
        if status == "done":
            p, d, seconds, rss = details
            parsed[p] += 1
            decoded[d] += 1
        elif status == "error":
            name, message, where, tb, seconds, rss = details
            decoded[f"UNEXPECTED {name}"] += 1
        else:
            decoded[status.upper()] += 1
            seconds, rss = time_limit if status == "hang" else 0.0, 0
        total_s += seconds
        peak_kb = max(peak_kb, rss)
        if seconds > max_s:
            max_s, max_at = seconds, index
        if status != "done":
            path = out.parent / "findings" / f"{status}-seed{seed}-case{index}.vqv"
            entry = {"case": index, "kind": status, "bytes": len(data) if data is not None else None}
            if status == "error":
                entry |= {"exception": name, "message": message, "where": where, "traceback": tb}
            else:
                entry["detail"] = details[0]
            if data is not None:
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(data)
                entry["input"] = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
                entry["hex"] = data.hex() if len(data) <= 2048 else None
            findings.append(entry)
            if not quiet:
                print(f"case {index}: {status} {details[0]}", file=sys.stderr)
        if not quiet and (index - first + 1) % 1000 == 0:
            print(f"{index - first + 1}/{cases} cases, {time.monotonic() - start:.0f} s, "
                  f"{len(findings)} findings", file=sys.stderr)
    dog.conn.send(None)
    dog.proc.join(5)
    wall = time.monotonic() - start
    kinds = collections.Counter(f["kind"] for f in findings)
    summary = {
        "command": "python fuzz/run_fuzz.py " + " ".join(sys.argv[1:]) if __name__ == "__main__" else None,
        "cases": cases, "seed": seed, "first_case": first,
        "time_limit_s": time_limit, "rss_limit_mb": rss_limit_mb,
        "wall_seconds": round(wall, 1), "cases_per_second": round(cases / wall, 1),
        "decoder_outcomes": dict(decoded.most_common()),
        "parser_outcomes": dict(parsed.most_common()),
        "tracebacks": kinds["error"], "hangs": kinds["hang"], "crashes": kinds["crash"],
        "memory_findings": kinds["memory"],
        "max_case_seconds": round(max_s, 3), "max_case": max_at,
        "mean_case_seconds": round(total_s / max(cases, 1), 4),
        "peak_rss_mb": round(max(peak_kb / 1024, dog.peak_polled_mb), 1),
        "worker_baseline_rss_mb": round(dog.baseline_rss_mb, 1),
        "worker_restarts": dog.restarts,
        "findings": findings,
        "seeds": sorted(p.name for p in (ROOT / "tests" / "expected").glob("*.vqv")),
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "commit": _git("rev-parse", "--short", "HEAD"), "torch_threads": 1,
                        # what was fuzzed may differ from the commit: say so
                        "uncommitted_library_changes": _git("status", "--porcelain", "--", "vqcodec").splitlines(),
                        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
    }
    out.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first", type=int, default=0, help="index of the first case (to replay one)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per case")
    ap.add_argument("--rss-limit-mb", type=float, default=4096.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    s = run(args.cases, args.seed, args.first, args.time_limit, args.rss_limit_mb, args.out, args.quiet)
    print(f"{s['cases']} cases in {s['wall_seconds']} s: {s['tracebacks']} tracebacks, {s['hangs']} hangs, "
          f"{s['crashes']} crashes, {s['memory_findings']} over memory; max {s['max_case_seconds']} s "
          f"per case, peak RSS {s['peak_rss_mb']} MB -> {args.out}")
    return 1 if s["findings"] else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
