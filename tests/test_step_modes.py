"""format/step_modes.py: the head of a format v6 INTER packet."""
import pytest

from vqcodec.format import step_modes
from vqcodec.format.step_modes import INTRA, PREDICTED, SKIP


@pytest.mark.parametrize("modes", [[], [SKIP], [PREDICTED, SKIP, INTRA], [SKIP] * 4 + [INTRA] + [PREDICTED] * 3,
                                   [INTRA] * 17])
@pytest.mark.parametrize("block", [16, 32, 64])
def test_round_trip(modes, block):
    data = step_modes.write(modes, block)
    assert len(data) == 2 + -(-len(modes) // 4)
    assert step_modes.read(data + b"\x99\x00") == (modes, block, len(data))


def test_layout_two_bits_per_step_lsb_first():
    assert step_modes.write([SKIP, PREDICTED, INTRA], 32) == bytes([3, 5, 0b10_00_01])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read(b"")
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read(bytes([5]))
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read(bytes([5, 4, 0]))
    with pytest.raises(ValueError, match="invalid mode 3"):
        step_modes.read(bytes([2, 4, 0b1100]))
    for log2 in (0, 3, 7, 255):
        with pytest.raises(ValueError, match="block size"):
            step_modes.read(bytes([1, log2, 0]))
    with pytest.raises(ValueError, match="at most 255"):
        step_modes.write([SKIP] * 256, 16)
    with pytest.raises(ValueError, match="not PREDICTED"):
        step_modes.write([4], 16)
    for block in (8, 24, 128):
        with pytest.raises(ValueError, match="not one of"):
            step_modes.write([SKIP], block)


def test_intra_head_round_trip():
    # format v9: an INTRA packet's payload starts with its step's quality
    for q in (1, 4, 10):
        head = step_modes.write_intra(q)
        assert head == bytes([q]) and step_modes.read_intra(head + b"tokens", 10) == (q, 1)


@pytest.mark.parametrize("payload, message", [
    (b"", "cut short before its quality"),
    (b"\x00rest", "names quality 0; the model codes qualities 1 to 10"),
    (b"\x0brest", "names quality 11; the model codes qualities 1 to 10"),
])
def test_intra_head_refusals(payload, message):
    with pytest.raises(ValueError, match=message):
        step_modes.read_intra(payload, 10)


@pytest.mark.parametrize("q", [0, 256, -1])
def test_intra_head_writes_a_byte(q):
    with pytest.raises(ValueError, match="must be in 1..255"):
        step_modes.write_intra(q)


@pytest.mark.parametrize("modes", [[SKIP], [PREDICTED, SKIP, INTRA], [SKIP] * 4 + [INTRA] + [PREDICTED] * 3,
                                   [INTRA] * 15, [SKIP] * 16, [PREDICTED, INTRA] * 20, [SKIP] * 255])
@pytest.mark.parametrize("block", [16, 32, 64])
def test_compact_round_trip(modes, block):
    """Format v15: one byte for a one-step packet, the step count in the lead byte."""
    data = step_modes.write_compact(modes, block)
    assert len(data) == 1 + (len(modes) >= 16) + -(-(len(modes) - 1) // 4)
    assert step_modes.read_compact(data + b"\x99\x00") == (modes, block, len(data))
    assert step_modes.read_for(15, data) == step_modes.read_compact(data)
    assert step_modes.write_for(14, modes, block) == step_modes.write(modes, block)


def test_compact_layout():
    # block 32 (code 1), step 0 SKIP (1), 3 steps (2); then steps 1, 2: PREDICTED 0, INTRA 2
    assert step_modes.write_compact([SKIP, PREDICTED, INTRA], 32) == bytes([0b0010_01_01, 0b10_00])
    assert step_modes.write_compact([SKIP], 16) == bytes([0b0000_01_00])


def test_compact_bad_input_is_refused():
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read_compact(b"")
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read_compact(bytes([0x10]))  # 2 steps, no byte for the second
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read_compact(bytes([0xF0]))  # 16 or more steps, no count byte
    with pytest.raises(ValueError, match="block size code 3"):
        step_modes.read_compact(bytes([0x03]))
    with pytest.raises(ValueError, match="invalid mode 3"):
        step_modes.read_compact(bytes([0x0C]))
    with pytest.raises(ValueError, match="at least one step"):
        step_modes.write_compact([], 16)
    with pytest.raises(ValueError, match="at most 255"):
        step_modes.write_compact([SKIP] * 256, 16)
