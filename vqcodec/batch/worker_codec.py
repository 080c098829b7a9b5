"""The model inside a batch worker: loaded once per worker process, not once per file.

Loading a model (reading the safetensors, building the modules, hashing the
weights) costs about as much as coding a short clip, so every worker process
keeps the codecs it has loaded, keyed by what identifies them: the model named
(a name, or an absolute path: relative paths are resolved on the client before
the job is sent), the device, and the encoder's rounding. A decoder's key is the
stream's model name and weights sha256, so a corpus of streams from several
models loads each of them once per worker.

A Codec holds state (the rounding it encodes with, the prior tables converted
on first use), so two threads of one worker must not use it at once: each
cached codec comes with a lock that a task holds while it codes. A local batch
runs one thread per worker process, so the lock is never contended there.

`TorchThreads` is the Dask worker plugin that sets torch's thread count in each
worker when it starts (and again in a worker the nanny restarts).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from distributed.diagnostics.plugin import WorkerPlugin

from vqcodec.codec import Codec
from vqcodec.format.container import StreamHeader

_CACHE: dict[tuple, tuple[Codec, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()  # guards _CACHE itself; loads happen under it (rare)
LOADS: list[tuple] = []  # every load this process did, in order: what tests and manifests count


@dataclass(frozen=True)
class Loaded:
    codec: Codec
    loaded_now: bool  # this call loaded it (False: it was already in this process)


def _get(key: tuple, load) -> tuple[Codec, threading.Lock, bool]:
    with _CACHE_LOCK:
        if key in _CACHE:
            codec, lock = _CACHE[key]
            return codec, lock, False
        codec = load()
        _CACHE[key] = (codec, threading.Lock())
        LOADS.append(key)
        return codec, _CACHE[key][1], True


@contextmanager
def encoder_codec(model: str, device: str, rdo: float | None) -> Iterator[Loaded]:
    """The codec `vqcodec compress --model MODEL --rdo RDO` would load, held for one task."""
    def load() -> Codec:
        from vqcodec.zoo import load_codec

        codec = load_codec(model, device)
        codec.use_rounding(rdo)
        return codec

    codec, lock, now = _get(("encode", model, device, rdo), load)
    with lock:
        yield Loaded(codec, now)


@contextmanager
def decoder_codec(header: StreamHeader, model: str | None, device: str) -> Iterator[Loaded]:
    """The codec that decodes the stream `header` describes (zoo.codec_for), held for one task."""
    from vqcodec.zoo import codec_for

    codec, lock, now = _get(("decode", model, header.model_name, header.weights_sha256, device),
                            lambda: codec_for(header, model, device))
    codec.check_header(header)  # a cached codec still has to fit this stream (quality, GOP, version)
    with lock:
        yield Loaded(codec, now)


class TorchThreads(WorkerPlugin):
    """Dask WorkerPlugin: torch.set_num_threads(n) in every worker, now and after restarts.

    (Dask's nanny starts workers with OMP_NUM_THREADS=1, so without it each worker
    process computes on one core.)"""

    name = "vqcodec-torch-threads"

    def __init__(self, threads: int):
        self.threads = threads

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.threads)
