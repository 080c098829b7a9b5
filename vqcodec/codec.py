"""The one place the stages meet: frames <-> tokens <-> probabilities <-> bytes.

    compress:   frames -> autoencoder.encode -> quantizer (first L levels) -> tokens
                tokens -> prior, group by group -> cdf -> range coder -> packet payload
    decompress: payload -> (prior, the same groups) -> tokens -> quantizer -> decoder -> frames

Bit-exactness rests on `_code_latent_frame`: ONE loop, used by both the
encoder and the decoder, runs the prior passes in the fixed group schedule on
the same tile batches; only the callback differs (encode the true symbols, or
decode them). The encoder therefore never computes probabilities the decoder
cannot reproduce (no teacher-forced pass).

A GOP (config.gop frames) is one packet. Prior context (the previous latent
frame) carries across GOPs inside an intra period and resets at its start. A
model with a reference branch (conditional coding, AutoencoderConfig.reference)
also hands its autoencoder the previous GOP's last decoded frame, reset at the
same place; FullEncoder decodes what it coded to get it (closed loop). The
prior never sees it, so the tokens stay bit-exact whatever the pixels do.

Which arithmetic turns the prior into tables is part of the format version:
streams of versions 1-3 were coded with the float prior (FloatTables, kept so
they still decode on the machine kind that wrote them); version 4 streams use
the integer prior (IntegerTables), the same on every machine.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np
import torch

from . import cdf
from .autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from .config import CodecConfig
from .container import (
    DEFAULT_LIMITS,
    FORMAT_VERSION,
    ContainerError,
    Limits,
    Mode,
    Packet,
    PacketType,
    StreamHeader,
    iter_packets,
)
from .entropy_coder import RangeDecoder, RangeEncoder
from .integer_prior import IntegerPrior
from .prior import Prior, checkerboard, from_tiles, schedule, to_tiles
from .quantizer import ResidualVQ
from .rounding import NearestRounding, nearest_symbols, rounding_for
from .scalar_quantizer import ScalarQuantizer


class CodecError(ValueError):
    """A stream that cannot be decoded by this codec (wrong model, mismatch)."""


class TokenMismatchError(CodecError):
    """Decoded tokens fail their CRC: the stream is damaged or the prior's
    probabilities differ from the encoder's."""


@dataclass(frozen=True)
class ModelId:
    name: str
    sha256: bytes  # of the weights file


@dataclass(frozen=True)
class CompressStats:
    frames: int
    width: int
    height: int
    quality: int
    bytes: int  # whole stream, header included
    bits_per_pixel: float
    payload_bits: int  # range-coder output only
    ideal_bits: float  # sum of -log2 p of the coded tokens under the prior
    raw_index_bits: float  # tokens * log2(K): cost without a prior
    tokens: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def tokens_crc(tokens: np.ndarray) -> int:
    """CRC32 of a token array (T', L, h, w) as little-endian uint16."""
    return zlib.crc32(np.ascontiguousarray(tokens, dtype="<u2").tobytes())


# Callback of the coding loop: (freq (P*per, K), logits (P*per, K), planes (the
# group's token planes, a slice of `per`), positions (P,) flat indices into
# h*w) -> symbols (P*per,), position-major (row i: position i // per, plane
# planes.start + i % per). per = 1 for RVQ (one level), C/G for scalar models.
CoderStep = Callable[[np.ndarray, np.ndarray, slice, np.ndarray], np.ndarray]


# The prior's arithmetic a stream is written with, and the format version that says so.
ARITHMETIC_VERSIONS = {"integer": FORMAT_VERSION, "float": 3}


def arithmetic_version(arithmetic: str) -> int:
    if arithmetic not in ARITHMETIC_VERSIONS:
        raise ValueError(f"unknown prior arithmetic {arithmetic!r} (choose integer or float)")
    return ARITHMETIC_VERSIONS[arithmetic]


