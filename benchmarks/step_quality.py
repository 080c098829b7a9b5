"""Per predicted step of a format v6 stream: how good the prediction is, what coding adds, and at what cost.

    python benchmarks/step_quality.py --model MODEL [--clip carphone_pristine.mp4] [--frames 120]
                                      [--quality 5] [--still] [--out benchmarks/results/predictive/steps.json]

For each step the encoder codes (closed loop, as `vqcodec compress` does), the
PSNR-RGB against the step's original frames of:

- still: the last decoded frame held still (no motion);
- pred: the motion-compensated prediction the step is coded against;
- decoded: what the decoder outputs for the step;
- zero_tokens: what the networks make of the prediction with every token zero
  (not what a skipped step decodes to: that is `pred`);

and its mode and token bits. --still holds the clip's first frame (a still
camera). The means show whether the tokens buy their bits: on a still camera
the prediction is already as good as coding can make it.
"""
from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _psnr(mse: float) -> float:
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def measure(codec, frames: np.ndarray, quality: int) -> list[dict]:
    from vqcodec.modes import encoder_for
    from vqcodec.modes import steps as predicted  # the step coder

    rows, code = [], predicted.StepEncoder.code

    def recording(self, fr, ref, source, prev):  # the step as the encoder sees it, then coded
        pred = predicted.predict(ref, predicted.search(source, fr[-1], self.packet_block), self.t,
                                 self.packet_block)
        zero = self.reconstruct(self.zero, pred)
        out, nxt, bits = code(self, fr, ref, source, prev)
        rows.append({"mode": self.step_modes[-1], "bits": bits, "still": _psnr(predicted._mse(ref[None], fr)),
                     "pred": _psnr(predicted._mse(pred, fr)), "decoded": _psnr(predicted._mse(out, fr)),
                     "zero_tokens": _psnr(predicted._mse(zero, fr))})
        return out, nxt, bits

    t, h, w, _ = frames.shape
    enc = encoder_for("full", codec, w, h, Fraction(25), t, quality, codec.version_for())
    if not hasattr(enc, "step_modes"):
        raise SystemExit(f"model {codec.model_id.name!r} has no motion-compensated coding (format v6)")
    predicted.StepEncoder.code = recording
    try:
        for f in frames:
            enc.push(f)
        enc.flush()
    finally:
        predicted.StepEncoder.code = code
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", default="carphone_pristine.mp4")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--quality", type=int, default=5)
    ap.add_argument("--still", action="store_true", help="hold the clip's first frame (a still camera)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/predictive/steps.json"))
    args = ap.parse_args()
    from vqcodec import load_codec
    from vqcodec.bench.clips import load_clip

    frames = load_clip(args.clip, max_frames=args.frames).frames
    if args.still:
        frames = np.repeat(frames[:1], len(frames), axis=0)
    rows = measure(load_codec(args.model), frames, args.quality)
    keys = ["still", "pred", "decoded", "zero_tokens"]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys + ["bits"]}
    mean["skipped"] = sum(r["mode"] == 1 for r in rows)
    print(json.dumps({k: round(v, 2) for k, v in mean.items()}))
    doc = {"command": "python benchmarks/step_quality.py " + " ".join(sys.argv[1:]), "mean": mean, "steps": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
