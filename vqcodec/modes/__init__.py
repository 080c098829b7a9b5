"""The coding modes, one module each, behind one small registry.

A stream's header names its mode (format.container.Mode); the registry maps
that, or the name a user gives, to the mode's class, which makes the packet
encoder (frames in, container packets out) and the packet decoder (packets
in, frames out) that stream.py drives:

    full        every frame coded as tokens, a GOP per packet (modes/full.py; a
                motion model's predicted steps: modes/predicted.py)
    lowlatency  at most `latency` frames held back (modes/lowlatency.py): a motion
                model's predicted steps in short packets (format v14), or coded
                keyframes with motion-compensated frames between

DEFAULT_MODE is the one mode both the library (StreamEncoder, api.compress)
and the CLI use when none is named: "full", the better rate for a file, which
is what someone compressing a clip expects; a camera pipeline that must bound
its delay names "lowlatency". Mode classes are imported on first use, so this
module (and the CLI's option list) does not load torch.
"""
from __future__ import annotations

from fractions import Fraction

from ..format.container import Mode

MODE_NAMES = ("full", "lowlatency")  # what users choose from (CLI, StreamEncoder, bench)
DEFAULT_MODE = "full"


def _classes() -> dict[str, type]:
    from .full import FullMode
    from .lowlatency import LowLatencyMode

    return {cls.name: cls for cls in (FullMode, LowLatencyMode)}


def mode_class(name_or_wire: str | Mode):
    """The mode class for a user's name ("full", "lowlatency") or a header's Mode."""
    classes = _classes()
    if isinstance(name_or_wire, Mode):
        return next(cls for cls in classes.values() if cls.wire is name_or_wire)
    if name_or_wire not in classes:
        raise ValueError(f"unknown mode {name_or_wire!r} (choose {' or '.join(MODE_NAMES)})")
    return classes[name_or_wire]


def encoder_for(mode: str, codec, width: int, height: int, fps: Fraction, frame_count: int | None,
                quality: int, version: int, **options):
    """A packet encoder of `mode`: .header, .push(frame) -> packets, .flush() -> packets,
    .ideal_bits, .tokens. options: the mode's own (lowlatency: keyint, keyframes, latency, settings)."""
    return mode_class(mode).encoder(codec, width, height, fps, frame_count, quality, version, **options)


def decoder_for(codec, header):
    """The packet decoder of the stream `header` describes: .push(packet) -> frames (n, H, W, 3)."""
    return mode_class(header.mode).decoder(codec, header)
