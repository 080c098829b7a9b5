"""format/skip_mask.py: the head of a format v6 INTER packet."""
import pytest

from vqcodec.format import skip_mask


@pytest.mark.parametrize("skips", [[], [True], [False, True, True], [True] * 8 + [False] + [True] * 7, [False] * 17])
def test_round_trip(skips):
    data = skip_mask.write(skips)
    assert len(data) == 1 + -(-len(skips) // 8)
    assert skip_mask.read(data + b"\x99\x00") == (skips, len(data))


def test_bits_are_lsb_first():
    assert skip_mask.write([True, False, True]) == bytes([3, 0b101])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        skip_mask.read(b"")
    with pytest.raises(ValueError, match="cut short"):
        skip_mask.read(bytes([9, 0]))
    with pytest.raises(ValueError, match="at most 255"):
        skip_mask.write([False] * 256)
