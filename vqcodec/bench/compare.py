"""Compare vqcodec with x264/x265 on one clip: every quality and mode, a CRF sweep per anchor, BD-rates.

    result = compare_clip(load_clip("carphone_pristine.mp4"), load_codec("default"), BenchConfig())

1. vqcodec codes the clip at each requested quality in each mode (after one
   untimed warm-up, so one-off start-up costs do not land on the first point).
2. Each anchor (x264/x265 preset[+tune], one encoder thread, library defaults
   for GOP and B-frames, recorded from the encoder's own settings string) is
   swept over CRFs so that its PSNR-RGB covers vqcodec's range widened by
   `sweep_margin_db` each side (anchors.crf_sweep). When even CRF 51 lies above
   that range the curves cannot overlap; the sweep then goes on upwards so the
   anchor's curve can still be drawn, and the result says so.
3. BD-rate of every vqcodec mode against every anchor, on PSNR-RGB,
   PSNR-YUV611 and MS-SSIM, over the overlapping quality range only
   (bdrate.bd_rate: PCHIP, the maintained `bjontegaard` package). A pair that
   does not overlap gets `percent=None` and the reason, never a made-up figure.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from fractions import Fraction

from vqcodec.bench.anchors import AnchorConfig, crf_sweep, parse_anchor
from vqcodec.bench.bdrate import bd_rate, quality_overlap
from vqcodec.bench.clips import BenchClip
from vqcodec.bench.measure import MODES, PeakRss, RDPoint, anchor_point, measure_vqcodec
from vqcodec.codec import Codec
from vqcodec.media.metrics import psnr_rgb

DEFAULT_ANCHORS = ("x264:medium", "x264:veryslow", "x264:zerolatency", "x265:medium")
METRICS = {"psnr_rgb": "PSNR-RGB", "psnr_yuv611": "PSNR-YUV611", "ms_ssim": "MS-SSIM"}
MIN_ANCHOR_POINTS = 3  # fewer than this inside the target range: sweep further up to draw the curve
EXTEND_DB = 6.0
THIN_OVERLAP = 0.25  # a BD-rate resting on less than this share of the joint quality range is flagged


@dataclass(frozen=True)
class BenchConfig:
    qualities: tuple[int, ...] | None = None  # None: every quality of the model
    modes: tuple[str, ...] = ("full",)
    anchors: tuple[str, ...] = DEFAULT_ANCHORS  # "x264:medium", "x265:medium", "x264:veryslow+zerolatency", ...
    ms_ssim: bool = True
    sweep_margin_db: float = 1.0
    max_anchor_encodes: int = 12  # per anchor and clip
    anchor_threads: int = 1  # x26x threads: 1 makes the bytes machine-independent

    def __post_init__(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise ValueError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; available: {', '.join(MODES)}")
        if not self.anchors:
            raise ValueError("need at least one anchor, e.g. x264:medium")
        for spec in self.anchors:
            parse_anchor(spec)  # raises ValueError with the reason
        if self.qualities is not None and not self.qualities:
            raise ValueError("qualities must not be empty")
        if self.sweep_margin_db < 0 or self.max_anchor_encodes < 2:
            raise ValueError("sweep_margin_db must be >= 0 and max_anchor_encodes >= 2")

    def anchor_templates(self) -> list[AnchorConfig]:
        return [replace(parse_anchor(s), threads=self.anchor_threads) for s in self.anchors]


@dataclass(frozen=True)
class AnchorSweep:
    curve: str  # "x264 medium"
    template: dict  # AnchorConfig fields (crf is the sweep's, per point)
    library_versions: dict
    target_psnr_rgb: tuple[float, float]
    note: str | None  # set when the sweep had to go beyond the target range


@dataclass(frozen=True)
class BdResult:
    test: str  # vqcodec curve, "vqcodec full"
    anchor: str  # "x264 medium"
    metric: str  # key of METRICS
    percent: float | None  # negative: vqcodec needs fewer bits; None: see reason
    overlap: tuple[float, float] | None  # quality interval the figure rests on
    overlap_fraction: float | None  # that interval's share of both curves' joint extent
    reason: str | None

    @property
    def thin(self) -> bool:
        return self.overlap_fraction is not None and self.overlap_fraction < THIN_OVERLAP


@dataclass(frozen=True, eq=False)
class ClipResult:
    clip: BenchClip
    model: dict  # name, sha256, qualities
    config: BenchConfig
    points: tuple[RDPoint, ...]
    sweeps: tuple[AnchorSweep, ...]
    bd: tuple[BdResult, ...]

    def curves(self) -> dict[str, list[RDPoint]]:
        """Curve name -> its points sorted by rate; vqcodec modes first, then the anchors in the
        order they were given (so every report and plot lists and colours them alike)."""
        order = [f"vqcodec {m}" for m in self.config.modes] + [s.curve for s in self.sweeps]
        rank = {name: i for i, name in enumerate(order)}
        out: dict[str, list[RDPoint]] = {}
        for p in sorted(self.points, key=lambda p: (rank.get(p.curve, len(rank)), p.curve, p.bpp)):
            out.setdefault(p.curve, []).append(p)
        return out


def _metric(p: RDPoint, metric: str) -> float | None:
    value = getattr(p.quality, metric)
    return value if value is not None and math.isfinite(value) else None


def bd_between(test: list[RDPoint], anchor: list[RDPoint], metric: str) -> BdResult:
    """BD-rate of `test` against `anchor` on one metric, or None with the reason."""
    t_name, a_name = test[0].curve, anchor[0].curve
    tp = [(p.bpp, _metric(p, metric)) for p in test if _metric(p, metric) is not None]
    ap = [(p.bpp, _metric(p, metric)) for p in anchor if _metric(p, metric) is not None]
    name = METRICS[metric]
    if len(tp) < 2 or len(ap) < 2:
        return BdResult(t_name, a_name, metric, None, None, None, f"fewer than 2 points with a finite {name}")
    tq, aq = [q for _, q in tp], [q for _, q in ap]
    if min(aq) > max(tq):
        return BdResult(t_name, a_name, metric, None, None, None,
                        f"no overlap: {a_name}'s lowest {name} ({min(aq):.4g}) is above {t_name}'s highest "
                        f"({max(tq):.4g})")
    if max(aq) < min(tq):
        return BdResult(t_name, a_name, metric, None, None, None,
                        f"no overlap: {a_name}'s highest {name} ({max(aq):.4g}) is below {t_name}'s lowest "
                        f"({min(tq):.4g})")
    try:
        value = bd_rate([r for r, _ in ap], aq, [r for r, _ in tp], tq)
        ov = quality_overlap(aq, tq)
    except ValueError as e:
        return BdResult(t_name, a_name, metric, None, None, None, str(e))
    return BdResult(t_name, a_name, metric, value, (ov.lo, ov.hi), ov.fraction, None)


def _sweep(clip: BenchClip, template: AnchorConfig, lo: float, hi: float, cfg: BenchConfig,
           log: Callable[[str], None]) -> tuple[list[RDPoint], AnchorSweep]:
    frames, fps = clip.frames, Fraction(clip.fps)
    with PeakRss() as peak:
        results = crf_sweep(frames, fps, template, (lo, hi), max_encodes=cfg.max_anchor_encodes)
    note = None
    if len(results) < MIN_ANCHOR_POINTS and results:
        # Even CRF 51 beats the top of the range (or the range is tiny): the sweep
        # stopped early. Go on upwards so the anchor's curve can be drawn; BD-rate
        # then reports how little (or no) overlap there is.
        new_hi = max(hi, max(psnr_rgb(frames, r.decoded) for r in results)) + EXTEND_DB
        note = (f"{template.name}: only {len(results)} point(s) for {lo:.2f}..{hi:.2f} dB; "
                f"swept on to {new_hi:.2f} dB to draw its curve")
        log(f"  {note}")
        with PeakRss() as peak:
            results = crf_sweep(frames, fps, template, (lo, new_hi), max_encodes=cfg.max_anchor_encodes)
    points = [anchor_point(frames, fps, r, peak, cfg.ms_ssim) for r in results]
    curve = points[0].curve if points else template.codec
    sweep = AnchorSweep(curve, asdict(template), results[0].library_versions if results else {}, (lo, hi), note)
    return sorted(points, key=lambda p: p.bpp), sweep


def compare_clip(clip: BenchClip, codec: Codec, cfg: BenchConfig = BenchConfig(),
                 log: Callable[[str], None] = lambda msg: None) -> ClipResult:
    """Run the whole comparison on one clip; `log` gets one line per measured point."""
    qualities = list(cfg.qualities or codec.qualities)
    bad = [q for q in qualities if q not in codec.qualities]
    if bad:
        raise ValueError(f"quality {bad} not offered by model {codec.model_id.name!r} "
                         f"(it has {codec.qualities[0]}..{codec.qualities[-1]})")
    fps = Fraction(clip.fps)
    warm = clip.frames[: min(clip.count, codec.config.gop)]
    MODES[cfg.modes[0]].code(codec, warm, fps, qualities[0])  # untimed warm-up

    points: list[RDPoint] = []
    for mode in cfg.modes:
        for q in qualities:
            p = measure_vqcodec(codec, mode, clip.frames, fps, q, cfg.ms_ssim)
            points.append(p)
            log(f"  vqcodec {mode} q={q}: {p.bpp:.4f} bpp, {p.quality.psnr_rgb:.2f} dB, "
                f"enc {p.encode_fps:.1f} / dec {p.decode_fps:.1f} fps, peak {p.peak_rss_mib:.0f} MiB")
    psnrs = [p.quality.psnr_rgb for p in points if math.isfinite(p.quality.psnr_rgb)]
    lo, hi = (min(psnrs), max(psnrs)) if psnrs else (30.0, 40.0)
    lo, hi = lo - cfg.sweep_margin_db, hi + cfg.sweep_margin_db

    sweeps = []
    for template in cfg.anchor_templates():
        log(f"  {template.name}: CRF sweep over PSNR-RGB {lo:.2f}..{hi:.2f} dB")
        anchor_points, sweep = _sweep(clip, template, lo, hi, cfg, log)
        points += anchor_points
        sweeps.append(sweep)
        for p in anchor_points:
            log(f"    {p.setting}: {p.bpp:.4f} bpp, {p.quality.psnr_rgb:.2f} dB")

    result = ClipResult(clip, {"name": codec.model_id.name, "sha256": codec.model_id.sha256.hex(),
                               "qualities": list(codec.qualities)}, cfg, tuple(points), tuple(sweeps), ())
    curves = result.curves()
    metrics = [m for m in METRICS if m != "ms_ssim" or cfg.ms_ssim]
    bd = tuple(
        bd_between(curves[f"vqcodec {mode}"], curves[s.curve], metric)
        for mode in cfg.modes for s in sweeps if s.curve in curves for metric in metrics
    )
    return replace(result, bd=bd)
