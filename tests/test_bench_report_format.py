"""bench/report_format.py: argument lists, JSON-safe values, Markdown cells."""
import argparse
import math

import pytest

from vqcodec.bench.report_format import finite_or_none, fmt, int_list


def test_int_list():
    assert int_list("1, 2,8") == [1, 2, 8]
    for bad in ("", "a,b"):
        with pytest.raises(argparse.ArgumentTypeError):
            int_list(bad)


def test_finite_or_none_and_fmt():
    assert finite_or_none({"a": [math.inf, 1.5], "b": math.nan}) == {"a": [None, 1.5], "b": None}
    assert fmt(None, ".2f") == "—" and fmt(math.inf, ".2f") == "—" and fmt(2.0, ".1f") == "2.0"


def test_write_probe_report_writes_the_json_and_one_table_row_per_result(tmp_path, capsys):
    import json
    from types import SimpleNamespace

    import numpy as np

    from vqcodec.bench.report_format import write_probe_report

    codec = SimpleNamespace(model_id=SimpleNamespace(name="m", sha256=b"\x01\x02"))
    clip = SimpleNamespace(source="clip.mp4", frames=np.zeros((5, 2, 2, 3), np.uint8))
    points = [{"quality": 1, "bytes": 1234, "psnr_rgb": 20.5}, {"quality": 3, "bytes": 5678, "psnr_rgb": 23.25}]
    results = [{"name": "a", "points": points, "bd_rate_vs_first": 0.0},
               {"name": "b", "points": points, "bd_rate_vs_first": -1.234}]
    out = tmp_path / "probe.json"
    write_probe_report(out, codec, clip, "2x2", "A probe", ["name"], lambda r: [r["name"]], results)
    doc = json.loads(out.read_text())
    assert doc["results"] == results and doc["model"] == "m" and doc["weights_sha256"] == "0102" and doc["frames"] == 5
    lines = out.with_suffix(".md").read_text().splitlines()
    assert lines[0].startswith("A probe on clip.mp4, 5 frames, 2x2 (`python ")
    assert lines[2] == "| name | q1 bytes / dB | q3 bytes / dB | BD-rate vs the first |"
    assert lines[3] == "|---|---:|---:|---:|"
    assert lines[4:] == ["| a | 1,234 / 20.50 | 5,678 / 23.25 | +0.00 % |", "| b | 1,234 / 20.50 | 5,678 / 23.25 | -1.23 % |"]
    assert "| b |" in capsys.readouterr().out
