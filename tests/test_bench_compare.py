"""compare_clip end to end on a tiny clip, and BD-rates between RD points with known answers."""
from dataclasses import replace

import pytest

from vqcodec.bench.clips import BenchClip
from vqcodec.bench.compare import BenchConfig, bd_between, compare_clip
from vqcodec.bench.measure import Quality, RDPoint


def _curve(codec: str, rates, psnrs) -> list[RDPoint]:
    return [RDPoint(codec, "m", f"s{i}", 100, r, 1.0, Quality(q, q, q, q, q, None), 1.0, 1.0, 1.0, 0.0, True)
            for i, (r, q) in enumerate(zip(rates, psnrs))]


def test_bd_between_known_answers():
    rates, psnrs = [0.02, 0.04, 0.08, 0.16], [28.0, 31.0, 34.0, 37.0]
    anchor = _curve("x264", rates, psnrs)
    same = bd_between(_curve("vqcodec", rates, psnrs), anchor, "psnr_rgb")
    assert same.percent == pytest.approx(0.0, abs=1e-9) and same.overlap_fraction == pytest.approx(1.0)
    half = bd_between(_curve("vqcodec", [r / 2 for r in rates], psnrs), anchor, "psnr_rgb")
    assert half.percent == pytest.approx(-50.0, abs=1e-6)
    double = bd_between(_curve("vqcodec", [r * 2 for r in rates], psnrs), anchor, "psnr_yuv611")
    assert double.percent == pytest.approx(100.0, abs=1e-6)


def test_bd_between_refuses_what_it_cannot_measure():
    anchor = _curve("x264", [0.02, 0.04, 0.08], [30.0, 33.0, 36.0])
    low = bd_between(_curve("vqcodec", [0.1, 0.2], [22.0, 24.0]), anchor, "psnr_rgb")
    assert low.percent is None and "no overlap" in low.reason and "above" in low.reason
    assert bd_between(_curve("vqcodec", [0.1], [31.0]), anchor, "psnr_rgb").percent is None
    assert "MS-SSIM" in bd_between(_curve("vqcodec", [0.1, 0.2], [31.0, 32.0]), anchor, "ms_ssim").reason


def test_config_is_validated():
    for bad in (dict(modes=("fast",)), dict(modes=()), dict(anchors=("x266:medium",)), dict(anchors=()),
                dict(anchors=("x264:quick",)), dict(qualities=()), dict(max_anchor_encodes=1)):
        with pytest.raises(ValueError):
            BenchConfig(**bad)


def test_compare_clip_end_to_end(tiny_codec, tiny_frames):
    clip = BenchClip("tiny", "fixture", tiny_frames, 25, False)
    cfg = BenchConfig(anchors=("x264:medium", "x265:medium"), ms_ssim=False, max_anchor_encodes=6)
    lines = []
    result = compare_clip(clip, tiny_codec, cfg, log=lines.append)
    curves = result.curves()
    assert list(curves)[0] == "vqcodec full"
    assert [p.setting for p in curves["vqcodec full"]] == [f"q={q}" for q in tiny_codec.qualities]
    assert {"x264 medium", "x265 medium"} <= set(curves)
    assert all(len(curves[c]) >= 2 for c in ("x264 medium", "x265 medium"))
    assert [s.curve for s in result.sweeps] == ["x264 medium", "x265 medium"]
    assert {(b.anchor, b.metric) for b in result.bd} == {
        (a, m) for a in ("x264 medium", "x265 medium") for m in ("psnr_rgb", "psnr_yuv611")}
    for b in result.bd:  # every entry is a figure or says why not
        assert (b.percent is None) == (b.reason is not None)
    assert any("vqcodec full q=1" in line for line in lines)


def test_compare_clip_rejects_a_quality_the_model_lacks(tiny_codec, tiny_frames):
    clip = BenchClip("tiny", "fixture", tiny_frames, 25, False)
    with pytest.raises(ValueError, match="not offered"):
        compare_clip(clip, tiny_codec, BenchConfig(qualities=(99,), anchors=("x264:medium",)))
