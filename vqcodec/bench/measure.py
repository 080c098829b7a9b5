"""One rate-distortion point: code a clip, decode it, count bits, time it, measure quality and memory.

Both sides are measured the same way: frames already in memory, the stream
written to memory (BytesIO for vqcodec, the list of packets for x264/x265),
decoded back to RGB uint8, wall-clock seconds for encode and for decode, and
the process's peak resident memory over that encode + decode.

Rates. vqcodec: the whole .vqv file (header, packet framing, end packet).
Anchors: their packet bytes, no container. The headline anchor rate leaves
out the encoder's informational settings SEI (never needed to decode, ~0.7 kB
for x264 and ~2.3 kB per keyframe for x265: the conservative choice for
vqcodec); the rate of every packet byte is kept next to it (`bpp_all_packets`).

Peak memory. On Linux the kernel's high-water mark (VmHWM) is reset before
each point by writing "5" to /proc/self/clear_refs, so the figure is the peak
of that point alone (model weights and the clip in memory included, since
they are resident). Where the reset is unavailable the figure is the process
peak so far (ru_maxrss) and `peak_rss_reset` is False.
"""
from __future__ import annotations

import io
import re
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vqcodec.bench.anchors import AnchorResult
from vqcodec.media.metrics import bits_per_pixel, kbps, ms_ssim_rgb, psnr_rgb, psnr_yuv_planes

if TYPE_CHECKING:
    from vqcodec.codec import Codec

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


class PeakRss:
    """Context manager: peak resident memory (MiB) of this process inside the block."""

    def __enter__(self) -> PeakRss:
        self.reset = False
        try:
            _CLEAR_REFS.write_text("5")  # Linux >= 4.0: resets VmHWM to the current RSS
            self.reset = True
        except OSError:
            pass
        self.start_mib = _status_mib("VmRSS:")
        self.mib = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.mib = (_status_mib("VmHWM:") if self.reset else None) or _ru_maxrss_mib()

    @property
    def added_mib(self) -> float:
        """Peak minus the resident memory at the start: what the block itself needed."""
        return max(0.0, self.mib - (self.start_mib or 0.0))


