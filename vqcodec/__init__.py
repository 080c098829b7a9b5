"""vqcodec: a learned video codec (VQ-VAE tokens, transformer prior, range coding).

Public API:
    load_codec(name_or_path="default", device="cpu") -> Codec
    Codec.compress(frames, out, width, height, fps, quality) -> CompressStats
    Codec.decompress(inp) -> iterator of decoded frames (n, H, W, 3) uint8, one array per packet
    StreamEncoder(width, height, fps, quality, mode, model).push(frame) -> list[bytes]; .flush()
    StreamDecoder(model).push(data) -> list[frame (H, W, 3) uint8]; .flush()

The names are imported on first use (PEP 562), so `import vqcodec.bench.anchors`
or the container parser does not pay for importing torch (~4 s).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Codec": "codec",
    "CodecError": "codec",
    "CompressStats": "codec",
    "StreamDecoder": "stream",
    "StreamEncoder": "stream",
    "available_models": "zoo",
    "load_codec": "zoo",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'vqcodec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
