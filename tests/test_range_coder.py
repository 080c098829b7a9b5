"""entropy_coder.py: exact round trips and pinned words; corrupt data errors."""
import numpy as np
import pytest

from vqcodec.coding import cdf
from vqcodec.coding.range_coder import EntropyCodingError, RangeDecoder, RangeEncoder


def _tables(rng, m, k):
    return cdf.frequencies((rng.standard_normal((m, k)) * 3).astype(np.float32))


def test_round_trip_in_groups():
    rng = np.random.default_rng(0)
    groups = [(_tables(rng, m, 40), None) for m in (1, 17, 300, 0, 5)]
    groups = [(f, rng.integers(0, 40, len(f))) for f, _ in groups]
    enc = RangeEncoder()
    for f, s in groups:
        enc.encode(s, f)
    data = enc.finish()
    dec = RangeDecoder(data)
    for f, s in groups:
        assert (dec.decode(f) == s).all()


def test_pinned_bytes():
    f = cdf.frequencies(np.array([[0.0, 1.0, -2.0, 3.5]] * 6, np.float32))
    enc = RangeEncoder()
    enc.encode(np.array([3, 3, 1, 0, 2, 3]), f)
    assert enc.finish().hex() == PINNED


PINNED = "c5d52838"  # constriction RangeEncoder words, little-endian


def test_rate_matches_model():
    rng = np.random.default_rng(3)
    f = _tables(rng, 5000, 16)
    p = f / cdf.TOTAL
    s = np.array([rng.choice(16, p=row) for row in p])
    enc = RangeEncoder()
    enc.encode(s, f)
    bits = 8 * len(enc.finish())
    assert bits <= cdf.coded_bits(f, s) * 1.005 + 64


def test_bad_symbols_and_payloads():
    f = cdf.frequencies(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError):
        RangeEncoder().encode(np.array([0, 4]), f)
    with pytest.raises(ValueError):
        RangeEncoder().encode(np.array([0]), f)
    with pytest.raises(EntropyCodingError):
        RangeDecoder(b"abc")
