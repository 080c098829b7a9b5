"""training/distributed.py: torchrun's environment, per-rank data, and two
real CPU ranks (gloo) that must end with identical weights and codebooks,
through the API (torch.multiprocessing) and through `torchrun ... vqcodec train`.

Every run is tiny (tiny model, clips 4x32x32, a few steps) and single-threaded
per process; addresses are 127.0.0.1 only, so no network is needed.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vqcodec.config import CodecConfig
from vqcodec.training.data import ClipSampler, ClipShape
from vqcodec.training.distributed import Distributed

REPO = Path(__file__).resolve().parents[1]
TINY_CLIP = ClipShape(4, 32, 32)


def test_environment_without_torchrun_is_one_process():
    d = Distributed.from_env("cpu", env={})
    assert d == Distributed() and not d.active and d.is_main and d.backend == "gloo"
    assert Distributed.from_env("cuda", env={}).device == "cuda"


def test_environment_from_torchrun():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    d = Distributed.from_env("cuda", env=env)
    assert (d.rank, d.world_size, d.local_rank, d.device) == (3, 4, 1, "cuda:1")
    assert d.active and not d.is_main and d.backend == "nccl"
    assert Distributed.from_env("cpu", env=env).device == "cpu"
    assert d.seed(0) != replace(d, rank=2).seed(0)
    with pytest.raises(ValueError, match="torchrun"):
        Distributed.from_env("cpu", env={"RANK": "2", "WORLD_SIZE": "2"})


def test_single_process_helpers_are_no_ops():
    m = torch.nn.Linear(2, 2)
    d = Distributed()
    assert d.wrap(m) is m
    assert len(d.check_in_sync([m])) == 64


def test_each_rank_draws_its_own_clips():
    def first(**kw):
        return ClipSampler([], TINY_CLIP, 1.0, seed=5, **kw).batch(1)

    assert torch.equal(first(), first(rank=0))  # rank 0 is the single-process stream
    assert not torch.equal(first(rank=0), first(rank=1))


# ------------------------------------------------------------ two real ranks
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out: str, cfg_json: str) -> None:
    """One rank of a tiny two-stage run; saves its final state to out/rank<r>.safetensors."""
    from safetensors.torch import save_file

    from vqcodec.training.distributed import session
    from vqcodec.training.run import run_training
    from vqcodec.training.train import TrainConfig

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    tcfg = TrainConfig(out=Path(out) / "run", name="ddp", ae_steps=3, prior_steps=2, batch=2, clip=TINY_CLIP,
                       prior_clip=TINY_CLIP, prior_batch=1, ckpt_every=2, eval_every=100)
    with session("cpu") as dist:
        assert dist.active and dist.rank == rank
        trainer = run_training(tcfg, CodecConfig.from_json(cfg_json), [], synthetic=True, dist=dist,
                               log=lambda m: None)
    state = {f"{p}.{k}": v.detach().clone().contiguous() for p, m in
             (("autoencoder", trainer.ae), ("quantizer", trainer.vq), ("prior", trainer.prior))
             for k, v in m.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))


def test_two_gloo_ranks_end_identical(tmp_path, tiny_model, monkeypatch):
    from safetensors.torch import load_file

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = CodecConfig.from_json(Path(tiny_model).read_text())
    # a high dead-code threshold makes codes restart from the first steps on,
    # so the restart path is synchronised too, not only the EMA statistics
    cfg = replace(cfg, quantizer=replace(cfg.quantizer, dead_threshold=1.5))
    torch.multiprocessing.spawn(_rank_main, args=(2, _free_port(), str(tmp_path), cfg.to_json()), nprocs=2)

    r0, r1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert r0.keys() == r1.keys()
    differ = [k for k in r0 if not torch.equal(r0[k], r1[k])]
    assert not differ, differ
    books = [k for k in r0 if k.startswith("quantizer.") and k.endswith((".embed", ".embed_avg", ".cluster_size"))]
    assert len(books) == 3 * cfg.quantizer.levels
    assert all(bool(v) for k, v in r0.items() if k.endswith(".initialized"))
    # only rank 0 wrote: one log line per step, and its checkpoint is the final state
    run = tmp_path / "run"
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in log] == [("autoencoder", 1), ("autoencoder", 2), ("autoencoder", 3),
                                                     ("prior", 1), ("prior", 2)]
    assert sum(r["dead"] for r in log if r["stage"] == "autoencoder") > 0
    saved = load_file(str(run / "ddp.safetensors"))
    assert all(torch.equal(saved[k], r0[k]) for k in saved)
    # DDP really trained: the weights moved from their initial values
    torch.manual_seed(0)
    from vqcodec.zoo import build_modules

    ae0 = build_modules(cfg)[0].state_dict()
    assert any(not torch.equal(ae0[k], r0[f"autoencoder.{k}"]) for k in ae0)


def test_torchrun_vqcodec_train(tmp_path, tiny_model):
    """The documented command line, with two CPU ranks."""
    env = dict(os.environ, OMP_NUM_THREADS="1", CI="true", PYTHONFAULTHANDLER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "vqcodec_cli.main", "train", "--synthetic", "--init", tiny_model, "--out", str(out),
           "--name", "ddp", "--steps", "3", "--prior-steps", "2", "--batch", "2", "--clip", "4,32,32"]
    r = subprocess.run(cmd, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 ranks, batch 2 each" in r.stderr
    assert "all 2 ranks hold the same weights and codebooks" in r.stderr
    assert json.loads((out / "progress.json").read_text())["stage"] == "done"
    assert (out / "ddp.json").is_file() and (out / "ddp.safetensors").is_file()
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 3 + 2  # rank 0 only
