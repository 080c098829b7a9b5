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
