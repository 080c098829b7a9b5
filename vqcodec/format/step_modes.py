"""The head of a format v6 INTER packet's payload: how each predicted step is coded.

    u8 steps, then ceil(steps / 4) bytes: 2 bits per step, step i in bits
    2i..2i+1 (LSB first) of the bytes: PREDICTED 0, SKIP 1, INTRA 2 (3 is invalid)

PREDICTED: motion fields, then tokens coded against the motion-compensated
prediction. SKIP: motion fields only (every token the zero symbol). INTRA:
tokens coded alone, no fields (a scene cut). The head sits before the
range-coded section (modes/predicted.py), so the decoder knows what each step
holds before it decodes any, and `vqcodec info` counts what the encoder chose
without loading a model.
"""
from __future__ import annotations

PREDICTED, SKIP, INTRA = 0, 1, 2
NAMES = ("predicted", "skipped", "intra")
MAX_STEPS = 255


def write(modes: list[int]) -> bytes:
    """Per step its mode -> the payload's head."""
    if len(modes) > MAX_STEPS:
        raise ValueError(f"a packet holds at most {MAX_STEPS} predicted steps, got {len(modes)}")
    head = bytearray(-(-len(modes) // 4))
    for i, mode in enumerate(modes):
        if mode not in (PREDICTED, SKIP, INTRA):
            raise ValueError(f"step mode {mode} is not PREDICTED, SKIP or INTRA")
        head[i // 4] |= mode << (2 * (i % 4))
    return bytes([len(modes)]) + bytes(head)


def read(payload: bytes) -> tuple[list[int], int]:
    """An INTER packet's payload -> (per step its mode, bytes the head took).
    ValueError when the payload is shorter than its head or a mode is invalid."""
    if not payload:
        raise ValueError("an INTER packet's payload is empty (no step count)")
    steps = payload[0]
    size = 1 + -(-steps // 4)
    if len(payload) < size:
        raise ValueError(f"an INTER packet's payload is cut short inside its step modes ({steps} steps)")
    modes = [payload[1 + i // 4] >> (2 * (i % 4)) & 3 for i in range(steps)]
    if 3 in modes:
        raise ValueError(f"step {modes.index(3)} of an INTER packet has the invalid mode 3")
    return modes, size
