"""What a benchmark codes: a clip spec -> (T, H, W, 3) uint8 RGB frames plus where they came from.

Clip specs (the CLIP arguments of `vqcodec bench`):

    path/to/video.mp4          any file FFmpeg reads (first --frames frames)
    video.mp4:0.5-1            the part from half way to the end (fractions of its length)
    bikes.mp4                  a bundled sample by name when no such file exists (vqcodec.media.samples)
    synthetic:static           generated scenes (vqcodec.bench.scenes): fixed camera with moving
    synthetic:pan              objects, or a camera pan; default 352x288, 48 frames

`size` (W, H) centre-crops a file's frames (never scales: the pixels stay the
source's) and sets a generated scene's size. Anchors code yuv420p, so a clip
with an odd side loses its last row/column; the source string records every
such step.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vqcodec.bench.scenes import DEFAULT_FRAMES, DEFAULT_SIZE, SCENES
from vqcodec.media.samples import EVALUATION_SAMPLES, sample_path
from vqcodec.media.video_io import VideoReader

SYNTHETIC_PREFIX = "synthetic:"
SYNTHETIC_FPS = Fraction(25)


@dataclass(frozen=True, eq=False)  # eq=False: holds an ndarray
class BenchClip:
    name: str  # short label for file names, tables and plots
    source: str  # how the frames were made: file, frame range, crop; or the generator
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, H and W even
    fps: Fraction
    evaluation_only: bool  # a public evaluation clip: measure on it, never train on it

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])


def parse_size(text: str) -> tuple[int, int]:
    """"352x288" -> (352, 288) as (width, height); positive and even (yuv420p)."""
    try:
        w, h = (int(v) for v in text.lower().replace(" ", "").split("x"))
    except ValueError:
        raise ValueError(f"size must be WIDTHxHEIGHT like 352x288, got {text!r}") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise ValueError(f"size {text!r}: width and height must be positive and even (anchors code yuv420p)")
    return w, h


def _split_range(spec: str) -> tuple[str, tuple[float, float] | None]:
    """"a.mp4:0.5-1" -> ("a.mp4", (0.5, 1.0)); a spec without a valid range is a plain path."""
    head, sep, tail = spec.rpartition(":")
    if not sep or not head:
        return spec, None
    a, dash, b = tail.partition("-")
    try:
        start, stop = float(a), float(b)
    except ValueError:
        return spec, None  # "C:\..." or a name with a colon: a path
    if not dash or not 0.0 <= start < stop <= 1.0:
        raise ValueError(f"clip {spec!r}: the range must be START-STOP with 0 <= START < STOP <= 1")
    return head, (start, stop)


def _resolve(path_text: str) -> Path:
    p = Path(path_text)
    if p.is_file():
        return p
    if p.is_dir():
        raise ValueError(f"clip {path_text!r} is a folder; name video files")
    if p.parent == Path("."):
        try:
            return sample_path(p.name)
        except (LookupError, FileNotFoundError, ValueError):
            pass
    raise ValueError(f"no such clip: {path_text} (not a file, not a bundled sample, not synthetic:static|pan)")


def _centre_crop(frames: np.ndarray, size: tuple[int, int] | None, what: str) -> tuple[np.ndarray, str]:
    _, h, w, _ = frames.shape
    if size is None:
        tw, th = w - w % 2, h - h % 2  # yuv420p: even sides
    else:
        tw, th = size
        if tw > w or th > h:
            raise ValueError(f"{what} is {w}x{h}, smaller than --size {tw}x{th} (bench crops, it never scales)")
    if (tw, th) == (w, h):
        return frames, ""
    top, left = (h - th) // 2, (w - tw) // 2
    return np.ascontiguousarray(frames[:, top:top + th, left:left + tw]), f", centre crop {tw}x{th}+{left}+{top}"


def _read(path: Path, span: tuple[float, float] | None, max_frames: int | None) -> tuple[np.ndarray, Fraction, str]:
    with VideoReader(str(path)) as reader:
        info = reader.info
        total = info.frame_count
        if span is not None and not total:  # mkv, pipes: count by decoding (the whole file is held)
            frames = list(reader)
            total = len(frames)
        else:
            frames = None
        first, last = 0, None
        if span is not None:
            first, last = int(span[0] * total), int(span[1] * total)
        if max_frames is not None:
            last = first + max_frames if last is None else min(last, first + max_frames)
        if frames is not None:
            frames = frames[first:last]
        else:
            frames = []
            for i, frame in enumerate(reader):
                if last is not None and i >= last:
                    break
                if i >= first:
                    frames.append(frame)
    if not frames:
        raise ValueError(f"{path}: no frames in the requested range")
    return np.stack(frames), Fraction(info.fps), f"{path.name} frames {first}-{first + len(frames) - 1}"


def load_clip(spec: str, max_frames: int | None = None, size: tuple[int, int] | None = None) -> BenchClip:
    """Make the frames a benchmark codes from a clip spec (see the module doc)."""
    if max_frames is not None and max_frames <= 0:
        raise ValueError(f"frames must be positive, got {max_frames}")
    if spec.startswith(SYNTHETIC_PREFIX):
        kind = spec[len(SYNTHETIC_PREFIX):]
        if kind not in SCENES:
            raise ValueError(f"unknown synthetic scene {kind!r}; choose from {', '.join(SCENES)}")
        w, h = size or DEFAULT_SIZE
        t = max_frames or DEFAULT_FRAMES
        frames = SCENES[kind](t, w, h)
        source = f"vqcodec.bench.scenes.{kind}_scene({t} frames, {w}x{h}), deterministic"
        return BenchClip(f"synthetic-{kind}", source, frames, SYNTHETIC_FPS, False)
    path_text, span = _split_range(spec)
    path = _resolve(path_text)
    frames, fps, source = _read(path, span, max_frames)
    frames, crop = _centre_crop(frames, size, spec)
    name = path.stem if span is None else f"{path.stem}-{span[0]:g}-{span[1]:g}"
    if size is not None:
        name += f"-{size[0]}x{size[1]}"
    return BenchClip(name, source + crop, frames, fps, path.name in EVALUATION_SAMPLES)


# The held-out footage every encoder setting is tuned on (benchmarks/rounding_lambda.py,
# prior_temperature.py): the half of bikes.mp4 that no training recipe uses.
TUNING_CLIP, TUNING_SIZE, TUNING_FRAMES = "bikes.mp4:0.5-1", "176x144", 32


def add_tuning_clip_options(parser) -> None:
    """--model, --clip, --size, --frames of a script that tunes an encoder setting
    (parser: an argparse.ArgumentParser; the values go to load_tuning_clip)."""
    parser.add_argument("--model", default="default")
    parser.add_argument("--clip", default=TUNING_CLIP)
    parser.add_argument("--size", default=TUNING_SIZE)
    parser.add_argument("--frames", type=int, default=TUNING_FRAMES)


def load_tuning_clip(spec: str, max_frames: int, size: str) -> BenchClip:
    """load_clip for tuning: the same frames, but an evaluation clip is refused
    (ValueError), since a setting tuned on it would flatter every figure measured on it."""
    clip = load_clip(spec, max_frames, parse_size(size))
    if clip.evaluation_only:
        raise ValueError(f"{spec} is an evaluation clip; tune on held-out footage")
    return clip


def tuning_clip_or_exit(args) -> BenchClip:
    """The tuning scripts' clip from add_tuning_clip_options' values (args: their
    argparse namespace); an evaluation clip, a missing file or a bad size ends the
    script with a one-line error."""
    try:
        return load_tuning_clip(args.clip, args.frames, args.size)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def tuning_clip_and_motion_codec(args):
    """(clip, codec) of a script that tunes the predicted steps: the tuning clip
    (tuning_clip_or_exit) and args.model, which must be a motion-compensated
    model; torch on 2 threads, as the figures are made. Ends the script with a
    one-line error otherwise."""
    import torch

    from ..zoo import load_codec

    torch.set_num_threads(2)
    clip = tuning_clip_or_exit(args)
    codec = load_codec(args.model)
    if not codec.uses_motion:
        raise SystemExit(f"error: model {codec.model_id.name!r} has no motion-compensated steps")
    return clip, codec
