"""Range coding of symbols under integer frequency tables (constriction).

This module knows nothing of torch or of models: it takes int64 frequency
tables (M, K) whose rows sum to 2^cdf.PRECISION (from `cdf.frequencies`) and
symbols (M,), and turns them into bytes and back. The tables are handed to
constriction as exact dyadic float64 probabilities freq / 2^PRECISION, which
constriction quantizes at the same 24-bit precision deterministically (it is
integer Rust code with no threads), so encoder and decoder agree whenever
their integer tables agree.
"""
from __future__ import annotations

import constriction
import numpy as np

from ..errors import EntropyCodingError
from . import cdf
from .cdf import TOTAL

# perfect=False: constriction's fast, deterministic quantization. Encoder and
# decoder must use the same setting; it is fixed here, in one place.
_FAMILY = constriction.stream.model.Categorical(perfect=False)


def _probs(freq: np.ndarray) -> np.ndarray:
    if freq.ndim != 2:
        raise ValueError(f"frequency table must be (M, K), got shape {freq.shape}")
    return np.ascontiguousarray(freq, dtype=np.float64) / float(TOTAL)


class RangeEncoder:
    """Accumulates symbols group by group; `finish()` returns the bytes."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, freq: np.ndarray) -> None:
        """symbols (M,) in [0, K); freq (M, K) int64 from cdf.frequencies."""
        if len(symbols) == 0:
            return
        sym = np.ascontiguousarray(symbols, dtype=np.int32)
        if sym.shape[0] != freq.shape[0]:
            raise ValueError("one frequency row per symbol is required")
        if sym.min() < 0 or sym.max() >= freq.shape[1]:
            raise ValueError("symbol outside the alphabet")
        self._enc.encode(sym, _FAMILY, _probs(freq))

    def encode_with(self, symbols: np.ndarray, model) -> None:
        """symbols (M,) int32, all under one fixed constriction model (a table
        built once, e.g. laplace_tables)."""
        if len(symbols):
            self._enc.encode(symbols, model)

    def finish(self) -> bytes:
        words = self._enc.get_compressed()  # uint32 words
        return np.asarray(words, dtype="<u4").tobytes()


class TrimmedRangeEncoder(RangeEncoder):
    """RangeEncoder whose bytes (format v15) are its words big-endian, without the
    trailing zero bytes, which the decoder (RangeDecoder.trimmed) reads back as
    zeros, as constriction reads the words past the end of its data.

    constriction seals a message with the smallest word that, followed by zero
    words, points into the coder's final interval [lower, lower + range) (a
    64-bit state, 32-bit words: constriction's queue.rs, seal_words). Any word up
    to (lower + range - 1) >> 32 does as well, so the last word is replaced by
    the one of that span with the most trailing zero bytes. That saves 1.6 bytes
    a message on average (3,000 random messages, tests/test_range_coder.py),
    and all 4 where the message is all but certain (a still camera's step)."""

    def finish(self) -> bytes:
        words = np.array(self._enc.get_compressed(), dtype=np.uint32)
        at, (lower, width) = self._enc.pos()  # at: the index of the sealing word
        upper = lower + width - 1  # the interval's last point, unwrapped (64-bit state)
        if at < len(words) and upper < 1 << 64:
            first, last = (lower + 0xFFFFFFFF) >> 32, upper >> 32  # the words that would seal it
            if int(words[at]) == first and last < 1 << 32:  # (else a rare carry situation: kept as is)
                words[at] = next(w for w in (_rounded_up(first, k) for k in (32, 24, 16, 8, 0)) if w <= last)
        return words.astype(">u4").tobytes().rstrip(b"\0")


def _rounded_up(word: int, bits: int) -> int:
    """The smallest multiple of 2^bits at least `word` (2^32, past any word, if none)."""
    return -(-word >> bits) << bits


class RangeDecoder:
    """Decodes symbols in the same groups, with the same tables, as encoded."""

    def __init__(self, data: bytes, order: str = "<") -> None:
        """data: whole 32-bit words, little-endian (order "<"; ">": big-endian)."""
        if len(data) % 4:
            raise EntropyCodingError("payload length is not a whole number of 32-bit words")
        words = np.frombuffer(data, dtype=f"{order}u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    @classmethod
    def trimmed(cls, data: bytes) -> RangeDecoder:
        """A decoder of TrimmedRangeEncoder's bytes (format v15): big-endian words, the
        trailing zero bytes left out."""
        return cls(bytes(data) + bytes(-len(data) % 4), ">")

    def decode(self, freq: np.ndarray) -> np.ndarray:
        """freq (M, K) -> symbols (M,) int64."""
        if freq.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            out = self._dec.decode(_FAMILY, _probs(freq))
        except Exception as e:  # constriction raises on data that cannot be valid
            raise EntropyCodingError(f"payload does not decode: {e}") from None
        return np.asarray(out, dtype=np.int64)

    def decode_with(self, model, count: int) -> np.ndarray:
        """count symbols under one fixed constriction model -> (count,) int64."""
        try:
            out = self._dec.decode(model, count)
        except Exception as e:
            raise EntropyCodingError(f"payload does not decode: {e}") from None
        return np.asarray(out, dtype=np.int64)


class FrequencyRows:
    """The tables of one coding group of the v1-v4 prior: freq (M, K) integer
    rows (and the logits they came from, for the ideal-bits report). The
    coding loop hands these, or v5's laplace_tables.LaplaceRows, to its step:
    both encode, decode and price symbols the same way."""

    def __init__(self, freq: np.ndarray, logits: np.ndarray):
        self.freq, self.logits, self.K = freq, logits, freq.shape[1]

    def __len__(self) -> int:
        return self.freq.shape[0]

    def encode(self, enc: RangeEncoder, symbols: np.ndarray) -> None:
        enc.encode(symbols, self.freq)

    def decode(self, dec: RangeDecoder) -> np.ndarray:
        return dec.decode(self.freq)

    def bits(self, symbols: np.ndarray) -> np.ndarray:
        """symbols (M, c) candidates -> (M, c) code lengths under the integer tables."""
        f = np.take_along_axis(self.freq, symbols, axis=1).astype(np.float64)
        return np.log2(self.freq.sum(1, dtype=np.float64))[:, None] - np.log2(f)

    def ideal_bits(self, symbols: np.ndarray) -> float:
        return cdf.ideal_bits(self.logits, symbols)