class FloatTables:
    """Versions 1-3: float32 prior -> cdf.frequencies. Bit-exact only where the
    float arithmetic is identical (same kind of machine and library)."""

    def __init__(self, prior: Prior):
        self.prior = prior

    def logits(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        return self.prior(cur, prev, group)  # (B, S, K) float32

    def tables(self, lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """logits (P, K) -> (frequencies (P, K), float logits for the ideal-bits report)."""
        return cdf.frequencies(lg), lg


class IntegerTables:
    """Version 4: integer prior -> cdf.frequencies_from_fixed, integers end to end."""

    def __init__(self, prior: IntegerPrior):
        self.prior = prior

    def logits(self, cur: torch.Tensor, prev: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        return self.prior(cur, prev, group)  # (B, S, K) int64, FRAC fractional bits

    def tables(self, lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cdf.frequencies_from_fixed(lg, self.prior.frac), lg / float(1 << self.prior.frac)


class Codec:
    def __init__(
        self,
        config: CodecConfig,
        autoencoder: Autoencoder,
        quantizer: ResidualVQ | ScalarQuantizer,
        prior: Prior,
        model_id: ModelId,
        device: str = "cpu",
        tile_batch: int | None = None,
    ):
        """tile_batch: prior tiles per forward pass (None: all of a latent frame at once);
        fewer bound the memory of large frames. Streams do not depend on it (tested)."""
        if tile_batch is not None and tile_batch < 1:
            raise ValueError(f"tile_batch must be at least 1, got {tile_batch}")
        self.config, self.model_id, self.tile_batch = config, model_id, tile_batch
        self.device = torch.device(device)
        if self.device.type == "cuda":
            # TF32 would change the prior's arithmetic from the CPU's
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.autoencoder = autoencoder.to(self.device).eval()
        self.quantizer = quantizer.to(self.device).eval()
        self.prior = prior.to(self.device).eval()
        self._integer: IntegerTables | None = None
        # how a scalar model's encoder picks symbols (rounding.py); RVQ ignores it
        self.rounding: NearestRounding = rounding_for(None)

    def tables_for(self, version: int = FORMAT_VERSION) -> FloatTables | IntegerTables:
        """The probability arithmetic of a stream of format `version`."""
        if version < 4:
            return FloatTables(self.prior)
        if self._integer is None:  # converted once, on first use (milliseconds)
            self._integer = IntegerTables(IntegerPrior(self.prior).to(self.device))
        return self._integer

    # ------------------------------------------------------------ properties
    @property
    def qualities(self) -> list[int]:
        return self.config.qualities

    @property
    def factor_t(self) -> int:
        return self.config.autoencoder.factor_t

    @property
    def factor_s(self) -> int:
        return self.config.autoencoder.factor_s

    def use_rounding(self, lmbda: float | None) -> None:
        """How the encoder picks scalar symbols (rounding.py): None = the default
        (rate-distortion at DEFAULT_LAMBDA), 0 = nearest, else rate-distortion
        at lmbda. Streams decode the same way whatever the choice."""
        if lmbda is not None and not self.config.quantizer.scalar:
            raise ValueError("rate-distortion rounding (--rdo) needs a scalar-quantized model; "
                             f"{self.model_id.name!r} uses residual VQ")
        self.rounding = rounding_for(lmbda)

    # ------------------------------------------------------ frames <-> tokens
    def planes_at(self, quality: int) -> int:
        """Token planes a latent frame of `quality` holds: L levels (RVQ) or every channel (scalar)."""
        return self.config.quantizer.groups_at(quality) * self.prior.per

    @property
    def uses_reference(self) -> bool:
        """Whether inter GOPs are coded against the previous GOP's last decoded
        frame (AutoencoderConfig.reference, conditional coding)."""
        return self.config.autoencoder.reference

    def _reference(self, ref: np.ndarray | None) -> torch.Tensor | None:
        """uint8 (H, W, 3) decoded frame -> (1, 3, H, W) in [-0.5, 0.5], or None."""
        if ref is None:
            return None
        if not self.uses_reference:
            raise ValueError(f"model {self.model_id.name!r} codes every GOP alone: it takes no reference frame")
        return frames_to_tensor(torch.from_numpy(ref[None]).to(self.device))[:, :, 0]

    @torch.inference_mode()
    def _latents(self, frames: np.ndarray, quality: int, ref: np.ndarray | None) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> z (1, D, T', h, w)."""
        x = frames_to_tensor(torch.from_numpy(frames).to(self.device))
        return self.autoencoder.encoder(x, quality, self._reference(ref))

    @torch.inference_mode()
    def encode_tokens(self, frames: np.ndarray, quality: int, ref: np.ndarray | None = None) -> np.ndarray:
        """uint8 (T, H, W, 3), T a multiple of factor_t and H, W of factor_s
        -> int64 tokens (T/t, planes_at(quality), H/s, W/s). ref (H, W, 3)
        uint8: the previous GOP's last decoded frame, for a model that uses
        one (None: an intra GOP)."""
        idx = self.quantizer.encode(self._latents(frames, quality, ref), quality)  # (1, planes, T', h, w)
        return idx[0].permute(1, 0, 2, 3).cpu().numpy()

    @torch.inference_mode()
    def quantize(self, frames: np.ndarray, quality: int, ref: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 (T, H, W, 3) -> (tokens (T', planes, h, w) int64, latents): the
        nearest-symbol tokens, and for a scalar model whose encoder rounds by
        rate-distortion (self.rounding) the latents in steps, z / step, float32
        (T', planes, h, w), from which encode_payload picks the symbols it codes.
        latents is None when the tokens are final. ref: as encode_tokens'."""
        if not self.config.quantizer.scalar or type(self.rounding) is NearestRounding:
            return self.encode_tokens(frames, quality, ref), None
        z = self._latents(frames, quality, ref)[0].permute(1, 0, 2, 3).cpu().numpy()  # (T', D, h, w)
        u = z / np.float32(self.quantizer.step(quality))  # IEEE division: the quantizer's own u
        return nearest_symbols(u, self.config.quantizer.codebook_size), u

    @torch.inference_mode()
    def decode_tokens(self, tokens: np.ndarray, quality: int | None = None,
                      ref: np.ndarray | None = None) -> np.ndarray:
        """int64 tokens (T', planes, h, w) -> uint8 frames (T'*t, h*s, w*s, 3).
        quality: needed by scalar models (it picks the step); RVQ reads it
        from the token count. ref: the frame the encoder was given."""
        quality = self._quality_of(tokens, quality)
        idx = torch.from_numpy(np.ascontiguousarray(tokens)).to(self.device)
        z = self.quantizer.decode(idx.permute(1, 0, 2, 3).unsqueeze(0), quality)
        return tensor_to_frames(self.autoencoder.decoder(z, quality, self._reference(ref))).cpu().numpy()

    def _quality_of(self, tokens: np.ndarray, quality: int | None) -> int:
        """The quality of tokens (T', planes, h, w): given, or (RVQ only) their level count."""
        if quality is not None:
            return quality
        if self.config.quantizer.scalar:
            raise ValueError("scalar-quantized tokens need their quality")
        return tokens.shape[1]

    # --------------------------------------------- tokens <-> bits (the prior)
    @torch.inference_mode()
    def _code_latent_frame(self, prev: torch.Tensor, quality: int, step: CoderStep,
                           arith: FloatTables | IntegerTables, kind: int = 0) -> torch.Tensor:
        """Run the group schedule over one latent frame.

        prev: (planes, h, w) int64 tokens of the previous latent frame, MASK
        where absent; kind: 0 for an I latent frame, 1 for a P one (predictive
        models: every latent frame of a GOP after the first). Returns the
        frame's tokens (planes, h, w), MASK beyond planes_at(quality)."""
        N, h, w = prev.shape
        tile, mask, per = self.config.prior.tile, self.prior.mask_index, self.prior.per
        cur = torch.full_like(prev, mask)
        prev_tiles = to_tiles(prev, tile, mask)  # (n, N, S)
        n = prev_tiles.shape[0]
        board = checkerboard(h, w, prev.device).reshape(-1)  # (h*w,)
        for level, parity in schedule(self.config.quantizer.groups_at(quality)):
            gid = self.prior.group(kind, level, parity, quality)
            group = torch.full((n,), gid, dtype=torch.long, device=prev.device)
            cur_tiles, step_n = to_tiles(cur, tile, mask), self.tile_batch or n
            logits = torch.cat([arith.logits(cur_tiles[i:i + step_n], prev_tiles[i:i + step_n], group[i:i + step_n])
                                for i in range(0, n, step_n)])  # (n, S, per*K)
            grid = from_tiles(logits.transpose(1, 2), h, w, tile)  # (per*K, h, w)
            pos = torch.nonzero(board == bool(parity)).reshape(-1)  # (P,)
            rows = grid.reshape(per, -1, h * w)[:, :, pos].permute(2, 0, 1).reshape(pos.numel() * per, -1)
            freq, lg = arith.tables(rows.cpu().numpy())  # (P*per, K) each, position-major
            planes = slice(level * per, (level + 1) * per)
            sym = step(freq, lg, planes, pos.cpu().numpy())  # (P*per,)
            sym = torch.from_numpy(sym).to(cur.device).view(-1, per).t()  # (per, P)
            cur[planes].reshape(per, -1)[:, pos] = sym
        return cur

    def _empty_context(self, h: int, w: int) -> torch.Tensor:
        N = self.config.quantizer.planes
        return torch.full((N, h, w), self.prior.mask_index, dtype=torch.long, device=self.device)

    def encode_payload(self, tokens: np.ndarray, prev: torch.Tensor, version: int = FORMAT_VERSION,
                       quality: int | None = None, latents: np.ndarray | None = None,
                       ) -> tuple[bytes, float, torch.Tensor]:
        """tokens (T', planes, h, w) of `quality` (RVQ: None reads it from the
        token count); prev (planes, h, w) context. Returns (payload, ideal
        bits, context for the next GOP). With latents (quantize's, scalar
        models), self.rounding picks each symbol once its table is known and
        the chosen symbols are written back into `tokens`, which must then be
        a writable array: the caller's CRC covers what was coded."""
        enc, ideal, arith = RangeEncoder(), 0.0, self.tables_for(version)
        quality = self._quality_of(tokens, quality)
        w = tokens.shape[3]
        for f, frame in enumerate(tokens):  # (planes, h, w)
            flat = frame.reshape(frame.shape[0], -1)
            lat = None if latents is None else latents[f].reshape(latents.shape[1], -1)  # (planes, h*w)

            def step(freq, lg, planes, pos, flat=flat, lat=lat, frame=frame):
                nonlocal ideal
                if lat is None:
                    sym = np.ascontiguousarray(flat[planes][:, pos].T).reshape(-1)  # position-major
                else:  # choose, then record the choice where the CRC and the next groups see it
                    sym = self.rounding.choose(np.ascontiguousarray(lat[planes][:, pos].T).reshape(-1), freq)
                    ys, xs = np.divmod(pos, w)
                    frame[planes][:, ys, xs] = sym.reshape(-1, frame[planes].shape[0]).T
                enc.encode(sym, freq)
                ideal += cdf.ideal_bits(lg, sym)
                return sym

            prev = self._code_latent_frame(prev, quality, step, arith, self.config.quantizer.frame_kind(f))
        return enc.finish(), ideal, prev

    def decode_payload(
        self, payload: bytes, latent_frames: int, quality: int, prev: torch.Tensor,
        version: int = FORMAT_VERSION,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Inverse of encode_payload: -> (tokens (T', planes, h, w), next context)."""
        dec, arith = RangeDecoder(payload), self.tables_for(version)
        out, planes = [], self.planes_at(quality)
        for f in range(latent_frames):
            prev = self._code_latent_frame(prev, quality, lambda freq, lg, planes, pos: dec.decode(freq), arith,
                                           self.config.quantizer.frame_kind(f))
            out.append(prev[:planes].cpu().numpy())
        return np.stack(out), prev

    # ---------------------------------------------------------- whole streams
    def make_header(self, width: int, height: int, fps: Fraction, frame_count: int | None, quality: int,
                    version: int = FORMAT_VERSION) -> StreamHeader:
        return StreamHeader(
            model_name=self.model_id.name,
            weights_sha256=self.model_id.sha256,
            mode=Mode.FULL,
            width=width,
            height=height,
            fps=Fraction(fps),
            frame_count=frame_count,
            gop=self.config.gop,
            intra_period=self.config.intra_period,
            quality=quality,
            version=version,
        )

    def _padded(self, gop: np.ndarray) -> np.ndarray:
        """Edge-replicate a GOP (T, H, W, 3) to multiples of the latent factors."""
        T, H, W, _ = gop.shape
        t, s = self.factor_t, self.factor_s
        return np.pad(gop, ((0, -T % t), (0, -H % s), (0, -W % s), (0, 0)), mode="edge")

    def compress(
        self,
        frames: Iterable[np.ndarray],
        out: BinaryIO,
        width: int,
        height: int,
        fps: Fraction,
        quality: int,
        frame_count: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CompressStats:
        """Code frames ((H, W, 3) uint8 each) into `out` as a full-mode .vqv stream."""
        from .stream import StreamEncoder

        enc = StreamEncoder(width, height, fps, quality, mode="full", model=self, frame_count=frame_count)
        return enc.write(frames, out, progress)

    def check_header(self, header: StreamHeader) -> None:
        if header.model_name != self.model_id.name or header.weights_sha256 != self.model_id.sha256:
            raise CodecError(
                f"stream needs model {header.model_name!r} (sha256 {header.weights_sha256.hex()[:12]}...), "
                f"but {self.model_id.name!r} (sha256 {self.model_id.sha256.hex()[:12]}...) is loaded"
            )
        if header.quality not in self.qualities:
            raise CodecError(f"stream quality {header.quality} is not offered by this model")
        if header.mode == Mode.FULL and header.gop != self.config.gop:
            raise CodecError(f"stream GOP {header.gop} does not match the model's {self.config.gop}")

    def decompress(self, inp: BinaryIO, header: StreamHeader | None = None,
                   limits: Limits = DEFAULT_LIMITS) -> Iterator[np.ndarray]:
        """Yield decoded frames (n, H, W, 3) uint8, one array per packet, from a .vqv
        stream. Read the header first with StreamHeader.read to check it, or let this do
        it; `limits` bound what the stream may ask for (lower them for untrusted input)."""
        if header is None:
            header = StreamHeader.read(inp, limits)
        limits.check_header(header)
        self.check_header(header)
        decoder = self.packet_decoder(header)
        expected = 0
        for packet in iter_packets(inp, header, limits):
            if packet.kind == PacketType.END:
                break
            frames = decoder.push(packet)
            expected += packet.frame_count
            yield frames
        else:
            raise ContainerError(f"stream ends without an end packet after frame {expected}")
        if header.frame_count is not None and expected != header.frame_count:
            raise CodecError(f"stream holds {expected} frames; its header says {header.frame_count}")

    def packet_encoder(self, width: int, height: int, quality: int, version: int = FORMAT_VERSION) -> FullEncoder:
        return FullEncoder(self, width, height, quality, version)

    def packet_decoder(self, header: StreamHeader):
        """The decoder of header's mode: .push(packet) -> frames (n, H, W, 3) uint8."""
        if header.mode == Mode.LOWLATENCY:
            from .lowlatency import LowLatencyDecoder

            return LowLatencyDecoder(self, header)
        return FullDecoder(self, header)


class FullEncoder:
    """The full mode, frame by frame: every config.gop frames make one packet (a GOP);
    the prior's context carries across GOPs and resets at each intra period."""

    def __init__(self, codec: Codec, width: int, height: int, quality: int, version: int = FORMAT_VERSION):
        self.codec, self.quality, self.version = codec, quality, version
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
        tokens, latents = codec.quantize(codec._padded(gop), self.quality, self._ref)  # (T', L, h, w)
        if intra or self._prev is None:
            self._prev = codec._empty_context(tokens.shape[2], tokens.shape[3])
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
            self._prev, self._ref = self.codec._empty_context(self.h, self.w), None
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
