"""How much finer than the stream's quality the intra step of each intra
period should be coded (format v9: an INTRA packet carries its own quality).

    python benchmarks/intra_boost.py [--clip bikes.mp4:0.5-1] [--size 176x144] [--frames 125]
                                     [--qualities 1,3,5,7,9] [--boost 0,1,2,3] [--still-share off,0.7]
                                     [--noise 2]
                                     [--out benchmarks/results/intra_boost/bikes.json]

For every boost the clip is compressed and decompressed by the full mode at
each quality, the intra step at min(finest, quality + boost)
(PredictedEncoder.INTRA_BOOST; the decoder reads the quality from the
packet), and reported: bytes and PSNR-RGB per quality, and the BD-rate
against the first boost. Every predicted step of an intra period starts from
its intra step, so a still scene keeps what the intra step got right; moving
footage soon replaces it. --still-share (default: the shipped setting only)
runs each boost with each PredictedEncoder.STILL_SHARE, "off" for none: the
extra STILL_BOOST for an intra step that looks like a still camera; --noise
adds seeded Gaussian noise of that standard deviation (in levels) to every
frame, fresh per frame, as a camera's sensor does (synthetic:static has
none). Tune on held-out footage only (an evaluation clip is refused). Writes the JSON at --out and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path


def with_noise(clip, sigma: float, seed: int = 3):
    """clip with seeded Gaussian noise (sigma levels, fresh per frame) added and rounded."""
    import numpy as np

    noise = np.random.default_rng(seed).normal(0.0, sigma, clip.frames.shape)
    frames = np.clip(clip.frames + noise, 0, 255).round().astype(np.uint8)
    return replace(clip, frames=frames, source=f"{clip.source}, Gaussian noise of {sigma:g} levels added")


def _share(text: str) -> float | None:
    return None if text == "off" else float(text)


def main() -> None:
    from vqcodec.bench.clips import add_tuning_clip_options, tuning_clip_and_motion_codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tuning_clip_options(ap)  # --model, --clip, --size, --frames
    ap.set_defaults(frames=125)
    ap.add_argument("--qualities", default="1,3,5,7,9")
    ap.add_argument("--boost", default="0,1,2,3", help="comma-separated intra quality offsets (>= 0)")
    ap.add_argument("--still-share", default=None,
                    help='comma-separated PredictedEncoder.STILL_SHARE values, "off" for none '
                         "(default: the shipped one)")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="sensor noise added to every frame, standard deviation in levels (default 0)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/intra_boost/bikes.json"))
    a = ap.parse_args()
    boosts = [int(b) for b in a.boost.split(",")]
    if min(boosts) < 0:
        raise SystemExit("error: --boost values must be >= 0")
    if not 0 <= a.noise <= 64:
        raise SystemExit(f"error: --noise must be 0 to 64 levels, got {a.noise}")
    from vqcodec.modes.predicted import PredictedEncoder

    try:
        shares = ([PredictedEncoder.STILL_SHARE] if a.still_share is None
                  else [_share(v) for v in a.still_share.split(",")])
    except ValueError:
        raise SystemExit(f'error: --still-share takes numbers or "off", got {a.still_share!r}') from None

    from vqcodec.bench.measure import settings_curves
    from vqcodec.bench.report_format import write_probe_report

    clip, codec = tuning_clip_and_motion_codec(a)  # never the evaluation clip
    if a.noise:
        clip = with_noise(clip, a.noise)
    arms = [({"boost": boost, "still_share": share},
             {(PredictedEncoder, "INTRA_BOOST"): boost, (PredictedEncoder, "STILL_SHARE"): share})
            for boost in boosts for share in shares]
    results = settings_curves(codec, clip.frames, [int(q) for q in a.qualities.split(",")], arms)
    write_probe_report(a.out, codec, clip, a.size, "The intra step's quality offset",
                       ["intra boost", "still share"],
                       lambda r: [f"+{r['boost']}", "off" if r["still_share"] is None else str(r["still_share"])],
                       results)


if __name__ == "__main__":
    main()
