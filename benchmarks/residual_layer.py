"""Probe (not adopted): a classical residual layer on top of the predicted steps.

    python benchmarks/residual_layer.py CLIP FRAMES SIZE QUALITIES STEPS OUT
    python benchmarks/residual_layer.py bikes.mp4:0.5-1 64 176x144 5,7,9 0,32,48,64,96 \
        benchmarks/results/predictive/residual_layer/bikes.json

The token path corrects a step only inside the 64 latent channels of each
2x8x8 block; the question was whether the rest of the residual is cheaper to
send classically, as x264 does. Each step's decoded frames (and the intra
step's) get, before they become the next step's reference (closed loop), the
residual (original - decoded) in an orthonormal colour transform and an 8x8
orthonormal DCT per frame, quantized with a uniform step (deadzone rounding
at 0.35) and added back. Its bits are estimated, not coded: an adaptive
(Dirichlet 0.05) code length per colour and coefficient over the whole clip,
order-free. Step 0 is the codec as it is. Hooks StepEncoder.code and the
intra packet's decode; tuning clips only (an evaluation clip is refused).
Prints one row per (quality, step) and writes them as JSON at OUT.
"""
import sys, json, io, numpy as np, torch
from fractions import Fraction
import math

torch.set_num_threads(2)
from vqcodec.bench.clips import load_tuning_clip
from vqcodec.zoo import load_codec
from vqcodec.bench.measure import psnr_rgb
from vqcodec.modes import predicted as P
from vqcodec.api import compress

spec = sys.argv[1]; nfr = int(sys.argv[2]); size = sys.argv[3]
qs = [int(x) for x in sys.argv[4].split(',')]; steps = [float(x) for x in sys.argv[5].split(',')]
clip = load_tuning_clip(spec, nfr, size)
frames = clip.frames
codec = load_codec('default')
T, H, W, _ = frames.shape
C = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], float); C = C / np.linalg.norm(C, axis=1, keepdims=True)
n = 8; k = np.arange(n)
D = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2 / n); D[0] /= np.sqrt(2)

def fwd(r):
    t, h, w, _ = r.shape
    y = (r @ C.T).transpose(0, 3, 1, 2).reshape(t, 3, h // n, n, w // n, n).transpose(0, 1, 2, 4, 3, 5)
    return D @ y @ D.T
def inv(c):
    t, _, hb, wb, _, _ = c.shape
    y = (D.T @ c @ D).transpose(0, 1, 2, 4, 3, 5).reshape(t, 3, hb * n, wb * n).transpose(0, 2, 3, 1)
    return y @ C
gammaln = np.vectorize(math.lgamma)


def bits_est(syms):
    s = np.concatenate([x.reshape(-1, 3, 8, 8) for x in syms]); total = 0.0; a = 0.05
    for c in range(3):
        for u in range(8):
            for v in range(8):
                x = np.clip(s[:, c, u, v], -64, 64) + 64
                nn_ = np.bincount(x, minlength=129).astype(float); N = nn_.sum()
                total += (gammaln(N + 129 * a) - gammaln(129 * a) - (gammaln(nn_ + a) - gammaln(a)).sum()) / np.log(2)
    return total

STATE = {"step": None, "syms": [], "out": []}
def enhance(dec, orig):
    if STATE["step"] is None:
        return dec
    st = STATE["step"]
    c = fwd(orig.astype(float) - dec.astype(float))
    s = np.sign(c) * np.floor(np.abs(c) / st + 0.35)
    STATE["syms"].append(s.astype(np.int32))
    return np.clip(np.rint(dec + inv(s * st)), 0, 255).astype(np.uint8)

orig_code = P.StepEncoder.code
def code(self, frames_, ref, source, prev):
    dec, prev2, bits = orig_code(self, frames_, ref, source, prev)
    dec = enhance(dec, frames_)
    STATE["out"].append(dec)
    return dec, prev2, bits
P.StepEncoder.code = code
orig_decode = codec.decode_tokens
def decode_tokens(tokens, q, *rest):
    out = orig_decode(tokens, q, *rest)
    if rest:
        return out
    gop = codec.padded(frames[STATE["done"]:STATE["done"] + out.shape[0]])
    out = enhance(out, gop)
    STATE["out"].append(out)
    return out
codec.decode_tokens = decode_tokens
orig_packet = P.PredictedEncoder._packet
def packet(self):
    STATE["done"] = self._done
    return orig_packet(self)
P.PredictedEncoder._packet = packet

res = []
for q in qs:
    for st in steps:
        STATE.update(step=st if st > 0 else None, syms=[], out=[])
        buf = io.BytesIO()
        compress(frames, buf, W, H, Fraction(25), q, "full", codec)
        rec = np.concatenate(STATE["out"])[:T, :H, :W]
        b = bits_est(STATE["syms"]) / 8 if STATE["syms"] else 0.0
        p = psnr_rgb(frames, rec)
        res.append({"quality": q, "step": st, "bytes_tokens": len(buf.getvalue()), "bytes_enh": b,
                    "bytes": len(buf.getvalue()) + b, "psnr_rgb": p})
        print(res[-1], flush=True)
json.dump(res, open(sys.argv[6], 'w'), indent=1)
