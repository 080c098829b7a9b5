"""recovery.py: a damaged stream keeps every frame before the damage and resumes at
the next intra period (v3 HEADER packets); older versions stop at the damage."""
import io

import numpy as np
import pytest

from conftest import EXPECTED, _tiny_pattern
from vqcodec.modes.lowlatency import LowLatencySettings
from vqcodec.recovery import RecoveringDecoder
from vqcodec.stream import StreamEncoder
from vqcodec.api import decompress


def _stream(codec, mode):
    frames = _tiny_pattern(28)
    opts = {"mode": "full"} if mode == "full" else {
        "mode": "lowlatency", "keyint": 4, "settings": LowLatencySettings(latency=0, intra_period=8)}
    enc = StreamEncoder(64, 48, 25, 2, model=codec, **opts)
    packets = [p for f in frames for p in enc.push(f)] + enc.flush()
    data = b"".join(packets)
    return packets, data, np.stack(list(decompress(io.BytesIO(data), model=codec)))


@pytest.mark.parametrize("mode", ["full", "lowlatency"])
def test_damage_in_the_middle_costs_one_intra_period(tiny_codec, mode):
    packets, data, reference = _stream(tiny_codec, mode)
    at = sum(map(len, packets[:4])) + 30  # inside the first intra period's packets
    bad = bytearray(data)
    bad[at] ^= 0x5A
    rec = RecoveringDecoder(tiny_codec, io.BytesIO(bytes(bad)))
    out = list(rec)
    (damage,) = rec.damages
    indices = [i for i, _ in out]
    assert indices == list(range(damage.first_lost)) + list(range(damage.resumed, 28))
    assert 0 < damage.first_lost < damage.resumed <= 16 and damage.offset <= at
    assert all(np.array_equal(f, reference[i]) for i, f in out)
    assert "lost frames" in damage.describe(28) and f"resumed at frame {damage.resumed}" in damage.describe(28)


def test_an_intact_stream_has_no_damage(tiny_codec):
    _, data, reference = _stream(tiny_codec, "full")
    rec = RecoveringDecoder(tiny_codec, io.BytesIO(data))
    out = list(rec)
    assert rec.damages == [] and len(out) == 28 and rec.header.width == 64
    assert np.array_equal(np.stack([f for _, f in out]), reference)


def test_truncation_and_version_2_stop_at_the_damage(tiny_codec):
    _, data, _ = _stream(tiny_codec, "full")
    rec = RecoveringDecoder(tiny_codec, io.BytesIO(data[:len(data) // 2]))
    out = list(rec)
    assert rec.damages[0].resumed is None and len(out) == rec.damages[0].first_lost > 0
    v2 = bytearray((EXPECTED / "tiny_q2_v2.vqv").read_bytes())
    v2[len(v2) // 3] ^= 0xFF
    rec = RecoveringDecoder(tiny_codec, io.BytesIO(bytes(v2)))
    out = list(rec)
    assert len(rec.damages) == 1 and rec.damages[0].resumed is None  # no HEADER packets to resume at
    assert len(out) == rec.damages[0].first_lost


def test_garbage_yields_nothing_and_one_damage(tiny_codec):
    rec = RecoveringDecoder(tiny_codec, io.BytesIO(bytes(range(256)) * 8))
    assert list(rec) == [] and len(rec.damages) == 1 and rec.header is None
