"""Bits per latent frame: how much of the previous latent frame the prior exploits.

    python benchmarks/latent_frame_bits.py CLIP QUALITY [MODEL]
    e.g. python benchmarks/latent_frame_bits.py synthetic:static 5 runs/scalar10/scalar10.json

Codes the first 32 frames (176x144 centre crop) GOP by GOP with nearest
rounding and prints, per latent frame, the ideal bits under the integer
tables, the share of symbols equal to the previous latent frame's, and the
share of mid (zero) symbols; then the clip's bpp. docs/history.md's figures for
the prior's temporal shortcuts (0.224 -> 0.117 bpp on synthetic:static at q5)
came from this script with the old and the new default.
"""
import sys, numpy as np, torch
from vqcodec.zoo import load_codec
from vqcodec.bench.clips import load_clip
from vqcodec.coding import cdf
torch.set_num_threads(2)
spec, q = sys.argv[1], int(sys.argv[2])
model = sys.argv[3] if len(sys.argv) > 3 else "default"
clip = load_clip(spec, 32, (176, 144))
codec = load_codec(model); codec.use_rounding(0)
fr = clip.frames
gop = codec.config.gop
prev = None
H, W = fr.shape[1:3]
tot = 0
for g0 in range(0, len(fr), gop):
    tok = codec.encode_tokens(codec.padded(fr[g0:g0+gop]), q)
    if g0 % codec.config.intra_period == 0:
        prev = codec.empty_context(tok.shape[2], tok.shape[3])
    for f in range(tok.shape[0]):
        p0 = prev[:tok.shape[1]].cpu().numpy()
        same = (p0 == tok[f]).mean() if (p0 < 128).any() else float('nan')
        zero_sym = (tok[f] == 64).mean()
        _, bits, prev = codec.encode_payload(tok[f:f+1].copy(), prev, quality=q)
        tot += bits
        print(f"gop{g0//gop} lf{f} bits {bits:8.0f} bpp {bits/(H*W*codec.factor_t):.4f} same-as-prev {same:.3f} mid {zero_sym:.3f}")
print("total bpp", tot / (len(fr)*H*W))
