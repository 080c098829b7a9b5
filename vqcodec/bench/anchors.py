"""x264 / x265 anchors through PyAV: encode RGB frames, decode them back, count bytes.

The anchor sees exactly what the learned codec sees: uint8 RGB frames
(T, H, W, 3). They are converted to yuv420p by libswscale (BT.601, limited
range, PyAV's defaults), encoded with an `av.CodecContext` (no container, so
the bytes are the raw Annex B packets), decoded with FFmpeg's h264/hevc decoder
and converted back to RGB. Metrics are then taken on RGB against the input, so
the 4:2:0 round trip counts against the anchor as it would for any RGB codec.

Bytes. `packet_bytes` is the sum of packet sizes, SPS/PPS (and VPS) included,
as the benchmark protocol asks. Both encoders also write an informational SEI
with their full settings string (x264: ~700 bytes once; x265: ~2.3 kB, repeated
at every keyframe). A decoder never needs it, and on short low-rate clips it is
a large share of the stream, so `sei_bytes` reports it separately and
`payload_bytes` excludes it: report which one a figure uses.

Determinism. x264/x265 output depends on their thread count, so the default
is one thread: the same frames give the same bytes on every machine.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

from vqcodec.media.metrics import psnr_rgb

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
TUNES = {
    "libx264": ("film", "animation", "grain", "stillimage", "psnr", "ssim", "fastdecode", "zerolatency"),
    "libx265": ("psnr", "ssim", "grain", "zerolatency", "fastdecode", "animation"),
}
DEFAULT_CRF = {"libx264": 23.0, "libx265": 28.0}  # each library's own default
_DECODER = {"libx264": "h264", "libx265": "hevc"}
_SEI_NAL_TYPES = {"libx264": (6,), "libx265": (39, 40)}  # SEI; HEVC: prefix, suffix


@dataclass(frozen=True)
class AnchorConfig:
    """One x264/x265 operating point. None means "the library's default"."""

    codec: str  # "libx264" | "libx265"
    crf: float  # 0..51 (8-bit); lower is better quality
    preset: str = "medium"
    tune: str | None = None
    gop: int | None = None  # keyint (FFmpeg's -g); None = library default (250)
    bframes: int | None = None  # max consecutive B-frames (FFmpeg's -bf)
    threads: int = 1  # encoder threads; 0 = auto (bytes then depend on the machine)

    def __post_init__(self) -> None:
        if self.codec not in _DECODER:
            raise ValueError(f"codec must be one of {sorted(_DECODER)}, got {self.codec!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {PRESETS}")
        if self.tune is not None and self.tune not in TUNES[self.codec]:
            raise ValueError(f"unknown tune {self.tune!r} for {self.codec}; expected one of {TUNES[self.codec]}")
        if not 0.0 <= self.crf <= 51.0:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")
        if self.gop is not None and self.gop < 1:
            raise ValueError(f"gop must be >= 1, got {self.gop}")
        if self.bframes is not None and self.bframes < 0:
            raise ValueError(f"bframes must be >= 0, got {self.bframes}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")

    @property
    def name(self) -> str:
        """The anchor without its CRF, as parse_anchor reads it: "x264:medium+zerolatency"."""
        tune = f"+{self.tune}" if self.tune else ""
        gop = f":g{self.gop}" if self.gop is not None else ""
        return f"{self.codec.removeprefix('lib')}:{self.preset}{tune}{gop}"

    @property
    def label(self) -> str:
        """Short name for tables and plots, e.g. "x264:medium+zerolatency crf=30"."""
        return f"{self.name} crf={self.crf:g}"

    def encoder_options(self) -> dict[str, str]:
        """The AVOptions handed to avcodec_open2 (recorded verbatim in results)."""
        opts = {"preset": self.preset, "crf": f"{self.crf:g}"}
        if self.tune is not None:
            opts["tune"] = self.tune
        if self.gop is not None:
            opts["g"] = str(self.gop)
        if self.bframes is not None:
            opts["bf"] = str(self.bframes)
        if self.codec == "libx264":
            opts["threads"] = str(self.threads)
        else:  # libx265 ignores FFmpeg's thread count; set its pools directly
            params = ["log-level=error"]
            if self.threads > 0:
                params += [f"pools={self.threads}", f"frame-threads={self.threads}"]
            opts["x265-params"] = ":".join(params)
        return opts


@dataclass(frozen=True, eq=False)  # eq=False: holds an ndarray, compare fields yourself
class AnchorResult:
    """One encode + decode of a clip. Byte counts exclude any container."""

    config: AnchorConfig
    packets: tuple[bytes, ...]  # Annex B packets in decode order
    packet_bytes: int  # sum of packet sizes: everything the encoder emitted
    sei_bytes: int  # SEI NAL units (start codes included) inside packet_bytes
    decoded: np.ndarray  # (T, H, W, 3) uint8, display order
    encode_seconds: float  # rgb->yuv420p conversion + encode + flush
    decode_seconds: float  # decode + flush + yuv420p->rgb conversion
    encoder_info: str  # the encoder's own settings string, from its SEI
    library_versions: dict[str, str]

    @property
    def payload_bytes(self) -> int:
        """Bytes a decoder needs: packet_bytes without the informational SEI."""
        return self.packet_bytes - self.sei_bytes


def parse_anchor(spec: str) -> AnchorConfig:
    """"x264:medium", "x264:zerolatency", "x265:medium", "x264:veryslow+zerolatency",
    "x264:zerolatency:g8" -> template.

    After the codec come presets, tunes and gN (keyframe interval N) separated
    by ":" or "+"; a missing preset means medium. The CRF is the library's default; crf_sweep
    and dataclasses.replace set the real ones.
    """
    head, *rest = re.split(r"[:+]", spec.strip().lower())
    codec = head if head.startswith("lib") else f"lib{head}"
    if codec not in _DECODER:
        raise ValueError(f"unknown anchor {spec!r}: codec must be x264 or x265")
    preset, tune, gop = "medium", None, None
    for word in rest:
        if word in PRESETS:
            preset = word
        elif word in TUNES[codec]:
            tune = word
        elif re.fullmatch(r"g[1-9][0-9]*", word):
            gop = int(word[1:])
        else:
            raise ValueError(f"unknown anchor {spec!r}: {word!r} is neither a preset, a {codec} tune "
                             f"nor a keyframe interval gN")
    return AnchorConfig(codec=codec, crf=DEFAULT_CRF[codec], preset=preset, tune=tune, gop=gop)


def _sei_bytes(packet: bytes, nal_types: tuple[int, ...], hevc: bool) -> int:
    """Bytes of the SEI NAL units in one Annex B packet, start codes included."""
    starts = [m.start() for m in re.finditer(b"\x00\x00\x01", packet)]
    total = 0
    for i, s in enumerate(starts):
        begin = s - 1 if s > 0 and packet[s - 1] == 0 else s  # 4-byte start code
        end = starts[i + 1] if i + 1 < len(starts) else len(packet)
        if end > 0 and i + 1 < len(starts) and packet[end - 1] == 0:
            end -= 1  # the zero byte belongs to the next 4-byte start code
        header = packet[s + 3] if s + 3 < len(packet) else 0
        nal_type = (header >> 1) & 0x3F if hevc else header & 0x1F
        if nal_type in nal_types:
            total += end - begin
    return total


def _library_versions(encoder_info: str) -> dict[str, str]:
    versions = {"av": av.__version__}
    versions.update({name: ".".join(map(str, v)) for name, v in av.library_versions.items()})
    match = re.match(r"(x264 - core \S+(?: r\S+ \S+)?|x265 \(build \d+\) - [^:\s]+)", encoder_info)
    versions["encoder"] = match.group(1) if match else "unknown"
    return versions


def encode_anchor(frames: np.ndarray, fps: Fraction | int, cfg: AnchorConfig) -> AnchorResult:
    """Encode (T, H, W, 3) uint8 RGB frames with cfg, decode them, return bytes and frames."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must be non-empty uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs even width and height, got {w}x{h}; pad the frames first")
    fps = Fraction(fps)

    enc = av.CodecContext.create(cfg.codec, "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base, enc.framerate = 1 / fps, fps  # pts counts frames
    enc.options = cfg.encoder_options()
    packets: list[bytes] = []
    start = time.perf_counter()
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets.extend(bytes(p) for p in enc.encode(frame))
    packets.extend(bytes(p) for p in enc.encode(None))  # flush delayed (B/lookahead) frames
    encode_seconds = time.perf_counter() - start

    dec = av.CodecContext.create(_DECODER[cfg.codec], "r")
    decoded: list[np.ndarray] = []
    start = time.perf_counter()
    for data in packets:
        decoded.extend(f.to_ndarray(format="rgb24") for f in dec.decode(av.Packet(data)))
    decoded.extend(f.to_ndarray(format="rgb24") for f in dec.decode(None))
    decode_seconds = time.perf_counter() - start
    if len(decoded) != t:
        raise RuntimeError(f"{cfg.label}: decoded {len(decoded)} frames from {t}")

    hevc = cfg.codec == "libx265"
    info = re.search(rb"x26[45] [\x20-\x7e]{8,}", packets[0]) if packets else None
    encoder_info = info.group(0).decode("ascii") if info else ""
    return AnchorResult(
        config=cfg,
        packets=tuple(packets),
        packet_bytes=sum(len(p) for p in packets),
        sei_bytes=sum(_sei_bytes(p, _SEI_NAL_TYPES[cfg.codec], hevc) for p in packets),
        decoded=np.stack(decoded),
        encode_seconds=encode_seconds,
        decode_seconds=decode_seconds,
        encoder_info=encoder_info,
        library_versions=_library_versions(encoder_info),
    )


def crf_sweep(
    frames: np.ndarray,
    fps: Fraction | int,
    template: AnchorConfig,
    target_psnr_range: tuple[float, float],
    *,
    coarse_step: int = 6,
    max_gap_db: float = 1.5,
    max_encodes: int = 16,
) -> list[AnchorResult]:
    """Encode at CRFs chosen so PSNR-RGB covers [lo, hi]; results sorted by rate.

    1. Coarse: CRF 51, 51-step, ... until a point reaches hi (or CRF would
       drop below 0). 51 comes first so the low end is as low as x26x goes.
    2. Fill: while two neighbouring CRFs (at least 2 apart) have PSNRs more
       than max_gap_db apart and their span meets [lo, hi], encode at the
       integer midpoint of the widest such gap.
    Every encoded point is returned, including those outside [lo, hi]; if the
    range cannot be covered (clip too easy or too hard) the sweep returns what
    it reached. At most max_encodes encodes.
    """
    lo, hi = target_psnr_range
    if not lo < hi:
        raise ValueError(f"target_psnr_range must be (lo, hi) with lo < hi, got {target_psnr_range}")
    done: dict[int, tuple[AnchorResult, float]] = {}  # crf -> (result, PSNR-RGB)

    def encode(crf: int) -> float:
        result = encode_anchor(frames, fps, replace(template, crf=float(crf)))
        done[crf] = (result, psnr_rgb(frames, result.decoded))
        return done[crf][1]

    crf = 51
    while len(done) < max_encodes and encode(crf) < hi and crf - coarse_step >= 0:
        crf -= coarse_step

    while len(done) < max_encodes:
        ordered = sorted((c, p) for c, (_, p) in done.items())
        gaps = [
            (abs(pa - pb), a, b)
            for (a, pa), (b, pb) in zip(ordered, ordered[1:])
            if b - a >= 2 and abs(pa - pb) > max_gap_db and max(pa, pb) >= lo and min(pa, pb) <= hi
        ]
        if not gaps:
            break
        _, a, b = max(gaps)
        encode((a + b) // 2)

    return sorted((r for r, _ in done.values()), key=lambda r: r.packet_bytes)


def bytes_at_psnr(frames: np.ndarray, fps: Fraction | int, template: AnchorConfig,
                  target_psnr: float) -> tuple[float, list[tuple[int, int, float]]]:
    """What `template` spends for PSNR-RGB `target_psnr` on these frames: a
    bisection over the integer CRFs for the two that bracket the target, then the
    payload bytes (SEI left out) interpolated between them on a log scale, linear
    in PSNR. -> (bytes, [(crf, payload bytes, PSNR-RGB) of every encode]). About 6
    encodes; if even CRF 0 (51) misses the target, its bytes are returned."""
    points: dict[int, tuple[int, float]] = {}

    def point(crf: int) -> tuple[int, float]:
        if crf not in points:
            result = encode_anchor(frames, fps, replace(template, crf=float(crf)))
            points[crf] = (result.payload_bytes, psnr_rgb(frames, result.decoded))
        return points[crf]

    lo, hi = 0, 51  # PSNR falls as CRF rises: find the neighbours around the target
    if point(hi)[1] >= target_psnr or point(lo)[1] <= target_psnr:
        crf = hi if point(hi)[1] >= target_psnr else lo
        return float(point(crf)[0]), sorted((c, b, p) for c, (b, p) in points.items())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if point(mid)[1] >= target_psnr else (lo, mid)
    (b0, p0), (b1, p1) = point(lo), point(hi)  # p0 >= target > p1
    share = (p0 - target_psnr) / max(p0 - p1, 1e-9)
    estimate = math.exp(math.log(b0) + share * (math.log(b1) - math.log(b0)))
    estimate = min(max(estimate, min(b0, b1)), max(b0, b1))  # exp(log(b)) may be b + 1 ulp
    return estimate, sorted((c, b, p) for c, (b, p) in points.items())
