"""`vqcodec batch` on a real local Dask cluster: a folder of generated clips with one corrupt
file and one non-video file, compressed by 2 worker processes.

Checked: every good output is byte for byte what `vqcodec compress` writes alone; the bad
files are in the manifest with their errors and the batch goes on; each worker loads the
model once; a second run does no work; a run killed part-way (the whole process group, in
a subprocess), with a truncated output and a stale temporary left behind, restarts to the
same outputs; a worker killed mid-file has its file coded by another worker; batch
decompress and batch bench on the same machinery; bad invocations are one "error:" line.

Clips are 8 frames of 64x48 on the pinned tiny model, so the cluster's start-up (a few
seconds per run) is most of the time.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import _tiny_pattern
from test_bench_command import one_line_error
from vqcodec.api import decompress
from vqcodec.media.video_io import read_video, write_video
from vqcodec_cli.main import main

GOOD = ("a.mkv", "sub/b.mkv", "sub/deep/c.mkv", "d.y4m")
BAD = ("broken.mkv", "notes.mp4")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The references coded in this process use one torch thread, as each of the 2 workers does on
    2 cores: two threads per process on a busy 2-core machine slow torch down 5-50x."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def clip(i: int, frames: int = 8) -> np.ndarray:
    return np.ascontiguousarray(np.roll(_tiny_pattern(frames, 48, 64), 5 * i, axis=(1, 2)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch") / "corpus"
    for i, name in enumerate(GOOD):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(str(root / name), clip(i), Fraction(25))
    good = (root / "a.mkv").read_bytes()
    (root / "broken.mkv").write_bytes(good[:600])  # a cut copy: the header survives, no frame does
    (root / "notes.mp4").write_text("not a video at all\n" * 20)  # a video's name, a text's bytes
    (root / "readme.txt").write_text("a folder's other files are not inputs\n")
    return root


def compress_args(inputs, out, tiny_model, *more):
    return ["batch", "compress", *inputs, "--out", out, "--model", tiny_model, "--quality", 2, *more]


@pytest.fixture(scope="module")
def first_run(corpus, tiny_model):
    out = corpus.parent / "out"
    result = cli(*compress_args([corpus], out, tiny_model, "--workers", 2))
    return SimpleNamespace(result=result, out=out, manifest=json.loads((out / "manifest.json").read_text()))


@pytest.fixture(scope="module")
def alone(corpus, tiny_model) -> dict[str, bytes]:
    """What `vqcodec compress` writes for each good clip, one at a time."""
    folder, streams = corpus.parent / "alone", {}
    folder.mkdir()
    for i, name in enumerate(GOOD):
        target = folder / f"{i}.vqv"
        assert cli("compress", corpus / name, target, "--model", tiny_model, "--quality", 2).exit_code == 0
        streams[name] = target.read_bytes()
    return streams


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.vqv"))}


def entries(manifest: dict) -> dict[str, dict]:
    return {Path(f["input"]).name: f for f in manifest["files"]}


def test_every_good_output_is_what_compress_writes_alone(first_run, alone):
    assert outputs(first_run.out) == {f"{name}.vqv": data for name, data in alone.items()}


def test_bad_files_are_reported_and_skipped(first_run, corpus):
    result = first_run.result
    assert result.exit_code == 4, result.output  # some inputs failed, the others written
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and any("broken.mkv" in w for w in warnings) and any("notes.mp4" in w for w in warnings)
    files = entries(first_run.manifest)
    assert sorted(files) == sorted(Path(n).name for n in GOOD + BAD)  # readme.txt is no input
    for name in BAD:
        assert files[name]["status"] == "failed" and files[name]["error"], files[name]
        assert files[name]["source_stamp"]  # so an unchanged bad file is not retried
    assert "not a video" in files["notes.mp4"]["error"]
    assert first_run.manifest["totals"] | {"wall_seconds": 0, "frames_per_second": 0} == {
        "done": 4, "skipped": 0, "failed": 2, "inputs": 6, "frames_coded": 32,
        "bytes": sum(f["bytes"] for f in files.values() if f["bytes"]), "wall_seconds": 0, "frames_per_second": 0}


def test_the_manifest_says_bytes_bpp_seconds_and_worker(first_run):
    for name in GOOD:
        e = entries(first_run.manifest)[Path(name).name]
        assert e["status"] == "done" and e["error"] is None
        assert e["bytes"] == os.path.getsize(e["output"])
        assert e["bpp"] == pytest.approx(8 * e["bytes"] / (8 * 64 * 48))
        assert e["seconds"] > 0 and e["worker"].startswith("tcp://")
    assert first_run.manifest["cluster"]["workers"] == 2 and first_run.manifest["cluster"]["local"]


def test_each_worker_loads_the_model_once(first_run):
    files = first_run.manifest["files"]
    workers = {f["worker"] for f in files}
    loads = [f["worker"] for f in files if f["model_loaded"]]
    assert len(loads) == len(set(loads)) <= 2 < len(files)  # never twice in one worker
    assert set(loads) <= workers


def test_a_second_run_does_no_work(first_run, corpus, tiny_model):
    before = {p: p.stat().st_mtime_ns for p in first_run.out.rglob("*.vqv")}
    result = cli(*compress_args([corpus], first_run.out, tiny_model, "--workers", 2))
    assert result.exit_code == 4, result.output  # the bad files are still bad, and still reported
    manifest = json.loads((first_run.out / "manifest.json").read_text())
    assert manifest["cluster"] is None  # nothing to do: no cluster was started
    assert manifest["totals"]["done"] == 0 and manifest["totals"]["skipped"] == 4
    assert {p: p.stat().st_mtime_ns for p in first_run.out.rglob("*.vqv")} == before


def test_a_killed_run_restarts_to_identical_outputs(corpus, first_run, tiny_model, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "vqcodec_cli.main", *map(str, compress_args([corpus], out, tiny_model,
                                                                             "--workers", 1))]
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.rglob("*.vqv")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the client, its scheduler and its worker processes at once
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    written = sorted(out.rglob("*.vqv"))
    assert 1 <= len(written) < len(GOOD)
    # what a crash can leave besides: a partial output and a temporary of the atomic writer
    written[0].write_bytes(written[0].read_bytes()[:100])
    stale = written[0].with_name(f".{written[0].name}.0badc0de.part")
    stale.write_bytes(b"half a stream")
    # and one of the manifest's, as a kill during its rewrite leaves (it was a flaky CI failure)
    (out / ".manifest.json.0badc0de.part").write_bytes(b'{"half": ')

    result = cli(*compress_args([corpus], out, tiny_model, "--workers", 2))
    assert result.exit_code == 4, result.output
    assert outputs(out) == outputs(first_run.out)
    assert not list(out.rglob(".*.part"))
    redone = entries(json.loads((out / "manifest.json").read_text()))[written[0].name.removesuffix(".vqv")]
    assert redone["status"] == "done"


def test_a_worker_killed_mid_file_has_its_file_coded_elsewhere(tmp_path, tiny_model, tiny_codec):
    from vqcodec.api import compress
    from vqcodec.batch.engine import ClusterConfig, open_cluster, run_jobs
    from vqcodec.batch.inputs import VIDEO_EXTENSIONS, plan_jobs, with_suffix_added
    from vqcodec.batch.tasks import CompressSettings, compress_file

    folder = tmp_path / "in"
    folder.mkdir()
    long = clip(7, frames=96)  # about 1 s of coding on one thread: still running when its worker is killed
    write_video(str(folder / "long.mkv"), long, Fraction(25))
    write_video(str(folder / "a.mkv"), clip(0), Fraction(25))
    jobs = plan_jobs([str(folder)], tmp_path / "out", VIDEO_EXTENSIONS, with_suffix_added(".vqv"))
    assert [Path(j.source).name for j in jobs] == ["a.mkv", "long.mkv"]
    results, killed, started = [], [], threading.Event()

    with open_cluster(ClusterConfig(workers=2, threads=1)) as cluster:
        pids = cluster.client.run(os.getpid)

        def kill_the_long_files_worker():
            started.wait(60)  # the first frames reported: coding is under way
            for address, keys in cluster.client.processing().items():
                if any(str(k).endswith("-1") for k in keys):  # job 1: long.mkv
                    killed.append(address)
                    os.kill(pids[address], signal.SIGKILL)

        killer = threading.Thread(target=kill_the_long_files_worker)
        killer.start()
        run_jobs(cluster, compress_file, jobs, CompressSettings(tiny_model, 2), results.append,
                 lambda n: started.set(), allowed_failures=2)
        killer.join()
    assert len(killed) == 1
    by_name = {Path(r.input).name: r for r in results}
    assert by_name["long.mkv"].status == "done" and by_name["long.mkv"].worker != killed[0]
    reference = tmp_path / "long.vqv"
    compress(long, str(reference), 64, 48, Fraction(25), quality=2, model=tiny_codec)
    assert Path(by_name["long.mkv"].output).read_bytes() == reference.read_bytes()


def test_batch_decompress(first_run, tiny_model, tiny_codec, tmp_path):
    out = tmp_path / "decoded"
    result = cli("batch", "decompress", first_run.out, "--out", out, "--model", tiny_model, "--workers", 1)
    assert result.exit_code == 0, result.output
    for name in GOOD:
        stream = first_run.out / f"{name}.vqv"
        decoded = out / (str(Path(name).with_suffix("")) + ".mkv")
        got = read_video(str(decoded))[0].astype(np.int16)
        want = np.stack(list(decompress(str(stream), model=tiny_codec))).astype(np.int16)
        # the same frames; a worker process's torch threads (Dask starts it with one BLAS
        # thread) may round a pixel of the float decoder a level off, as another machine may
        assert got.shape == want.shape and np.abs(got - want).max() <= 1 and np.mean(got != want) < 1e-3
    again = cli("batch", "decompress", first_run.out, "--out", out, "--model", tiny_model, "--workers", 1)
    assert again.exit_code == 0 and "0 done, 4 already complete" in again.output


def test_batch_bench(corpus, tiny_model, tmp_path):
    out = tmp_path / "bench"
    args = ["batch", "bench", corpus / "a.mkv", corpus / "sub", "--out", out, "--model", tiny_model,
            "--anchors", "x264:medium", "--qualities", "1,2", "--no-ms-ssim", "--workers", 2]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == sorted(["a.mkv.json", "a.mkv.md", "a.mkv.png", "b.mkv.json", "b.mkv.md", "b.mkv.png",
                            "deep/c.mkv.json", "deep/c.mkv.md", "deep/c.mkv.png", "summary.md", "corpus.json",
                            "corpus.md", "corpus.png", "manifest.json"])
    corpus_doc = json.loads((out / "corpus.json").read_text())
    assert [c["name"] for c in corpus_doc["clip"]["clips"]] == ["a.mkv", "b.mkv", "c.mkv"]
    assert corpus_doc["command"].startswith("vqcodec batch bench ")
    assert "| a.mkv | 64x48 | 8 | full |" in result.output and "Corpus: 3 clips (64x48), 24 frames" in result.output
    again = cli(*args)
    assert again.exit_code == 0 and "0 done, 3 already complete" in again.output


def test_bad_invocations_are_one_line(tmp_path, corpus, tiny_model):
    out = tmp_path / "out"
    one_line_error(cli("batch", "compress", tmp_path / "nope", "--out", out), "no such file or folder")
    (tmp_path / "file").write_text("x")
    one_line_error(cli("batch", "compress", corpus, "--out", tmp_path / "file"), "not a folder")
    (tmp_path / "empty").mkdir()
    one_line_error(cli("batch", "compress", tmp_path / "empty", "--out", out), "no inputs")
    unreachable = compress_args([corpus], out, tiny_model, "--scheduler", "tcp://127.0.0.1:1", "--timeout", 0.5)
    one_line_error(cli(*unreachable), "cannot reach the scheduler", "127.0.0.1:1")
    one_line_error(cli(*compress_args([corpus], out, tiny_model, "--scheduler", "nonsense://x")),
                          "cannot reach the scheduler")
    one_line_error(cli(*compress_args([corpus], out, tiny_model, "--scheduler", "tcp://h:1",
                                             "--workers", 2)), "--workers")
    one_line_error(cli(*compress_args([corpus], out, tiny_model, "--workers", 0)), "at least 1")
    one_line_error(cli(*compress_args([corpus], out, tiny_model, "--quality", 99)), "quality 99")
    one_line_error(cli(*compress_args([corpus], out, tiny_model, "--keyint", 4)), "lowlatency")
    one_line_error(cli("batch", "compress", corpus, "--out", out, "--model", "no-such-model"), "no-such-model")
    one_line_error(cli("batch", "bench", corpus, "--out", out, "--model", tiny_model, "--qualities", "9"), "9")
    assert not out.exists()  # nothing was written by any refused run


def test_a_subprocess_error_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vqcodec_cli.main", "batch", "decompress", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "out")], capture_output=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.decode().strip().splitlines() == [
        f"error: no such file or folder: {tmp_path / 'nope'}"]
