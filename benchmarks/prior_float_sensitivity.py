"""How fragile is the float prior across machines? (issue 7, bit-exact decoding)

    python benchmarks/prior_float_sensitivity.py [--frames 8] [--quality 8] [--ulps 1,4,64]
                                                 [--out benchmarks/results/prior_float_sensitivity.json]

The decoder must rebuild every frequency table the encoder used, exactly. On one
machine it does (tests: thread counts, tile batches). Another CPU family, BLAS or a
GPU computes the prior's float32 logits with another summation order or another
exp/tanh, which moves them by a few units in the last place (ulps). This measures
what such a move does to the integer tables cdf.frequencies builds from them.

It codes a CIF synthetic pan with the shipped model, keeps every logit row the coder
used (one row per coded token), then moves each logit by a random -n..+n ulps
(np.nextafter steps, a seeded generator) and counts:

    rows changed       coded tokens whose frequency table is no longer the same
    latent frames hit  latent frames (2 video frames) with at least one changed row:
                       from there on the range decoder reads garbage, and the
                       packet's tokens CRC reports the mismatch

Writes the JSON given by --out and prints a table.
"""
from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "prior_float_sensitivity.json"


def collect_rows(codec, frames: np.ndarray, quality: int) -> list[list[np.ndarray]]:
    """-> per latent frame, the float32 logit rows (P, K) of every coding step."""
    import torch

    tokens = codec.encode_tokens(codec.padded(frames), quality)  # (T', L, h, w)
    prev = codec.empty_context(tokens.shape[2], tokens.shape[3])
    per_frame = []
    for frame in tokens:
        flat, rows = frame.reshape(frame.shape[0], -1), []

        def step(freq, lg, level, pos, flat=flat, rows=rows):
            rows.append(lg.copy())
            return np.ascontiguousarray(flat[level][:, pos].T).reshape(-1)

        with torch.inference_mode():
            prev = codec.code_latent_frame(prev, frame.shape[0], step, codec.tables(3))
        per_frame.append(rows)
    return per_frame


def nudge(lg: np.ndarray, ulps: int, rng: np.random.Generator) -> np.ndarray:
    """Each element moved by a uniform random -ulps..+ulps float32 steps."""
    steps = rng.integers(-ulps, ulps + 1, lg.shape)
    out = lg.copy()
    for direction in (1, -1):
        for k in range(1, ulps + 1):
            sel = steps * direction >= k
            out[sel] = np.nextafter(out[sel], np.float32(direction * np.inf))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--quality", type=int, default=8)
    p.add_argument("--ulps", default="1,4,64")
    p.add_argument("--model", default="default")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args()

    from vqcodec import load_codec
    from vqcodec.coding import cdf
    from vqcodec.bench.scenes import pan_scene

    codec = load_codec(args.model)
    frames = pan_scene(args.frames, 352, 288)
    per_frame = collect_rows(codec, frames, args.quality)
    rng = np.random.default_rng(0)
    total_rows = sum(len(r) for rows in per_frame for r in rows)
    results = []
    for ulps in (int(u) for u in args.ulps.split(",")):
        changed = hit = 0
        for rows in per_frame:
            frame_changed = 0
            for lg in rows:
                same = (cdf.frequencies(lg) == cdf.frequencies(nudge(lg, ulps, rng))).all(axis=1)
                frame_changed += int((~same).sum())
            changed += frame_changed
            hit += frame_changed > 0
        results.append({"ulps": ulps, "rows_changed": changed, "rows": total_rows,
                        "rows_changed_fraction": changed / total_rows,
                        "latent_frames_hit": hit, "latent_frames": len(per_frame)})
        print(f"±{ulps} ulp: {changed}/{total_rows} coded rows change their table "
              f"({100 * changed / total_rows:.3f} %), {hit}/{len(per_frame)} latent frames hit", flush=True)
    doc = {"command": " ".join(["python", "benchmarks/prior_float_sensitivity.py", *sys.argv[1:]]),
           "model": codec.model_id.name, "model_sha256": codec.model_id.sha256.hex(),
           "clip": f"synthetic pan 352x288, {args.frames} frames", "fps": str(Fraction(25)),
           "quality": args.quality, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
