"""The head of a format v6 INTER packet's payload: which predicted steps are skipped.

    u8 steps, then ceil(steps / 8) bytes: bit i (LSB first) set = step i is SKIP

It sits before the range-coded section (modes/predicted.py) so that the
decoder knows which steps carry tokens before it decodes any, and so that
`vqcodec info` can count what the encoder chose without loading a model.
"""
from __future__ import annotations

MAX_STEPS = 255


def write(skips: list[bool]) -> bytes:
    """Per step, whether it is skipped -> the payload's head."""
    if len(skips) > MAX_STEPS:
        raise ValueError(f"a packet holds at most {MAX_STEPS} predicted steps, got {len(skips)}")
    mask = bytearray(-(-len(skips) // 8))
    for i, skip in enumerate(skips):
        mask[i // 8] |= int(skip) << (i % 8)
    return bytes([len(skips)]) + bytes(mask)


def read(payload: bytes) -> tuple[list[bool], int]:
    """An INTER packet's payload -> (per step, whether it is skipped; bytes the head took).
    ValueError when the payload is shorter than its head."""
    if not payload:
        raise ValueError("an INTER packet's payload is empty (no step count)")
    steps = payload[0]
    size = 1 + -(-steps // 8)
    if len(payload) < size:
        raise ValueError(f"an INTER packet's payload is cut short inside its skip mask ({steps} steps)")
    return [bool(payload[1 + i // 8] >> (i % 8) & 1) for i in range(steps)], size
