"""Many processes, one model: `vqcodec train` under torchrun (torch.distributed DDP).

torchrun starts one process per device and tells each where it stands in the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
`session()` reads it, joins the process group (gloo on CPU, nccl on CUDA, each
rank on cuda:LOCAL_RANK) and leaves it at the end. Without torchrun, or with a
single process, it yields `Distributed()`, under which everything here is a
no-op: a plain `vqcodec train` runs exactly as before.

What differs between ranks (everything else is identical on all of them):
- data: each rank draws its own clips (ClipSampler's `rank`) and its own
  quantizer dropout and prior groups (`seed`); `--batch` is per rank, so one
  optimizer step sees batch x WORLD_SIZE clips;
- gradients: `wrap` puts the trainable modules in DistributedDataParallel,
  which averages gradients over the ranks before each optimizer step;
- codebooks: they are EMA buffers, which DDP leaves alone; quantizer.py
  all-reduces their statistics and takes seeds and restarts from rank 0;
- output: only rank 0 (`is_main`) writes checkpoints, the log, the progress
  bar, and installs the model.
`check_in_sync` compares a digest of every rank's weights and buffers at each
checkpoint, so a divergence is an error rather than a silently wrong model.
"""
from __future__ import annotations

import gc
import hashlib
import inspect
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run; the default is a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @classmethod
    def from_env(cls, device: str, env: Mapping[str, str] = os.environ) -> "Distributed":
        """Read torchrun's variables; `device` is "cpu" or "cuda" as asked on
        the command line (CUDA ranks get cuda:LOCAL_RANK)."""
        try:
            rank, world, local = (int(env.get(k, d)) for k, d in
                                  (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")))
        except ValueError:
            raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
        if not 0 <= rank < world or local < 0:
            raise ValueError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}")
        if device == "cuda" and "LOCAL_RANK" in env:
            device = f"cuda:{local}"
        return cls(rank, world, local, device)

    @property
    def active(self) -> bool:
        """True when there are other ranks to agree with."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files and talks to the user."""
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.startswith("cuda") else "gloo"

    def seed(self, base: int) -> int:
        """A seed of this rank's own, derived from the run's `base` seed."""
        return int(np.random.SeedSequence([base, self.rank]).generate_state(1)[0])

    def wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel around `module` when there are other ranks;
        the module itself otherwise. DDP copies rank 0's parameters and buffers
        to every rank here, but not buffers on each forward: the only mutable
        ones, the codebooks, are kept equal by quantizer.py (and
        `check_in_sync` would catch it if they were not)."""
        if not self.active:
            return module
        ddp = nn.parallel.DistributedDataParallel
        # newer torch renamed the option (and deprecates the old name)
        no_sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters
                   else "broadcast_buffers")
        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return ddp(module, device_ids=ids, **{no_sync: False})

    def check_in_sync(self, modules: Iterable[nn.Module]) -> str:
        """-> sha256 (hex) of the modules' parameters and buffers. With other
        ranks, every rank must call it; raises RuntimeError on every rank if
        any rank holds different values."""
        h = hashlib.sha256()
        for m in modules:
            for name, t in m.state_dict().items():
                h.update(name.encode())
                h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        digest = h.hexdigest()
        if self.active:
            mine = torch.tensor([int(digest[:15], 16)], dtype=torch.int64, device=self.device)
            every = [torch.zeros_like(mine) for _ in range(self.world_size)]
            dist.all_gather(every, mine)
            values = [int(v) for v in every]
            bad = [r for r, v in enumerate(values) if v != values[0]]
            if bad:
                raise RuntimeError(f"rank(s) {bad} hold different weights or codebooks than rank 0")
        return digest


SINGLE_PROCESS = Distributed()


@contextmanager
def session(device: str = "cpu") -> Iterator[Distributed]:
    """Join torchrun's process group for the duration of a run (nothing to
    join without torchrun or with one process), and leave it at the end."""
    d = Distributed.from_env(device)
    if not d.active:
        yield d
        return
    if d.device.startswith("cuda"):
        torch.cuda.set_device(d.local_rank)
    dist.init_process_group(d.backend, rank=d.rank, world_size=d.world_size)
    try:
        yield d
        # Leave together, once every rank's last collective is complete, and
        # with nothing left (DDP reducers, pending work) that still holds the
        # group: a gloo group torn down under a peer's feet, or finalised at
        # interpreter exit, can abort a finished run.
        dist.barrier()
    finally:
        gc.collect()
        dist.destroy_process_group()
