"""Would bi-directional prediction pay? Predicted steps in pairs (an anchor step
coded first from further back, then the step between predicted from both sides)
against forward-only steps, with the shipped model. A probe on the encoder's side,
not a format: no stream is written that a decoder reads.

    python benchmarks/bipred_probe.py [--clip bikes.mp4:0.5-1] [--size 176x144] [--frames 64]
                                      [--qualities 2,4,6,8] [--schemes P,PB,PBw]
                                      [--out benchmarks/results/predictive/bipred/bikes.json]

Schemes, after the intra step (frames 0-1), steps s of 2 frames (2s, 2s+1):

    P     every step predicted from the last decoded frame before it, as the
          full mode codes it (format v7: one quarter-pixel field per step, for
          its last frame, halved for its first)
    PB    steps in pairs (s, s+1): first the anchor s+1 from frame 2s-1 (3 and 4
          frames away: its field scaled by 3/4 and 4/4), then step s from both
          frame 2s-1 (field f0 to frame 2s+1, halved for 2s) and the decoded
          frame 2s+2 (field f1 to frame 2s, halved for 2s+1), the two
          predictions averaged (compensation.blend, weight 2 of 4)
    PBw   PB with each frame's blend weighted by distance (1 and 3 of 4 on the
          far reference)

Every step is then coded by the shipped encoder (modes/steps.StepEncoder:
tokens, tile choice, skip, intra on a cut) with the same quarter-pixel fields
(always fine, no whole/fine choice, in every scheme), its context the step
coded before it (coding order). Bytes: the intra payload, the range-coded
payload of the steps (forward fields, tile maps, tokens), plus each B step's
second field priced by the side information's adaptive models (step_field_bits;
not coded). PSNR-RGB of the decoded frames in display order. BD-rate against
the first scheme. Writes the JSON at --out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FINE = 4  # quarter pixels, as format v7


def run(codec, frames: np.ndarray, orig: np.ndarray, quality: int, scheme: str) -> dict:
    from vqcodec.media.metrics import psnr_rgb
    from vqcodec.modes.steps import StepEncoder, _mse
    from vqcodec.motion import compensation as motion
    from vqcodec.motion.prediction import refine, scaled, search

    H, W = orig.shape[1:3]
    se = StepEncoder(codec, H, W, quality, 7)
    tokens, latents = codec.quantize(frames[0:2], quality)
    tokens = np.array(tokens)  # the rounding writes its choices back
    prev = codec.empty_context(tokens.shape[2], tokens.shape[3])
    payload, _, prev = codec.encode_payload(tokens, prev, 7, quality, latents)
    decoded = list(codec.decode_tokens(tokens, quality))
    intra_bytes, extra_bits = len(payload), 0.0
    se.begin()
    block = se.packet_block

    def field(source_frame: int, target: np.ndarray) -> np.ndarray:  # quarter pixels
        src = motion.luma(frames[source_frame])
        return refine(src, target, search(src, target, block), block, FINE)

    def warp(ref, f, num, den):
        return motion.warp(ref, scaled(f, num, den), block, FINE)

    def code(step: np.ndarray, pred: np.ndarray, f: np.ndarray) -> np.ndarray:
        nonlocal prev
        se._motion = lambda fr, ref, src: (f, FINE, pred, _mse(pred, fr))  # this scheme's prediction
        out, prev, _ = se.code(step, decoded[-1], None, prev)
        return out

    n, s = (len(frames) - 2) // 2, 1
    while s <= n:
        a = 2 * s
        if scheme == "P" or s + 1 > n:
            f = field(a - 1, frames[a + 1])
            r = decoded[a - 1]
            decoded += list(code(frames[a:a + 2], np.stack([warp(r, f, 1, 2), warp(r, f, 2, 2)]), f))
            s += 1
            continue
        r0 = decoded[a - 1]
        fa = field(a - 1, frames[a + 3])  # the anchor, 4 frames on
        anchor = code(frames[a + 2:a + 4], np.stack([warp(r0, fa, 3, 4), warp(r0, fa, 4, 4)]), fa)
        r1 = anchor[0]
        f0, f1 = field(a - 1, frames[a + 1]), field(a + 2, frames[a])
        weights = (1, 3) if scheme == "PBw" else (2, 2)  # share of the later reference, of 4
        pred = np.stack([motion.blend(warp(r0, f0, 1, 2), warp(r1, f1, 2, 2), np.full(f0.shape[:2], weights[0])),
                         motion.blend(warp(r0, f0, 2, 2), warp(r1, f1, 1, 2), np.full(f0.shape[:2], weights[1]))])
        extra_bits += se.side.step_field_bits(f1, FINE)
        middle = code(frames[a:a + 2], pred, f0)
        decoded += list(middle) + list(anchor)
        s += 2
    steps_payload, _ = se.finish()
    total = intra_bytes + len(steps_payload) + extra_bits / 8
    out = np.stack(decoded)[:, :H, :W]
    return {"quality": quality, "bytes": round(total, 1), "psnr_rgb": psnr_rgb(orig[:len(out)], out),
            "intra_bytes": intra_bytes, "second_field_bytes": round(extra_bits / 8, 1),
            "steps": {"predicted": se.step_modes.count(0), "skipped": se.step_modes.count(1),
                      "intra": se.step_modes.count(2)}}


def main() -> None:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_and_motion_codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)  # --model, --clip, --size, --frames
    ap.set_defaults(frames=64)
    ap.add_argument("--qualities", default="2,4,6,8")
    ap.add_argument("--schemes", default="P,PB,PBw")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/predictive/bipred/bikes.json"))
    a = ap.parse_args()

    from vqcodec.bench.bdrate import points_bd_rate
    from vqcodec.bench.report_format import write_probe_report

    clip, codec = tuning_clip_and_motion_codec(a)  # never the evaluation clip
    frames = codec.padded(clip.frames)
    qualities = [int(q) for q in a.qualities.split(",")]
    results = []
    for scheme in a.schemes.split(","):
        if scheme not in ("P", "PB", "PBw"):
            sys.exit(f"unknown scheme {scheme!r}: P, PB or PBw")
        points = [run(codec, frames, clip.frames, q, scheme) for q in qualities]
        bd = points_bd_rate(results[0]["points"] if results else points, points)
        results.append({"scheme": scheme, "points": points, "bd_rate_vs_first": bd})
        print(f"{scheme}: " + ", ".join(f"q{p['quality']} {p['bytes']:.0f} B {p['psnr_rgb']:.2f} dB" for p in points)
              + f"; BD-rate {bd:+.2f} %", flush=True)
    write_probe_report(a.out, codec, clip, a.size, "Bi-directional steps", ["scheme"], lambda r: [r["scheme"]], results)

if __name__ == "__main__":
    main()
