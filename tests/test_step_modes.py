"""format/step_modes.py: the head of a format v6 INTER packet."""
import pytest

from vqcodec.format import step_modes
from vqcodec.format.step_modes import INTRA, PREDICTED, SKIP


@pytest.mark.parametrize("modes", [[], [SKIP], [PREDICTED, SKIP, INTRA], [SKIP] * 4 + [INTRA] + [PREDICTED] * 3,
                                   [INTRA] * 17])
def test_round_trip(modes):
    data = step_modes.write(modes)
    assert len(data) == 1 + -(-len(modes) // 4)
    assert step_modes.read(data + b"\x99\x00") == (modes, len(data))


def test_two_bits_per_step_lsb_first():
    assert step_modes.write([SKIP, PREDICTED, INTRA]) == bytes([3, 0b10_00_01])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        step_modes.read(b"")
    with pytest.raises(ValueError, match="cut short"):
        step_modes.read(bytes([5, 0]))
    with pytest.raises(ValueError, match="invalid mode 3"):
        step_modes.read(bytes([2, 0b1100]))
    with pytest.raises(ValueError, match="at most 255"):
        step_modes.write([SKIP] * 256)
    with pytest.raises(ValueError, match="not PREDICTED"):
        step_modes.write([4])
