"""The full mode: every frame coded as tokens, a GOP (config.gop frames) per packet.

The prior's context (the previous latent frame) carries across GOPs inside an
intra period and resets at its start. A model with a reference branch
(conditional coding, AutoencoderConfig.reference) also hands its autoencoder
the previous GOP's last decoded frame, reset at the same place; FullEncoder
decodes what it coded to get it (closed loop). The prior never sees it, so the
tokens stay bit-exact whatever the pixels do.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from ..codec import Codec, tokens_crc
from ..errors import CodecError, TokenMismatchError
from ..format.container import Mode, Packet, PacketType, StreamHeader


class FullMode:
    """The registry's entry for header mode FULL (modes/__init__.py)."""

    name = "full"
    wire = Mode.FULL

    @staticmethod
    def encoder(codec: Codec, width: int, height: int, fps: Fraction, frame_count: int | None, quality: int,
                version: int | None = None, **lowlatency_options) -> FullEncoder:
        """The low-latency options (keyint, keyframes, latency, settings) do not apply here."""
        header = codec.stream_header(Mode.FULL, width, height, fps, frame_count, quality,
                                     codec.config.gop, codec.config.intra_period, version)
        if codec.uses_motion:  # format v6: intra GOPs, then motion-compensated steps
            from .predicted import PredictedEncoder
            return PredictedEncoder(codec, header)
        return FullEncoder(codec, header)

    @staticmethod
    def decoder(codec: Codec, header: StreamHeader):
        """FullDecoder, or a motion-compensated model's PredictedDecoder (format v6)."""
        if codec.uses_motion:
            from .predicted import PredictedDecoder
            return PredictedDecoder(codec, header)
        return FullDecoder(codec, header)


class FullEncoder:
    """The full mode, frame by frame: every config.gop frames make one packet (a GOP);
    the prior's context carries across GOPs and resets at each intra period."""

    def __init__(self, codec: Codec, header: StreamHeader):
        self.codec, self.header = codec, header
        self.quality, self.version = header.quality, header.version
        self._gop: list[np.ndarray] = []  # frames (H, W, 3) of the GOP being filled
        self._prev: torch.Tensor | None = None  # (N, h, w) prior context
        self._ref: np.ndarray | None = None  # (H', W', 3) last decoded frame, padded (conditional coding)
        self._done = 0  # frames already in packets
        self.ideal_bits, self.tokens = 0.0, 0
        self.coded: np.ndarray | None = None  # tokens (T', planes, h, w) of the last packet, as coded
        self._coded_ref: np.ndarray | None = None  # the reference they were coded against
        self._decoded: np.ndarray | None = None  # their decoded frames, once known

    def push(self, frame: np.ndarray) -> list[Packet]:
        self._gop.append(frame)
        return [self._packet()] if len(self._gop) == self.codec.config.gop else []

    def flush(self) -> list[Packet]:
        return [self._packet()] if self._gop else []

    def _packet(self) -> Packet:
        codec, gop = self.codec, np.stack(self._gop)
        self._gop = []
        intra = self._done % codec.config.intra_period == 0
        if intra:  # an intra GOP is coded alone: random access starts here
            self._ref = None
        tokens, latents = codec.quantize(codec.padded(gop), self.quality, self._ref)  # (T', L, h, w)
        if intra or self._prev is None:
            self._prev = codec.empty_context(tokens.shape[2], tokens.shape[3])
        payload, bits, self._prev = codec.encode_payload(tokens, self._prev, self.version, self.quality, latents)
        packet = Packet(PacketType.INTRA if intra else PacketType.INTER, self._done, len(gop), payload,
                        tokens_crc(tokens))
        self.ideal_bits += bits
        self.tokens, self.coded = self.tokens + tokens.size, tokens
        self._coded_ref, self._decoded = self._ref, None
        if codec.uses_reference:  # closed loop: the next GOP's reference is what the decoder will have
            self._ref = self.reconstruction()[len(gop) - 1]
        self._done += len(gop)
        return packet

    def reconstruction(self) -> np.ndarray:
        """Decoded frames (T, H', W', 3) uint8 of the last packet, padded to
        the latent grid: exactly what FullDecoder outputs before cropping."""
        if self.coded is None:
            raise ValueError("no packet coded yet")
        if self._decoded is None:
            self._decoded = self.codec.decode_tokens(self.coded, self.quality, self._coded_ref)
        return self._decoded


class FullDecoder:
    """Packets of a full-mode stream in, frames out."""

    def __init__(self, codec: Codec, header: StreamHeader):
        self.codec, self.header = codec, header
        s = codec.factor_s
        self.h, self.w = -(-header.height // s), -(-header.width // s)  # latent grid
        self._prev: torch.Tensor | None = None
        self._ref: np.ndarray | None = None  # (H', W', 3) last decoded frame, padded (conditional coding)

    def push(self, packet: Packet) -> np.ndarray:
        """-> frames (n, H, W, 3) uint8 of the packet."""
        h = self.header
        if packet.kind == PacketType.INTRA:
            self._prev, self._ref = self.codec.empty_context(self.h, self.w), None
        elif self._prev is None:
            raise CodecError(f"stream starts with an inter packet at frame {packet.first_frame}")
        latent = -(-packet.frame_count // self.codec.factor_t)
        tokens, self._prev = self.codec.decode_payload(packet.payload, latent, h.quality, self._prev, h.version)
        if tokens_crc(tokens) != packet.tokens_crc:
            raise TokenMismatchError(
                f"decoded tokens of frames {packet.first_frame}-{packet.first_frame + packet.frame_count - 1} "
                f"do not match their CRC: the prior's probabilities differ from the encoder's"
            )
        frames = self.codec.decode_tokens(tokens, h.quality, self._ref)
        if self.codec.uses_reference:
            self._ref = frames[packet.frame_count - 1]
        return frames[: packet.frame_count, : h.height, : h.width]
