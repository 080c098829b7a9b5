"""What every `vqcodec` command shares: errors as one line and an exit code, the
device check, the progress bar.

Every expected failure (bad input, wrong model, corrupt stream, existing output)
is one line on stderr starting with "error:" and a non-zero exit, never a
traceback. Nothing here loads torch until a command needs it.
"""
from __future__ import annotations

import sys

import click

from vqcodec.errors import DAMAGED

from .output_file import OutputError

EXIT_ERROR = 1  # bad input, missing file, wrong model, existing output
EXIT_CORRUPT = 3  # the stream itself is damaged (CRC, truncation, mismatch): nothing written
EXIT_DAMAGED = 4  # damaged, but the frames before the damage were written
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


class Errors:
    """Context manager: the library's error types -> one-line messages and exit codes."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, (SystemExit, click.exceptions.Exit, click.ClickException)):
            return False
        if issubclass(exc_type, DAMAGED):
            fail(exc, EXIT_CORRUPT)
        if issubclass(exc_type, (ValueError, LookupError, OSError, OutputError)):
            fail(exc)
        if issubclass(exc_type, KeyboardInterrupt):
            fail("interrupted", EXIT_INTERRUPTED)
        return False


def checked_device(device: str) -> str:
    """`device` if it can be used here; a clear error for --device cuda without CUDA."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available")
    return device


def progress(total: int | None, label: str):
    """A tqdm bar on stderr, counting frames; silent when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="frame", disable=None, file=sys.stderr, leave=False)


def command_line(ctx: click.Context, positional: str) -> list[str]:
    """The command as the user gave it (options at their defaults left out), for reports:
    "vqcodec", the subcommands, the `positional` arguments, then the options given."""
    words = ["vqcodec", *ctx.command_path.split()[1:], *ctx.params[positional]]
    for param in ctx.command.params:
        if param.name == positional or ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(value, bool):
            name = param.opts[0] if value else (param.secondary_opts or param.opts)[0]
            words.append(name)
        else:
            words += [param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0], str(value)]
    return words


DEVICES = ("cpu", "cuda")
