"""What each .vqv format version means: the one place that knows it.

    v1  full mode only
    v2  v1's bytes + the low-latency mode (header mode 1, PREDICTED packets)
    v3  v2 + HEADER packets (a copy of the stream header before every INTRA packet
        but the first): late join and resynchronisation after damage
    v4  v3's bytes; the payload's tokens are coded with the integer prior, whose
        tables are the same on every machine (v1-v3: the float prior)

This build writes v4 (or v3 with the float prior, on request) and reads v1-v4.
"""
from __future__ import annotations

FORMAT_VERSION = 4  # what this build writes by default
READABLE_VERSIONS = (1, 2, 3, 4)

# The prior's arithmetic a stream is written with, and the version that says so.
ARITHMETIC_VERSIONS = {"integer": 4, "float": 3}
ARITHMETICS = tuple(ARITHMETIC_VERSIONS)  # the choices users see (CLI, StreamEncoder)
DEFAULT_ARITHMETIC = "integer"


def version_for(arithmetic: str) -> int:
    """The format version a stream coded with the prior's `arithmetic` carries."""
    if arithmetic not in ARITHMETIC_VERSIONS:
        raise ValueError(f"unknown prior arithmetic {arithmetic!r} (choose {' or '.join(ARITHMETICS)})")
    return ARITHMETIC_VERSIONS[arithmetic]


def arithmetic_of(version: int) -> str:
    """The prior's arithmetic of a stream of format `version`: "integer" or "float"."""
    return "integer" if version >= 4 else "float"


def has_header_copies(version: int) -> bool:
    """Whether a stream of `version` repeats its header before each INTRA packet."""
    return version >= 3


def has_lowlatency(version: int) -> bool:
    return version >= 2
