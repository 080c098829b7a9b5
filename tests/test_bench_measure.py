"""One RD point: the bits are the stream's/packets', the memory peak is the block's own."""
import io
from dataclasses import replace
from fractions import Fraction

import numpy as np

from vqcodec.bench.anchors import encode_anchor, parse_anchor
from vqcodec.bench.measure import (MODES, PeakRss, anchor_point, encoder_settings, full_mode_points,
                                   measure_quality, measure_vqcodec, settings_curves)
from vqcodec.media.metrics import bits_per_pixel, psnr_rgb
from vqcodec.api import compress, decompress

FPS = Fraction(25)


def test_peak_rss_sees_an_allocation_inside_the_block():
    with PeakRss() as peak:
        block = np.ones(12_000_000)  # 92 MiB touched
        del block
    assert peak.mib >= peak.start_mib
    assert peak.added_mib > 60 or not peak.reset  # where the peak can be reset, it is this block's


def test_vqcodec_point_counts_the_whole_file(tiny_codec, tiny_frames):
    p = measure_vqcodec(tiny_codec, "full", tiny_frames, FPS, 2, with_ms_ssim=False)
    buf = io.BytesIO()
    compress(iter(tiny_frames), buf, 64, 48, FPS, 2, model=tiny_codec)
    assert p.bytes == len(buf.getvalue())  # header + packets + end packet, not just the payload
    assert p.details["container_bits"] == 8 * p.bytes - p.details["payload_bits"] > 0
    assert p.bpp == bits_per_pixel(p.bytes, 64, 48, 12)
    buf.seek(0)
    decoded = np.stack(list(decompress(buf, model=tiny_codec)))
    assert p.quality.psnr_rgb == psnr_rgb(tiny_frames, decoded)
    assert p.curve == "vqcodec full" and p.setting == "q=2"
    assert p.encode_fps > 0 and p.decode_fps > 0 and p.peak_rss_mib > 0
    assert p.quality.ms_ssim is None


def test_full_mode_points_are_the_streams_bytes_and_psnr(tiny_codec, tiny_frames):
    """The tuning probes' curve: per quality the whole file's bytes and the PSNR of
    what it decodes to, and the seconds spent compressing."""
    rows, seconds = full_mode_points(tiny_codec, tiny_frames, [1, 2])
    assert [r["quality"] for r in rows] == [1, 2] and seconds > 0
    for r in rows:
        buf = io.BytesIO()
        compress(iter(tiny_frames), buf, 64, 48, FPS, r["quality"], model=tiny_codec)
        buf.seek(0)
        assert r["bytes"] == len(buf.getvalue())
        assert r["psnr_rgb"] == psnr_rgb(tiny_frames, np.stack(list(decompress(buf, model=tiny_codec))))


def test_encoder_settings_are_put_back_even_after_an_error():
    import pytest

    class Owner:
        A, B = 1, "x"

    with encoder_settings({(Owner, "A"): 5, (Owner, "B"): None}):
        assert (Owner.A, Owner.B) == (5, None)
    assert (Owner.A, Owner.B) == (1, "x")
    with pytest.raises(RuntimeError):
        with encoder_settings({(Owner, "A"): 7}):
            raise RuntimeError
    assert Owner.A == 1


def test_settings_curves_code_each_arm_and_compare_with_the_first(tiny_codec, tiny_frames):
    """The tuning probes' loop: one curve per arm, each coded under its own
    settings, which are put back after; BD-rates against the first arm."""
    frames = tiny_frames[:8]
    seen = []

    class Spy:
        value = "shipped"

    arms = [({"arm": "a"}, {(Spy, "value"): "a"}), ({"arm": "b"}, {(Spy, "value"): "b"})]
    real = full_mode_points

    def spy(codec, f, qualities):
        seen.append(Spy.value)
        return real(codec, f, qualities)

    import vqcodec.bench.measure as measure

    measure.full_mode_points, saved = spy, measure.full_mode_points
    try:
        results = settings_curves(tiny_codec, frames, [1, 2], arms)
    finally:
        measure.full_mode_points = saved
    assert seen == ["a", "b"] and Spy.value == "shipped"
    assert [r["arm"] for r in results] == ["a", "b"]
    assert results[0]["bd_rate_vs_first"] == 0.0
    assert results[1]["points"] == results[0]["points"]  # the settings touched nothing the coder reads


def test_anchor_point_counts_packets_without_the_settings_sei(tiny_frames):
    result = encode_anchor(tiny_frames, FPS, replace(parse_anchor("x264:medium"), crf=30))
    with PeakRss() as peak:
        pass
    p = anchor_point(tiny_frames, FPS, result, peak, with_ms_ssim=False)
    assert p.bytes == sum(len(x) for x in result.packets) - result.sei_bytes
    assert p.details["packet_bytes"] == sum(len(x) for x in result.packets)
    assert p.details["bpp_all_packets"] > p.bpp
    assert (p.codec, p.mode, p.setting) == ("x264", "medium", "crf=30")
    assert p.details["gop"] == 250 and p.details["bframes"] == 3  # x264's defaults, as it reports them
    assert p.details["encoder_options"]["preset"] == "medium"


def test_ms_ssim_is_none_when_frames_are_too_small(tiny_frames):
    small = tiny_frames[:, :32, :32]  # 32x32 halves to 2x2 at the 5th scale: too small for MS-SSIM
    q = measure_quality(small, small, with_ms_ssim=True)
    assert q.ms_ssim is None and q.psnr_rgb == float("inf")


def test_modes_registry_has_the_full_mode():
    assert "full" in MODES
