"""What exactness costs: the fast prior's network in 8-bit exact arithmetic vs plain float32.

    python benchmarks/int8_cost.py [--model default] [--size 352x288] [--repeat 5]
                                   [--out benchmarks/results/fast_prior/int8_cost.json]

Runs the prior's work for the latent frames of a generated clip (the context
pass and the four coding passes, exactly as fast_schedule.py calls them, on
the clip's true tokens) twice: as coded (int8.py's exact paths: 8-bit
operands, float32 products, per-row scales) and as the same network in plain
float32 (the same weights unrounded, nn.functional.linear and a float
softmax, no rounding anywhere: what a float prior would cost, which is not
exact across machines). Reports the fastest of --repeat runs of each and the
ratio (the target: at most 1.5). Run it on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def float_paths():
    """Patch int8's exact methods into plain float32 ones; returns an undo function."""
    from vqcodec.models import int8

    saved = (int8.QLinear.exact, int8.QLinear.exact_ints, int8.QAttention.exact)

    def lin(self, x):
        return F.linear(x, self.weight, self.bias)

    def lin_ints(self, x, in_scale):
        return F.linear(x * in_scale, self.weight, self.bias)

    def attn(self, x):
        B, S, C = x.shape
        q, k, v = self._split(x, self.qkv.exact)
        p = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, -1)
        return self.proj.exact((p @ v).transpose(1, 2).reshape(B, S, C))
    int8.QLinear.exact, int8.QLinear.exact_ints, int8.QAttention.exact = lin, lin_ints, attn

    def undo():
        int8.QLinear.exact, int8.QLinear.exact_ints, int8.QAttention.exact = saved
    return undo


def prior_work(codec, tokens, quality: int) -> None:
    """The network part of coding every latent frame of tokens (T', C, h, w)."""
    from vqcodec.models.prior import checkerboard

    P = codec.prior
    prev = codec.empty_context(*tokens.shape[2:])
    for frame in tokens:
        cur_true = torch.from_numpy(frame)
        ctx = P.context(prev, quality)
        prev_v, cur = P.values(prev), torch.full_like(prev, P.mask_index)
        board = checkerboard(*frame.shape[1:]).reshape(-1)
        for index, a, b, parity in P.schedule():
            pos = torch.nonzero(board == bool(parity)).reshape(-1)
            P.pass_tables(index, ctx, cur, prev_v, pos)
            cur[a:b].reshape(b - a, -1)[:, pos] = cur_true[a:b].reshape(b - a, -1)[:, pos]
        prev = cur_true


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--size", default="352x288")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--quality", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "fast_prior" / "int8_cost.json")
    a = ap.parse_args()
    import vqcodec
    from vqcodec.bench.scenes import pan_scene

    w, h = (int(v) for v in a.size.split("x"))
    codec = vqcodec.load_codec(a.model)
    tokens = codec.encode_tokens(codec.padded(pan_scene(a.frames, w, h)), a.quality)
    times = {}
    for name in ("exact", "float32", "exact", "float32"):  # interleaved: drift hits both
        undo = float_paths() if name == "float32" else (lambda: None)
        try:
            for _ in range(a.repeat):
                start = time.perf_counter()
                prior_work(codec, tokens, a.quality)
                times[name] = min(times.get(name, 1e9), time.perf_counter() - start)
        finally:
            undo()
    doc = {"command": "python " + " ".join(sys.argv), "model": a.model, "size": a.size,
           "latent_frames": int(tokens.shape[0]), "torch_threads": torch.get_num_threads(),
           "exact_s": round(times["exact"], 4), "float32_s": round(times["float32"], 4),
           "ratio": round(times["exact"] / times["float32"], 3)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
