"""vqcodec: a learned video codec (VQ-VAE tokens, transformer prior, range coding).

Public API:
    load_codec(name_or_path="default", device="cpu") -> Codec
    Codec.compress(frames, out, width, height, fps, quality) -> CompressStats
    Codec.decompress(inp) -> iterator of decoded GOPs (n, H, W, 3) uint8
"""
from .codec import Codec, CodecError, CompressStats
from .zoo import available_models, load_codec

__version__ = "0.1.0"

__all__ = ["Codec", "CodecError", "CompressStats", "available_models", "load_codec", "__version__"]
