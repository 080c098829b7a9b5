"""The head of a format v6 INTER packet's payload: how each predicted step is coded;
and (v9) the head of an INTRA packet's payload: the quality its step is coded at.

    u8 steps, u8 log2 of the motion block size (4, 5 or 6: 16x16, 32x32 or
    64x64 pixels per vector), then ceil(steps / 4) bytes: 2 bits per step,
    step i in bits 2i..2i+1 (LSB first) of the bytes: PREDICTED 0, SKIP 1,
    INTRA 2 (3 is invalid)

PREDICTED: motion fields, then tokens coded against the motion-compensated
prediction. SKIP: motion fields only (every token the zero symbol). INTRA:
tokens coded alone, no fields (a scene cut). The head sits before the
range-coded section (modes/predicted.py), so the decoder knows what each step
holds before it decodes any, and `vqcodec info` counts what the encoder chose
without loading a model.

Format v9: a full-mode INTRA packet's payload starts with a u8 quality (1 to
the model's qualities), the quality its tokens are coded and decoded at; the
stream's quality codes the predicted steps. The encoder codes the intra step
finer than the steps predicted from it (modes/predicted.py, INTRA_BOOST).

Format v15 (write_compact, read_compact): the same in fewer bytes,

    u8: bits 0-1 the motion block size (0, 1, 2: 16, 32, 64 pixels), bits 2-3
    step 0's mode, bits 4-7 the step count - 1 (15: 16 or more steps, and a u8
    count - 16 follows); then ceil((steps - 1) / 4) bytes: 2 bits per step from
    step 1, as above,

so that a one-step packet (every packet of the low-latency mode at latency 0)
spends 1 byte on it, not 3.
"""
from __future__ import annotations

from .versions import compact_packets

PREDICTED, SKIP, INTRA = 0, 1, 2
NAMES = ("predicted", "skipped", "intra")
MAX_STEPS = 255
BLOCK_LOG2 = (4, 5, 6)  # motion blocks of 16, 32 and 64 pixels


def write(modes: list[int], block: int) -> bytes:
    """Per step its mode, the motion block size -> the payload's head."""
    if block.bit_length() - 1 not in BLOCK_LOG2 or block & (block - 1):
        raise ValueError(f"motion block size {block} is not one of 16, 32, 64")
    if len(modes) > MAX_STEPS:
        raise ValueError(f"a packet holds at most {MAX_STEPS} predicted steps, got {len(modes)}")
    head = bytearray(-(-len(modes) // 4))
    for i, mode in enumerate(modes):
        if mode not in (PREDICTED, SKIP, INTRA):
            raise ValueError(f"step mode {mode} is not PREDICTED, SKIP or INTRA")
        head[i // 4] |= mode << (2 * (i % 4))
    return bytes([len(modes), block.bit_length() - 1]) + bytes(head)


def read(payload: bytes) -> tuple[list[int], int, int]:
    """An INTER packet's payload -> (per step its mode, the motion block size,
    bytes the head took). ValueError when the payload is shorter than its head,
    the block size or a mode is invalid."""
    if len(payload) < 2:
        raise ValueError("an INTER packet's payload is cut short before its step modes")
    steps, log2 = payload[0], payload[1]
    if log2 not in BLOCK_LOG2:
        raise ValueError(f"an INTER packet's motion block size 2^{log2} is not one of 16, 32, 64")
    size = 2 + -(-steps // 4)
    if len(payload) < size:
        raise ValueError(f"an INTER packet's payload is cut short inside its step modes ({steps} steps)")
    modes = [payload[2 + i // 4] >> (2 * (i % 4)) & 3 for i in range(steps)]
    if 3 in modes:
        raise ValueError(f"step {modes.index(3)} of an INTER packet has the invalid mode 3")
    return modes, 1 << log2, size


def write_intra(quality: int) -> bytes:
    """The quality of an INTRA packet's step -> its payload's head (v9)."""
    if not 1 <= quality <= 255:
        raise ValueError(f"an INTRA packet's quality must be in 1..255, got {quality}")
    return bytes([quality])


def read_intra(payload: bytes, qualities: int) -> tuple[int, int]:
    """An INTRA packet's payload (v9) -> (its quality, bytes the head took).
    ValueError when the payload is empty or the quality is not one of the
    model's 1..qualities."""
    if not payload:
        raise ValueError("an INTRA packet's payload is cut short before its quality")
    if not 1 <= payload[0] <= qualities:
        raise ValueError(f"an INTRA packet names quality {payload[0]}; the model codes qualities 1 to {qualities}")
    return payload[0], 1


def write_compact(modes: list[int], block: int) -> bytes:
    """write's head in format v15's layout."""
    if not modes:
        raise ValueError("an INTER packet holds at least one step")
    head = write(modes, block)  # (checks the block, the count and the modes)
    n, code = len(modes), head[1] - BLOCK_LOG2[0]
    lead = bytes([code | modes[0] << 2 | min(n - 1, 15) << 4]) + (bytes([n - 16]) if n >= 16 else b"")
    rest = bytearray(-(-(n - 1) // 4))
    for i, mode in enumerate(modes[1:]):
        rest[i // 4] |= mode << (2 * (i % 4))
    return lead + bytes(rest)


def read_compact(payload: bytes) -> tuple[list[int], int, int]:
    """read's result from format v15's layout (the same ValueErrors)."""
    if not payload:
        raise ValueError("an INTER packet's payload is cut short before its step modes")
    lead, at = payload[0], 1
    code, steps = lead & 3, (lead >> 4) + 1
    if code + BLOCK_LOG2[0] not in BLOCK_LOG2:
        raise ValueError(f"an INTER packet's motion block size code {code} is not one of 0, 1, 2 (16, 32, 64)")
    if steps == 16:
        if len(payload) < 2:
            raise ValueError("an INTER packet's payload is cut short inside its step modes")
        steps, at = 16 + payload[1], 2
    size = at + -(-(steps - 1) // 4)
    if len(payload) < size:
        raise ValueError(f"an INTER packet's payload is cut short inside its step modes ({steps} steps)")
    modes = [lead >> 2 & 3] + [payload[at + i // 4] >> (2 * (i % 4)) & 3 for i in range(steps - 1)]
    if 3 in modes:
        raise ValueError(f"step {modes.index(3)} of an INTER packet has the invalid mode 3")
    return modes, 1 << (code + BLOCK_LOG2[0]), size


def write_for(version: int, modes: list[int], block: int) -> bytes:
    """The step modes head of a stream of `version`: v15's compact one, or write's."""
    return (write_compact if compact_packets(version) else write)(modes, block)


def read_for(version: int, payload: bytes) -> tuple[list[int], int, int]:
    """read (or read_compact in v15) for a stream of `version`."""
    return (read_compact if compact_packets(version) else read)(payload)
