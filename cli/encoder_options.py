"""The encoder's options, shared by `vqcodec compress` and `vqcodec batch compress`, so the
two commands offer the same choices with the same words (the choices come from the library)."""
from __future__ import annotations

import click

from vqcodec.format.versions import ARITHMETICS, DEFAULT_ARITHMETIC
from vqcodec.modes import DEFAULT_MODE, MODE_NAMES
from vqcodec.modes.keyframes import POLICIES

from .common import DEVICES

_OPTIONS = [
    click.option("-q", "--quality", type=int, default=None, help="Quality, 1 = fewest bits: residual VQ levels kept, or the scalar step. Default: the model's middle one."),
    click.option("--model", default="default", show_default=True, help="Installed model name or path to a model .json/.safetensors."),
    click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True),
    click.option("--mode", type=click.Choice(MODE_NAMES), default=DEFAULT_MODE, show_default=True,
                 help="full: every frame coded as VQ tokens (the shipped model: each 2 frames predicted by "
                      "motion compensation and corrected by tokens), in packets of 16 frames. lowlatency: "
                      "the same coding in packets of at most --latency + 1 frames (the shipped model; "
                      "latency 0: one frame per step); models without motion: VQ-coded keyframes, the "
                      "frames between them rebuilt by motion compensation."),
    click.option("--keyint", type=click.IntRange(1, 255), default=None,
                 help="lowlatency: keyframe interval, where a late joiner can start (the maximum one with "
                      "--keyframes adaptive). Default: 64 with the shipped model, 8 with models without motion."),
    click.option("--keyframes", type=click.Choice(list(POLICIES)), default="fixed", show_default=True,
                 help="lowlatency: keyframes every --keyint frames, or also where the content changes "
                      "(LUV frame difference, as Fast-Vid2Vid)."),
    click.option("--latency", type=click.IntRange(0, 255), default=0, show_default=True,
                 help="lowlatency: frames the encoder may hold back. The shipped model: 0 = each frame coded "
                      "as it arrives; 1 or more = two frames per step. Models without motion: 0 = predict "
                      "forward from the last keyframe only; >= keyint-1 = interpolate between keyframes."),
    click.option("--arithmetic", type=click.Choice(ARITHMETICS), default=DEFAULT_ARITHMETIC, show_default=True,
                 help="The prior's arithmetic. integer: tables computed exactly, decoded identically on "
                      "any CPU or GPU (format v5 with the fast prior of the default model, v4 with a "
                      "transformer prior). float: transformer-prior models only (format v3), bit-exact "
                      "only on a decoder with the encoder's float arithmetic."),
    click.option("--rdo", type=click.FloatRange(min=0), default=None, metavar="LAMBDA",
                 help="Scalar models: rate-distortion rounding, bits weighted against squared error in steps "
                      "(0 = round to nearest). Default: the tuned value. Any decoder reads the result."),
]
LOWLATENCY_ONLY = ("keyint", "keyframes", "latency")


def encoder_options(command):
    """Decorator: the encoder's options, in this order, on a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def check_mode_options(mode: str) -> None:
    """Refuse the low-latency options when they were given with --mode full (they would do nothing)."""
    if mode == "full":
        ctx = click.get_current_context()
        for name in LOWLATENCY_ONLY:
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                raise ValueError(f"--{name} applies to --mode lowlatency only")
