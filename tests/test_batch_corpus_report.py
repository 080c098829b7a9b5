"""vqcodec.batch.corpus_report: clips pooled into one rate-distortion curve per codec, and its BD-rate."""
import json
import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from vqcodec.batch.corpus_report import pooled_result, write_corpus_report
from vqcodec.bench.clips import BenchClip
from vqcodec.bench.compare import AnchorSweep, BenchConfig, ClipResult, bd_between
from vqcodec.bench.measure import Quality, RDPoint
from vqcodec.bench.report import report_header, write_clip_report

CONFIG = BenchConfig(qualities=(1, 2, 3), anchors=("x264:medium",), ms_ssim=False)


def point(codec, mode, setting, nbytes, clip, psnr):
    t, h, w = clip.count, clip.height, clip.width
    return RDPoint(codec, mode, setting, nbytes, 8 * nbytes / (t * h * w), 8 * nbytes * 25 / t / 1000,
                   Quality(psnr, psnr + 1, psnr + 1, psnr + 2, psnr + 3, None), 100.0, 200.0, 500.0, 50.0, True, {})


def clip_result(name, width, height, frames, scale, crfs=(51, 45, 39, 33)):
    """vqcodec at q1..3 and x264 at `crfs`; `scale` shifts this clip's rates (harder clip: more bytes)."""
    clip = BenchClip(name, f"{name}, generated", np.zeros((frames, height, width, 3), np.uint8), Fraction(25), False)
    points = [point("vqcodec", "full", f"q={q}", int(scale * 400 * q), clip, 24 + 3 * q) for q in (1, 2, 3)]
    points += [point("x264", "medium", f"crf={c}", int(scale * 300 * 2 ** ((51 - c) / 6)), clip, 25 + (51 - c) / 2)
               for c in crfs]
    sweep = AnchorSweep("x264 medium", {"codec": "libx264"}, {}, (26.0, 34.0), None)
    result = ClipResult(clip, {"name": "m", "sha256": "ab" * 32, "qualities": [1, 2, 3]}, CONFIG, tuple(points),
                        (sweep,), ())
    curves = result.curves()
    return replace(result, bd=(bd_between(curves["vqcodec full"], curves["x264 medium"], "psnr_rgb"),))


def by_setting(result, curve):
    return {p.setting: p for p in result.curves()[curve]}


def test_bytes_and_squared_errors_are_summed_over_clips():
    a, b = clip_result("a", 64, 48, 8, 1.0), clip_result("b", 128, 96, 4, 3.0)
    pooled = pooled_result([a, b])
    pa, pb, p = (by_setting(r, "vqcodec full")["q=2"] for r in (a, b, pooled))
    pixels = (64 * 48 * 8, 128 * 96 * 4)
    assert p.bytes == pa.bytes + pb.bytes
    assert p.bpp == pytest.approx(8 * p.bytes / sum(pixels))
    mse = [255 ** 2 / 10 ** (x.quality.psnr_rgb / 10) for x in (pa, pb)]
    assert p.quality.psnr_rgb == pytest.approx(10 * math.log10(255 ** 2 / (np.dot(mse, pixels) / sum(pixels))))
    assert pooled.clip.count == 12


def test_identical_clips_pool_to_their_own_bd_rate():
    a = clip_result("a", 64, 48, 8, 1.0)
    pooled = pooled_result([a, clip_result("b", 64, 48, 8, 1.0)])
    assert [b.percent for b in pooled.bd if b.metric == "psnr_rgb"] == pytest.approx([a.bd[0].percent])
    assert a.bd[0].percent is not None


def test_only_the_crfs_every_clip_has_are_pooled():
    pooled = pooled_result([clip_result("a", 64, 48, 8, 1.0), clip_result("b", 64, 48, 8, 1.0, (51, 45, 39))])
    assert sorted(by_setting(pooled, "x264 medium")) == ["crf=39", "crf=45", "crf=51"]
    assert "crf=33" in pooled.sweeps[0].note
    lonely = pooled_result([clip_result("a", 64, 48, 8, 1.0), clip_result("b", 64, 48, 8, 1.0, (50, 44))])
    bd = next(b for b in lonely.bd if b.metric == "psnr_rgb")
    assert bd.percent is None and "no x264 medium setting was measured on every clip" in bd.reason
    few = pooled_result([clip_result("a", 64, 48, 8, 1.0), clip_result("b", 64, 48, 8, 1.0, (51, 44))])
    assert "fewer than 2 points" in next(b for b in few.bd if b.metric == "psnr_rgb").reason


def test_the_corpus_report_files(tmp_path):
    header = report_header(["vqcodec", "batch", "bench", "clips"])
    paths = [str(write_clip_report(clip_result(n, 64, 48, 8, s), tmp_path, header)["json"])
             for n, s in (("a.mp4", 1.0), ("b.mp4", 2.0))]
    text = write_corpus_report(paths, tmp_path, header)
    assert {"summary.md", "corpus.json", "corpus.md", "corpus.png"} <= {p.name for p in tmp_path.iterdir()}
    doc = json.loads((tmp_path / "corpus.json").read_text())
    assert [c["name"] for c in doc["clip"]["clips"]] == ["a.mp4", "b.mp4"]
    assert doc["bd_rate"][0]["percent"] is not None
    assert "| a.mp4 | 64x48 | 8 | full |" in text and "Corpus: 2 clips (64x48), 16 frames" in text