def _status_mib(key: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _ru_maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


@dataclass(frozen=True)
class Quality:
    psnr_rgb: float
    psnr_yuv611: float  # (6 Y + U + V) / 8 on BT.601 4:2:0
    psnr_y: float
    psnr_u: float
    psnr_v: float
    ms_ssim: float | None  # None when not asked for (or frames too small for 5 scales)


def measure_quality(ref: np.ndarray, test: np.ndarray, with_ms_ssim: bool) -> Quality:
    yuv = psnr_yuv_planes(ref, test)
    ms = None
    if with_ms_ssim:
        try:
            ms = ms_ssim_rgb(ref, test)
        except ValueError:  # frames smaller than 5 scales of MS-SSIM allow
            ms = None
    return Quality(psnr_rgb(ref, test), yuv.weighted, yuv.y, yuv.u, yuv.v, ms)


@dataclass(frozen=True)
class RDPoint:
    """One operating point of one codec on one clip."""

    codec: str  # "vqcodec", "x264", "x265"
    mode: str  # vqcodec mode ("full"), or the anchor's preset[+tune] ("medium+zerolatency")
    setting: str  # "q=3" or "crf=30"
    bytes: int  # the bytes the rate counts (see the module doc)
    bpp: float
    kbps: float
    quality: Quality
    encode_fps: float
    decode_fps: float
    peak_rss_mib: float  # process peak over this point's encode + decode (anchors: over their CRF sweep)
    added_rss_mib: float  # that peak minus the resident memory just before: the coding's own working memory
    peak_rss_reset: bool  # True: peaks of this point alone; False: the process peak so far
    details: dict = field(default_factory=dict)  # codec-specific: coder statistics, encoder settings

    @property
    def curve(self) -> str:
        """The curve this point belongs to, e.g. "vqcodec full" or "x264 medium"."""
        return f"{self.codec} {self.mode}"


class FullMode:
    """The full mode: GOPs of frames coded as VQ tokens by the transformer prior."""

    name = "full"

    def code(self, codec: Codec, frames: np.ndarray, fps: Fraction, quality: int):
        """-> (stream bytes, CompressStats, decoded (T, H, W, 3) uint8, encode s, decode s)."""
        from vqcodec.api import compress

        t, h, w, _ = frames.shape
        return _round_trip(codec, lambda buf: compress(frames, buf, w, h, fps, quality, "full", codec))


def _round_trip(codec: Codec, encode):
    """encode(buf) -> CompressStats; then decode buf. -> (stream bytes, stats,
    decoded (T, H, W, 3) uint8, encode seconds, decode seconds)."""
    buf = io.BytesIO()
    start = time.perf_counter()
    stats = encode(buf)
    encode_s = time.perf_counter() - start
    from vqcodec.api import decompress

    buf.seek(0)
    start = time.perf_counter()
    decoded = np.stack(list(decompress(buf, model=codec)), axis=0)
    decode_s = time.perf_counter() - start
    return buf.getvalue(), stats, decoded, encode_s, decode_s


def full_mode_points(codec: Codec, frames: np.ndarray, qualities: list[int],
                     fps: Fraction = Fraction(25)) -> tuple[list[dict], float]:
    """The tuning probes' curve: frames (T, H, W, 3) through the full mode's file
    API at each quality, compressed and decompressed (FullMode) -> (rows
    {"quality", "bytes", "psnr_rgb"}, the seconds spent compressing)."""
    rows, seconds = [], 0.0
    for q in qualities:
        data, _, decoded, encode_s, _ = FullMode().code(codec, frames, fps, q)
        rows.append({"quality": q, "bytes": len(data), "psnr_rgb": psnr_rgb(frames, decoded)})
        seconds += encode_s
    return rows, seconds


@contextmanager
def encoder_settings(settings: dict[tuple[object, str], object]):
    """{(owner, name): value}: set the encoder's constants (a class's or a
    module's attributes) for the block, and put them back after."""
    saved = {key: getattr(*key) for key in settings}
    try:
        for (owner, name), value in settings.items():
            setattr(owner, name, value)
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def settings_curves(codec: Codec, frames: np.ndarray, qualities: list[int],
                    arms: list[tuple[dict, dict[tuple[object, str], object]]]) -> list[dict]:
    """The tuning probes' loop: arms [(fields, settings)] -> one result per arm, its
    fields plus full_mode_points' "points" under encoder_settings(settings) and
    "bd_rate_vs_first" against the first arm's; each reported on stderr."""
    from vqcodec.bench.bdrate import points_bd_rate

    results: list[dict] = []
    for fields, settings in arms:
        with encoder_settings(settings):
            points, _ = full_mode_points(codec, frames, qualities)
        r = {**fields, "points": points}
        r["bd_rate_vs_first"] = points_bd_rate((results[0] if results else r)["points"], points)
        results.append(r)
        print(f"{fields}: BD-rate {r['bd_rate_vs_first']:+.2f} %", file=sys.stderr, flush=True)
    return results


@dataclass(frozen=True)
class LowLatencyMode:
    """The low-latency mode: a motion model's predicted steps in packets its latency
    allows (format v14), or VQ keyframes + motion-compensated frames between them."""

    name: str
    keyint: int | None = None  # the interval, or the maximum one for AdaptiveKeyframes; None: the mode's
    latency: int = 0
    policy: str = "FixedKeyframes"  # a KeyframePolicy class of vqcodec.modes.keyframes
    arithmetic: str = "integer"  # the prior's: integer (format v4) or float (v3)
    lambda_scale: float | None = None  # of the mode decision; None: LowLatencySettings' default
    # write this format version instead of the model's (a motion model's keyframe path: 13)
    version: int | None = None

    def code(self, codec: Codec, frames: np.ndarray, fps: Fraction, quality: int):
        from vqcodec.api import compress
        from vqcodec.modes import keyframes
        from vqcodec.modes.lowlatency import LowLatencySettings

        t, h, w, _ = frames.shape
        # a fresh policy each time: policies keep state
        policy = (getattr(keyframes, self.policy)(self.keyint) if self.keyint is not None
                  else next(n for n, cls in keyframes.POLICIES.items() if cls.__name__ == self.policy))
        settings = LowLatencySettings(latency=self.latency)
        if self.lambda_scale is not None:
            settings = LowLatencySettings(latency=self.latency, lambda_scale=self.lambda_scale)
        def write(buf):
            if self.version is not None:  # the instance's method, removed again below
                codec.version_for = lambda *_: self.version
            try:
                return compress(frames, buf, w, h, fps, quality, "lowlatency", codec, keyframes=policy,
                                settings=settings, arithmetic=self.arithmetic)
            finally:
                codec.__dict__.pop("version_for", None)

        return _round_trip(codec, write)


# Modes `vqcodec bench --modes` accepts: the full mode, and the low-latency mode at latency
# 0 (the camera setting), at latency 1 or 7, or with content-adaptive keyframes (at most every
# 32 frames, latency 0); keyframes by default every 64 frames with a motion model (its
# frames are coded as predicted steps, format v14), every 8 with others (their frames
# between keyframes are rebuilt by motion compensation). "lowlatency-float" is
# "lowlatency" with the float prior (format v3, transformer-prior models only);
# "lowlatency-keyframes" is a motion model's keyframe path as format v13 wrote it
# (keyframes every 8, latency 0), to measure v14 against.
MODES = {m.name: m for m in (
    FullMode(),
    LowLatencyMode("lowlatency"),
    LowLatencyMode("lowlatency-float", arithmetic="float"),
    LowLatencyMode("lowlatency-l1", latency=1),
    LowLatencyMode("lowlatency-l7", latency=7),
    LowLatencyMode("lowlatency-adaptive", keyint=32, policy="AdaptiveKeyframes"),
    LowLatencyMode("lowlatency-keyframes", keyint=8, version=13),
)}


def measure_vqcodec(codec: Codec, mode: str, frames: np.ndarray, fps: Fraction, quality: int,
                    with_ms_ssim: bool) -> RDPoint:
    t, h, w, _ = frames.shape
    with PeakRss() as peak:
        stream, stats, decoded, encode_s, decode_s = MODES[mode].code(codec, frames, fps, quality)
    if decoded.shape != frames.shape:
        raise RuntimeError(f"q={quality}: decoded {decoded.shape}, expected {frames.shape}")
    if stats.bytes != len(stream):
        raise RuntimeError(f"q={quality}: stats say {stats.bytes} bytes, the stream holds {len(stream)}")
    details = {
        "quality": quality,
        "payload_bits": stats.payload_bits,
        "ideal_bits": stats.ideal_bits,
        "raw_index_bits": stats.raw_index_bits,
        "tokens": stats.tokens,
        "container_bits": 8 * stats.bytes - stats.payload_bits,
        "coder_overhead": stats.payload_bits / stats.ideal_bits if stats.ideal_bits > 0 else None,
        "prior_saving_vs_raw": 1 - stats.payload_bits / stats.raw_index_bits if stats.raw_index_bits > 0 else None,
        "encode_seconds": encode_s,
        "decode_seconds": decode_s,
    }
    if codec.config.quantizer.scalar:
        details["rounding"] = repr(codec.rounding)
    return RDPoint("vqcodec", mode, f"q={quality}", stats.bytes, bits_per_pixel(stats.bytes, w, h, t),
                   kbps(stats.bytes, t, fps), measure_quality(frames, decoded, with_ms_ssim),
                   t / encode_s, t / decode_s, peak.mib, peak.added_mib, peak.reset, details)


def _setting(encoder_info: str, key: str) -> int | None:
    """An integer option from the x264/x265 settings string ("... keyint=250 ...")."""
    match = re.search(rf"(?:^|\s){key}=(\d+)", encoder_info)
    return int(match.group(1)) if match else None


def anchor_point(frames: np.ndarray, fps: Fraction, result: AnchorResult, peak: PeakRss,
                 with_ms_ssim: bool) -> RDPoint:
    """An encoded anchor (from encode_anchor/crf_sweep) -> RDPoint; rate without the settings SEI."""
    t, h, w, _ = frames.shape
    cfg = result.config
    mode = cfg.preset + (f"+{cfg.tune}" if cfg.tune else "")
    details = {
        "crf": cfg.crf,
        "packet_bytes": result.packet_bytes,
        "sei_bytes": result.sei_bytes,
        "payload_bytes": result.payload_bytes,
        "bpp_all_packets": bits_per_pixel(result.packet_bytes, w, h, t),
        "kbps_all_packets": kbps(result.packet_bytes, t, fps),
        "packets": len(result.packets),
        "encoder_options": cfg.encoder_options(),
        # GOP and B-frames as the encoder itself reports them (library defaults when not set)
        "gop": _setting(result.encoder_info, "keyint"),
        "bframes": _setting(result.encoder_info, "bframes"),
        "encoder_info": result.encoder_info,
        "encode_seconds": result.encode_seconds,
        "decode_seconds": result.decode_seconds,
    }
    return RDPoint(cfg.codec.removeprefix("lib"), mode, f"crf={cfg.crf:g}", result.payload_bytes,
                   bits_per_pixel(result.payload_bytes, w, h, t), kbps(result.payload_bytes, t, fps),
                   measure_quality(frames, result.decoded, with_ms_ssim),
                   t / result.encode_seconds, t / result.decode_seconds, peak.mib, peak.added_mib, peak.reset,
                   details)


def encoder_point(codec: Codec, frames: np.ndarray, quality: int) -> dict:
    """A cheap rate-distortion point for tuning and training curves: run the
    full-mode encoder only (GOP by GOP, context as in a stream) and rebuild
    the frames from the tokens it coded with the autoencoder's decoder, which
    is what the stream decoder outputs (decoding is bit-exact, tested in
    tests/test_codec.py). Rate: packet payloads only, without the container
    (about 60 bytes + 30 per packet). -> {bpp, psnr_rgb, payload_bytes, seconds}."""
    from vqcodec.format.versions import DEFAULT_ARITHMETIC
    from vqcodec.modes import encoder_for

    t, h, w, _ = frames.shape
    enc = encoder_for("full", codec, w, h, Fraction(25), t, quality, codec.version_for(DEFAULT_ARITHMETIC))
    payload, decoded, start = 0, [], time.perf_counter()
    for i, frame in enumerate(frames):
        packets = enc.push(frame) if i + 1 < t else enc.push(frame) + enc.flush()
        for p in packets:
            payload += len(p.payload)
            decoded.append(enc.reconstruction()[: p.frame_count, :h, :w])
    out = np.concatenate(decoded)
    return {"bpp": bits_per_pixel(payload, w, h, t), "psnr_rgb": psnr_rgb(frames, out),
            "payload_bytes": payload, "seconds": time.perf_counter() - start}
