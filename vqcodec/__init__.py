"""vqcodec: a learned video codec (VQ-VAE tokens, transformer prior, range coding).

Public API:
    compress(frames, out, width, height, fps, quality=None, mode="full", model="default") -> CompressStats
    decompress(inp, model=None) -> iterator of decoded frames (H, W, 3) uint8
    StreamEncoder(width, height, fps, quality, mode, model).push(frame) -> list[bytes]; .flush()
    StreamDecoder(model).push(data) -> list[frame (H, W, 3) uint8]; .flush()
    RecoveringDecoder(codec, file) -> iterator of (index, frame), past damage
    load_codec(name_or_path="default", device="cpu") -> Codec; available_models()
    the error classes (vqcodec.errors)

The names are imported on first use (PEP 562), so `import vqcodec.bench.anchors`
or the container parser does not pay for importing torch (~4 s).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "compress": "api",
    "decompress": "api",
    "Codec": "codec",
    "CompressStats": "stream",
    "StreamDecoder": "stream",
    "StreamEncoder": "stream",
    "RecoveringDecoder": "recovery",
    "available_models": "zoo",
    "load_codec": "zoo",
    "CodecError": "errors",
    "ContainerError": "errors",
    "ModelNotFound": "errors",
    "TokenMismatchError": "errors",
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
