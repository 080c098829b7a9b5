"""Reports of a comparison: the JSON holds every setting and point, the Markdown the tables, the PNG a plot."""
import json
from pathlib import Path

import pytest

from vqcodec.bench.clips import BenchClip
from vqcodec.bench.compare import BenchConfig, compare_clip
from vqcodec.bench.report import report_header, summary_markdown, write_clip_report, write_summary


@pytest.fixture(scope="module")
def result(tiny_codec):
    from conftest import _tiny_pattern

    clip = BenchClip("tiny", "fixture", _tiny_pattern(), 25, False)
    return compare_clip(clip, tiny_codec, BenchConfig(anchors=("x264:medium",), ms_ssim=False,
                                                      max_anchor_encodes=5))


def test_tiny_bench_writes_all_three_outputs(result, tmp_path):
    header = report_header(["vqcodec", "bench", "tiny.mkv"])
    paths = write_clip_report(result, tmp_path, header)
    assert {p.name for p in tmp_path.iterdir()} == {"tiny.json", "tiny.md", "tiny.png"}  # no temp files left

    doc = json.loads(paths["json"].read_text())
    assert doc["command"] == "vqcodec bench tiny.mkv" and doc["date"] and doc["machine"]["cpu_count"]
    assert doc["versions"]["av"] and doc["model"]["sha256"] == result.model["sha256"]
    assert doc["clip"]["width"] == 64 and doc["clip"]["frames"] == 12
    assert doc["settings"]["anchors"] == ["x264:medium"]
    x264 = [p for p in doc["points"] if p["codec"] == "x264"]
    assert x264 and all(p["details"]["encoder_info"].startswith("x264 - core") for p in x264)
    assert all({"crf", "gop", "bframes", "encoder_options"} <= set(p["details"]) for p in x264)
    assert doc["anchors"][0]["library_versions"]["encoder"].startswith("x264")
    assert len(doc["points"]) == len(result.points) and doc["bd_rate"]

    md = paths["md"].read_text()
    assert "| vqcodec full | q=1 |" in md and "| x264 medium | crf=" in md and "BD-rate" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_has_a_row_per_clip(result, tmp_path):
    header = report_header(["vqcodec", "bench"])
    path = write_summary([result, result], tmp_path, header)
    text = path.read_text()
    assert text == summary_markdown([result, result], header)
    assert text.count("| tiny | 64x48 | 12 | full |") == 2 and "x264 medium" in text


def test_a_report_reads_back_and_redraws_identically(result, tmp_path):
    from vqcodec.bench.report import clip_markdown, read_clip_result

    header = report_header(["vqcodec", "bench"])
    paths = write_clip_report(result, tmp_path, header)
    again = read_clip_result(paths["json"])
    assert clip_markdown(again, header) == clip_markdown(result, header)
    assert list(again.curves()) == list(result.curves()) == ["vqcodec full", "x264 medium"]
