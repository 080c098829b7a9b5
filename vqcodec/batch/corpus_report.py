"""A benchmarked corpus as a whole: per-clip BD-rates in one table, and every clip pooled.

    write_corpus_report(json_paths, out_dir, header)   # -> summary.md, corpus.json/.md/.png

Per clip, the reports are vqcodec.bench's own (one CLIP.json/.md/.png each) and
summary.md is its write_summary: one row per clip with its BD-rates.

Pooled: the corpus is treated as one long clip. For each curve (a vqcodec mode,
an anchor) and each setting every clip measured (a quality; a CRF that every
clip's sweep encoded), the bytes and the squared errors are summed over the
clips: bits per pixel = all bits / all pixels, PSNR from the pooled MSE (as
within one clip, media.metrics), MS-SSIM the frame-weighted mean, speed = all
frames / all seconds. BD-rate of the pooled curves then comes from
bench.compare.bd_between, over their overlap only. The anchors' sweeps choose
CRFs per clip, so the pooled anchor curve has only the CRFs all clips share;
fewer than two shared CRFs gives no pooled BD-rate, with the reason.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from vqcodec.bench.clips import BenchClip
from vqcodec.bench.compare import METRICS, AnchorSweep, BdResult, ClipResult, bd_between
from vqcodec.bench.measure import Quality, RDPoint
from vqcodec.bench.report import (
    clip_json,
    clip_markdown,
    clip_plot_png,
    read_clip_result,
    write_atomic,
    write_summary,
)

CORPUS_NAME = "corpus"


def _mse(psnr: float) -> float:
    return 0.0 if math.isinf(psnr) else 255.0 ** 2 / 10 ** (psnr / 10)


def _psnr(mse: float) -> float:
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def _pool(points: list[RDPoint], clips: list[BenchClip]) -> RDPoint:
    """One setting of one curve over every clip -> the corpus's point."""
    pixels = [c.width * c.height * c.count for c in clips]
    frames = [c.count for c in clips]
    seconds = sum(c.count / float(c.fps) for c in clips)
    total_bytes = sum(p.bytes for p in points)

    def pooled_psnr(key: str) -> float:
        return _psnr(sum(_mse(getattr(p.quality, key)) * n for p, n in zip(points, pixels)) / sum(pixels))

    y, u, v = pooled_psnr("psnr_y"), pooled_psnr("psnr_u"), pooled_psnr("psnr_v")
    ms = [p.quality.ms_ssim for p in points]
    quality = Quality(pooled_psnr("psnr_rgb"), (6 * y + u + v) / 8, y, u, v,
                      None if None in ms else sum(m * n for m, n in zip(ms, frames)) / sum(frames))
    first = points[0]
    return RDPoint(first.codec, first.mode, first.setting, total_bytes, 8 * total_bytes / sum(pixels),
                   8 * total_bytes / seconds / 1000, quality,
                   sum(frames) / sum(n / p.encode_fps for p, n in zip(points, frames)),
                   sum(frames) / sum(n / p.decode_fps for p, n in zip(points, frames)),
                   max(p.peak_rss_mib for p in points), max(p.added_rss_mib for p in points),
                   all(p.peak_rss_reset for p in points), {"clips": len(points), "pooled": True})


def pooled_result(results: list[ClipResult]) -> ClipResult:
    """Every clip's points pooled per curve and setting (see the module doc), with BD-rates."""
    clips = [r.clip for r in results]
    first = results[0]
    points, notes = [], {}
    for curve in first.curves():
        by_clip = [{p.setting: p for p in r.curves().get(curve, [])} for r in results]
        shared = [s for s in by_clip[0] if all(s in b for b in by_clip[1:])]
        points += [_pool([b[s] for b in by_clip], clips) for s in shared]
        dropped = sorted({s for b in by_clip for s in b} - set(shared))
        if dropped:
            notes[curve] = f"pooled over the settings every clip has ({', '.join(shared) or 'none'}); " \
                           f"not every clip has {', '.join(dropped)}"
    sweeps = tuple(AnchorSweep(s.curve, s.template, s.library_versions,
                               (min(r.sweeps[i].target_psnr_rgb[0] for r in results),
                                max(r.sweeps[i].target_psnr_rgb[1] for r in results)), notes.get(s.curve))
                   for i, s in enumerate(first.sweeps))
    frames = sum(c.count for c in clips)
    # a stand-in clip: the reports need its frame count, never its pixels (a zero-stride view)
    stand_in = BenchClip(CORPUS_NAME, f"{len(clips)} clips pooled", np.broadcast_to(
        np.zeros((1, 1, 1, 3), np.uint8), (frames, clips[0].height, clips[0].width, 3)),
        Fraction(clips[0].fps), any(c.evaluation_only for c in clips))
    pooled = ClipResult(stand_in, first.model, first.config, tuple(points), sweeps, ())
    curves = pooled.curves()
    metrics = [m for m in METRICS if m != "ms_ssim" or first.config.ms_ssim]
    bd = tuple(_bd(curves, f"vqcodec {mode}", s.curve, metric)
               for mode in first.config.modes for s in sweeps for metric in metrics)
    return replace(pooled, bd=bd)


def _bd(curves: dict, test: str, anchor: str, metric: str) -> BdResult:
    if test in curves and anchor in curves:
        return bd_between(curves[test], curves[anchor], metric)
    lacking = test if test not in curves else anchor
    return BdResult(test, anchor, metric, None, None, None,
                    f"no {lacking} setting was measured on every clip (CRF sweeps differ per clip)")


def _describe(clips: list[BenchClip]) -> str:
    sizes = sorted({f"{c.width}x{c.height}" for c in clips})
    return (f"Corpus: {len(clips)} clips ({', '.join(sizes)}), {sum(c.count for c in clips)} frames, pooled: "
            f"bytes and squared errors summed over the clips at each setting every clip has.")


def _same_run(results: list[ClipResult]) -> None:
    """Pooling needs every clip measured alike: same model, settings and anchors."""
    first = results[0]
    for r in results[1:]:
        if r.model != first.model or r.config != first.config:
            raise ValueError(f"{r.clip.name} was measured with other settings or another model than "
                             f"{first.clip.name}; re-run the batch with --force")


def write_corpus_report(json_paths: list[str], out_dir: Path, header: dict) -> str:
    """summary.md (BD-rate per clip) and corpus.json/.md/.png (pooled) -> the Markdown of both."""
    results = [read_clip_result(Path(p)) for p in sorted(json_paths)]
    _same_run(results)
    summary = write_summary(results, Path(out_dir), header).read_text()
    pooled = pooled_result(results)
    doc = clip_json(pooled, header)
    doc["clip"] = {"name": CORPUS_NAME, "clips": [{"name": r.clip.name, "source": r.clip.source,
                                                  "width": r.clip.width, "height": r.clip.height,
                                                  "frames": r.clip.count} for r in results],
                   "frames": pooled.clip.count, "evaluation_only": pooled.clip.evaluation_only}
    base = Path(out_dir) / CORPUS_NAME
    write_atomic(base.with_suffix(".json"), (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
    markdown = clip_markdown(pooled, header, _describe([r.clip for r in results]))
    write_atomic(base.with_suffix(".md"), markdown.encode())
    title = f"{CORPUS_NAME}: {len(results)} clips pooled, {pooled.clip.count} frames"
    write_atomic(base.with_suffix(".png"), clip_plot_png(pooled, title))
    return summary + "\n" + markdown
