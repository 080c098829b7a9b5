"""Where a batch runs: a Dask cluster, local or joined, and the loop that feeds it files.

Dask's `distributed` is the engine (README, "Batch"): a scheduler hands each
file to a worker process, moves work from busy workers to idle ones, and when
a worker dies (killed, out of memory, its machine gone) gives the files it held
to another worker; a file whose workers keep dying (`allowed_failures` times)
is reported as failed instead of taking the cluster down with it.

- No scheduler address: a LocalCluster of `workers` processes on this machine
  (default: one per core), each computing with cores / workers torch threads.
- An address (tcp://host:8786): the batch joins that cluster, started by
  `dask scheduler` / `dask worker`, dask-jobqueue (SLURM, PBS, ...) or
  dask-kubernetes. Every worker must have vqcodec installed and see the inputs
  and the output folder at the same paths (a shared filesystem): tasks carry
  paths, not video bytes.

run_jobs submits one task per file and hands each FileResult to a callback as
it arrives (the manifest and the progress bar), with the frames finished so
far streamed as worker events in between.
"""
from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from vqcodec.batch.inputs import Job
from vqcodec.batch.tasks import FileResult
from vqcodec.batch.worker_codec import TorchThreads


@dataclass(frozen=True)
class ClusterConfig:
    workers: int | None = None  # local cluster: worker processes (None: one per core)
    scheduler: str | None = None  # join this cluster instead ("tcp://host:8786")
    threads: int | None = None  # torch threads per worker (None: cores / workers here; untouched when joined)
    timeout_s: float = 20.0  # how long to wait for the scheduler and its first worker
    allowed_failures: int = 2  # local: deaths of a file's worker before the file is reported failed

    def __post_init__(self) -> None:
        if self.scheduler and self.workers is not None:
            raise ValueError("--workers starts a local cluster; with --scheduler the cluster's own workers run")
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be at least 1, got {value}")
        if self.timeout_s <= 0 or self.allowed_failures < 0:
            raise ValueError("the timeout must be positive and allowed_failures at least 0")

    def local_shape(self) -> tuple[int, int]:
        """(worker processes, torch threads each) for a local cluster."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = self.workers or cores
        return workers, self.threads or max(1, cores // workers)


@dataclass(frozen=True)
class Cluster:
    client: object  # distributed.Client
    description: dict  # for the manifest: scheduler, workers, threads, local or joined


def _vqcodec_version() -> str:  # runs on each worker: can it import vqcodec, and which?
    import vqcodec

    return vqcodec.__version__


@contextmanager
def open_cluster(cfg: ClusterConfig) -> Iterator[Cluster]:
    """Start a local cluster or join cfg.scheduler; closed (local) or left (joined) on exit.
    An unreachable or unusable cluster raises OSError / ValueError with a one-line reason."""
    import dask
    from distributed import Client, LocalCluster

    if cfg.scheduler:
        try:
            client = Client(cfg.scheduler, timeout=cfg.timeout_s, set_as_default=False)
        except (OSError, ValueError, TypeError) as e:
            raise OSError(f"cannot reach the scheduler at {cfg.scheduler}: {' '.join(str(e).split())}") from None
        local, threads = None, cfg.threads
    else:
        workers, threads = cfg.local_shape()
        # read by the scheduler when it starts, so set before LocalCluster makes it
        with dask.config.set({"distributed.scheduler.allowed-failures": cfg.allowed_failures}):
            local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                 silence_logs=logging.CRITICAL)
        client = Client(local, set_as_default=False)
    try:
        _check_workers(client, cfg)
        if threads:
            client.register_plugin(TorchThreads(threads))
        info = client.scheduler_info()
        yield Cluster(client, {"scheduler": info.get("address"), "local": local is not None,
                               "workers": len(info.get("workers", {})), "torch_threads_per_worker": threads})
    finally:
        client.close()
        if local is not None:
            local.close()


def _check_workers(client, cfg: ClusterConfig) -> None:
    """At least one worker, and every worker imports this vqcodec: fail now, not file by file."""
    import vqcodec

    try:
        client.wait_for_workers(1, timeout=cfg.timeout_s)
    except TimeoutError:
        raise OSError(f"the scheduler at {cfg.scheduler} has no workers (waited {cfg.timeout_s:g} s)") from None
    try:
        versions = client.run(_vqcodec_version)
    except Exception as e:  # an unpicklable call: vqcodec is not installed there
        raise OSError(f"the workers cannot run vqcodec ({type(e).__name__}: {' '.join(str(e).split())}); "
                      f"install vqcodec {vqcodec.__version__} on every worker") from None
    other = {a: v for a, v in versions.items() if v != vqcodec.__version__}
    if other:
        address, version = next(iter(other.items()))
        raise OSError(f"worker {address} has vqcodec {version}, this client {vqcodec.__version__}: "
                      f"install the same version everywhere")


def run_jobs(cluster: Cluster, task: Callable, jobs: Sequence[Job], settings,
             on_result: Callable[[FileResult], None], on_frames: Callable[[int], None] = lambda n: None,
             allowed_failures: int | None = None) -> None:
    """task(job, settings, topic) on the cluster for every job; on_result(FileResult) as each ends,
    in the order they end; on_frames(n) as workers report frames finished."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    client = cluster.client
    run = uuid.uuid4().hex[:12]
    topic = f"vqcodec-batch-{run}"  # one topic per run: batches sharing a cluster keep their own progress
    client.subscribe_topic(topic, lambda event: on_frames(event[1]["frames"]))
    try:
        futures = {client.submit(task, job, settings, topic, key=f"{task.__name__}-{run}-{i}", pure=False): job
                   for i, job in enumerate(jobs)}
        for future in as_completed(futures, loop=client.loop):  # this client's, not a global default
            job = futures[future]
            try:
                result = future.result()
            except KilledWorker:
                tries = "" if allowed_failures is None else f" {allowed_failures + 1} times"
                result = FileResult(job.source, job.output, "failed",
                                    error=f"the worker coding it died{tries} (a crash or out of memory)")
            except Exception as e:  # the cluster itself failed (scheduler lost): this file is not done
                result = FileResult(job.source, job.output, "failed",
                                    error=f"{type(e).__name__}: {' '.join(str(e).split())}")
            future.release()
            on_result(result)
    finally:
        client.unsubscribe_topic(topic)


def run_batch(task: Callable, settings, todo: Sequence[Job], known: Sequence[FileResult], cfg: ClusterConfig,
              manifest, on_result: Callable[[FileResult], None],
              on_frames: Callable[[int], None] = lambda n: None) -> None:
    """Run `todo` on a cluster (none is started when there is nothing to do) and record every
    result, the ones known before any work (skipped, refused) first, in the manifest; it is
    written also when the run is interrupted, but not when the cluster cannot be reached."""
    def record(result: FileResult) -> None:
        manifest.add(result)
        on_result(result)

    if not todo:
        for result in known:
            record(result)
        manifest.write()
        return
    with open_cluster(cfg) as cluster:
        manifest.cluster = cluster.description
        try:
            for result in known:
                record(result)
            run_jobs(cluster, task, todo, settings, record, on_frames,
                     None if cfg.scheduler else cfg.allowed_failures)
        finally:
            manifest.write()
