"""Experiment (not shipped): the fast prior with pass inputs for where the previous latent frame changed.

    python benchmarks/experiment_change_inputs.py MODEL.json

Scores the tokens the shipped default's encoder codes (prior_bits.recorded_tokens) on carphone and on
held-out bikes (0.5-1, 32 frames, 176x144) at qualities 1,3,5,7,9,10, with the shipped prior and with
MODEL's (PriorConfig.change_inputs; the frame before each context from the recorded sequence), in the
training arithmetic. Only the training path reads the new inputs: the coder does not, so MODEL cannot
code streams.
"""
import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import torch
from prior_bits import recorded_tokens
from vqcodec import load_codec
from vqcodec.bench.clips import load_clip
from vqcodec.models import laplace

ship = load_codec("default")
new = load_codec(sys.argv[1])
def bits(prior, cur, prev, pprev, q):
    prior.train()
    tot = 0.0
    with torch.no_grad():
        for _, _, _, v, base, f, mu, l in prior.pass_outputs(cur, prev, torch.full((cur.shape[0],), q), pprev):
            tot += laplace.bits(v, base, f, mu, l, prior.half).sum().item()
    prior.train(False)
    return tot
for spec, kw in (("carphone_pristine.mp4", {}), ("bikes.mp4:0.5-1", {"max_frames": 32, "size": (176, 144)})):
    clip = load_clip(spec, **kw)
    row = []
    for q in (1, 3, 5, 7, 9, 10):
        tokens, prev, size = recorded_tokens(ship, clip, q)
        K = ship.prior.K
        pprev = torch.cat([torch.full_like(prev[:1], K), prev[:-1]])
        a = bits(ship.prior, tokens, prev, None, q)
        b = bits(new.prior, tokens, prev, pprev, q)
        row.append(f"q{q} {a:.0f}->{b:.0f} ({b / a - 1:+.1%})")
        ship.reset_tables()
    print(spec, "; ".join(row), flush=True)
