"""The engine for one model: frames <-> tokens <-> payload bytes.

    frames -> autoencoder.encode -> quantizer -> tokens (T', planes, h, w)
    tokens -> prior, group by group -> tables (coding/tables.py) -> range coder -> payload
    payload -> (prior, the same groups) -> tokens -> quantizer -> decoder -> frames

Bit-exactness rests on `code_latent_frame`: ONE loop, used by both the
encoder and the decoder, runs the prior passes in the fixed group schedule on
the same tile batches; only the callback differs (encode the true symbols, or
decode them). The encoder therefore never computes probabilities the decoder
cannot reproduce (no teacher-forced pass).

Codec knows no packets and no files: the coding modes (modes/) drive it
packet by packet, stream.py frames their packets, api.py reads and writes
files. Which arithmetic turns the prior into tables is part of the format
version (format/versions.py); `tables(version)` hands out the right one.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np
import torch

from .coding.fast_schedule import FastTables
from .coding.range_coder import FrequencyRows, RangeDecoder, RangeEncoder, TrimmedRangeEncoder
from .coding.rounding import NearestRounding, nearest_symbols, rounding_for
from .coding.tables import FloatTables, IntegerTables, Tables
from .config import CodecConfig
from .errors import CodecError
from .format.container import Mode, StreamHeader
from .format.versions import (DEFAULT_ARITHMETIC, arithmetic_of, coding_of, compact_packets, has_motion,
                               prior_kind_of, version_for)
from .models.autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from .models.fast_prior import FastPrior
from .models.prior import Prior, checkerboard, from_tiles, schedule, to_tiles
from .models.residual_vq import ResidualVQ
from .models.scalar_quantizer import ScalarQuantizer


@dataclass(frozen=True)
class ModelId:
    name: str
    sha256: bytes  # of the weights file


def range_encoder(version: int | None) -> RangeEncoder:
    """The range encoder of a stream of `version`: format v15's trims its bytes."""
    return TrimmedRangeEncoder() if version is not None and compact_packets(version) else RangeEncoder()


def range_decoder(payload: bytes, version: int | None) -> RangeDecoder:
    """range_encoder's reader."""
    trimmed = version is not None and compact_packets(version)
    return RangeDecoder.trimmed(payload) if trimmed else RangeDecoder(payload)


def tokens_crc(tokens: np.ndarray, head: bytes = b"") -> int:
    """CRC32 of `head` (format v14: an INTRA packet's quality byte) followed by a
    token array (T', L, h, w) as little-endian uint16."""
    return zlib.crc32(np.ascontiguousarray(tokens, dtype="<u2").tobytes(), zlib.crc32(head))


# Callback of the coding loop: (rows: the group's tables, FrequencyRows (v1-v4)
# or LaplaceRows (v5), planes (the group's token planes, a slice of `per`),
# positions (P,) flat indices into h*w) -> symbols (P*per,), position-major
# (row i: position i // per, plane planes.start + i % per). per = 1 for RVQ
# (one level), the group's channel count for scalar models.
CoderStep = Callable[[object, slice, np.ndarray], np.ndarray]


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
        self._integer: IntegerTables | FastTables | None = None  # made on first use (tables)
        # how a scalar model's encoder picks symbols (rounding.py); RVQ ignores it
        self.rounding: NearestRounding = rounding_for(None)

    @property
    def prior_kind(self) -> str:
        """"fast" (format v5) or "transformer" (v1-v4): which streams this model codes."""
        return "fast" if isinstance(self.prior, FastPrior) else "transformer"

    def _check_prior(self, version: int) -> None:
        """Raise CodecError unless this model's prior codes streams of format `version`."""
        if prior_kind_of(version) != self.prior_kind:
            raise CodecError(f"a format v{version} stream is coded with the {prior_kind_of(version)} prior; "
                             f"model {self.model_id.name!r} has the {self.prior_kind} prior")
        if has_motion(version) != self.uses_motion:
            raise CodecError(f"a format v{version} stream is coded {'with' if has_motion(version) else 'without'} "
                             f"motion-compensated steps; model {self.model_id.name!r} codes "
                             f"{'with' if self.uses_motion else 'without'} them")

    def version_for(self, arithmetic: str = DEFAULT_ARITHMETIC) -> int:
        """The format version this model writes with the prior's `arithmetic`."""
        return version_for(arithmetic, coding_of(self.prior_kind, self.uses_motion))

    def tables(self, version: int | None = None) -> Tables | FastTables:
        """The probability arithmetic of a stream of format `version` (None: the
        version this model writes by default)."""
        version = self.version_for(DEFAULT_ARITHMETIC) if version is None else version
        self._check_prior(version)
        if self.prior_kind == "fast":
            if self._integer is None:
                self._integer = FastTables(self.prior, self.tile_batch)
            return self._integer
        if arithmetic_of(version) == "float":
            return FloatTables(self.prior)
        if self._integer is None:  # converted once, on first use (milliseconds)
            self._integer = IntegerTables.of(self.prior, self.device)
        return self._integer

    def reset_tables(self) -> None:
        """Forget the integer prior converted from the weights: call after
        changing the prior's weights in place."""
        self._integer = None
        self.prior.train(False)  # the fast prior rounds its weights again when next used

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
        return self.config.quantizer.planes if self.config.quantizer.scalar else quality

    @property
    def uses_reference(self) -> bool:
        """Whether inter GOPs are coded against the previous GOP's last decoded
        frame (AutoencoderConfig.reference, conditional coding)."""
        return self.config.autoencoder.reference

    @property
    def uses_motion(self) -> bool:
        """Whether inter frames are coded as motion-compensated steps (AutoencoderConfig.motion, format v6)."""
        return self.config.autoencoder.motion

    def _reference(self, ref: np.ndarray | None) -> torch.Tensor | None:
        """uint8 (H, W, 3) decoded frame -> (1, 3, H, W) in [-0.5, 0.5]; a
        prediction clip (T, H, W, 3) -> (1, 3, T, H, W); or None."""
        if ref is None:
            return None
        if not self.uses_reference:
            raise ValueError(f"model {self.model_id.name!r} codes every GOP alone: it takes no reference frame")
        if ref.ndim == 4:
            return frames_to_tensor(torch.from_numpy(np.ascontiguousarray(ref)).to(self.device))
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
                      ref: np.ndarray | None = None, cond: tuple | None = None) -> np.ndarray:
        """int64 tokens (T', planes, h, w) -> uint8 frames (T'*t, h*s, w*s, 3).
        quality: needed by scalar models (it picks the step); RVQ reads it
        from the token count. ref: the frame the encoder was given; or cond,
        decoder_condition(ref, quality), to decode several candidates against one ref."""
        quality = self._quality_of(tokens, quality)
        idx = torch.from_numpy(np.ascontiguousarray(tokens)).to(self.device)
        z = self.quantizer.decode(idx.permute(1, 0, 2, 3).unsqueeze(0), quality)
        ref = None if cond is not None else self._reference(ref)
        return tensor_to_frames(self.autoencoder.decoder(z, quality, ref, cond=cond)).cpu().numpy()

    @torch.inference_mode()
    def decoder_condition(self, ref: np.ndarray, quality: int) -> tuple:
        """What the decoder takes from ref (decode_tokens'), whatever the tokens."""
        return self.autoencoder.decoder.condition(self._reference(ref), quality)

    def _quality_of(self, tokens: np.ndarray, quality: int | None) -> int:
        """The quality of tokens (T', planes, h, w): given, or (RVQ only) their level count."""
        if quality is not None:
            return quality
        if self.config.quantizer.scalar:
            raise ValueError("scalar-quantized tokens need their quality")
        return tokens.shape[1]

    # --------------------------------------------- tokens <-> bits (the prior)
    @torch.inference_mode()
    def code_latent_frame(self, prev: torch.Tensor, quality: int, step: CoderStep,
                          arith: Tables | FastTables, kind: int = 0, skip: np.ndarray | None = None) -> torch.Tensor:
        """Run the group schedule over one latent frame.

        prev: (planes, h, w) int64 tokens of the previous latent frame, MASK
        where absent; kind: 0 for an I latent frame, 1 for a P one (predictive
        models: every latent frame of a GOP after the first). Returns the
        frame's tokens (planes, h, w), MASK beyond planes_at(quality).
        Format v5 (FastTables) runs its own passes: fast_schedule.py, which also
        takes skip (h, w) bool: positions known to hold the zero symbol, not coded
        (format v8's kept tiles)."""
        if isinstance(arith, FastTables):
            return arith.code_latent_frame(prev, quality, step, skip)
        if skip is not None:
            raise ValueError("only the fast prior leaves positions uncoded")
        N, h, w = prev.shape
        tile, mask, per = self.config.prior.tile, self.prior.mask_index, self.prior.per
        cur = torch.full_like(prev, mask)
        prev_tiles = to_tiles(prev, tile, mask)  # (n, N, S)
        n = prev_tiles.shape[0]
        board = checkerboard(h, w, prev.device).reshape(-1)  # (h*w,)
        for level, parity in schedule(self.config.quantizer.groups_at(quality)):
            pos = torch.nonzero(board == bool(parity)).reshape(-1)  # (P,)
            if pos.numel() == 0:  # a 1-position-wide grid has no parity-1 squares
                continue
            gid = self.prior.group(kind, level, parity, quality)
            group = torch.full((n,), gid, dtype=torch.long, device=prev.device)
            cur_tiles, step_n = to_tiles(cur, tile, mask), self.tile_batch or n
            logits = torch.cat([arith.logits(cur_tiles[i:i + step_n], prev_tiles[i:i + step_n], group[i:i + step_n])
                                for i in range(0, n, step_n)])  # (n, S, per*K)
            grid = from_tiles(logits.transpose(1, 2), h, w, tile)  # (per*K, h, w)
            rows = grid.reshape(per, -1, h * w)[:, :, pos].permute(2, 0, 1).reshape(pos.numel() * per, -1)
            freq, lg = arith.tables(rows.cpu().numpy())  # (P*per, K) each, position-major
            planes = slice(level * per, (level + 1) * per)
            sym = step(FrequencyRows(freq, lg), planes, pos.cpu().numpy())  # (P*per,)
            sym = torch.from_numpy(sym).to(cur.device).view(-1, per).t()  # (per, P)
            cur[planes].reshape(per, -1)[:, pos] = sym
        return cur

    def empty_context(self, h: int, w: int) -> torch.Tensor:
        """The prior context (planes, h, w) of a latent frame with nothing before it."""
        N = self.config.quantizer.planes
        return torch.full((N, h, w), self.prior.mask_index, dtype=torch.long, device=self.device)

    def encode_payload(self, tokens: np.ndarray, prev: torch.Tensor, version: int | None = None,
                       quality: int | None = None, latents: np.ndarray | None = None,
                       ) -> tuple[bytes, float, torch.Tensor]:
        """tokens (T', planes, h, w) of `quality` (RVQ: None reads it from the
        token count); prev (planes, h, w) context. Returns (payload, ideal
        bits, context for the next GOP). With latents (quantize's, scalar
        models), self.rounding picks each symbol once its table is known and
        the chosen symbols are written back into `tokens`, which must then be
        a writable array: the caller's CRC covers what was coded."""
        enc, ideal = range_encoder(version), 0.0
        quality = self._quality_of(tokens, quality)
        for f, frame in enumerate(tokens):  # (planes, h, w)
            bits, prev = self.encode_frame(enc, frame, prev, version, quality,
                                           None if latents is None else latents[f], self.config.quantizer.frame_kind(f))
            ideal += bits
        return enc.finish(), ideal, prev

    def encode_frame(self, enc: RangeEncoder, frame: np.ndarray, prev: torch.Tensor, version: int | None,
                     quality: int, latents: np.ndarray | None = None, kind: int = 0,
                     skip: np.ndarray | None = None, position_bits: np.ndarray | None = None,
                     ) -> tuple[float, torch.Tensor]:
        """One latent frame (planes, h, w) into a running range encoder (which may
        hold other sections before and after it: the predicted steps' motion).
        latents (planes, h, w) or None: as encode_payload's; skip (h, w) bool or
        None: positions whose tokens are the zero symbol and are not coded (format
        v8); position_bits (h, w) float64 or None: each position's code length
        is added there (the fast prior's tables only; the tile choice reads it).
        -> (ideal bits, its tokens as context)."""
        arith, ideal, w = self.tables(version), 0.0, frame.shape[2]
        flat = frame.reshape(frame.shape[0], -1)
        lat = None if latents is None else latents.reshape(latents.shape[0], -1)  # (planes, h*w)

        def step(rows, planes, pos):
            nonlocal ideal
            if lat is None:
                sym = np.ascontiguousarray(flat[planes][:, pos].T).reshape(-1)  # position-major
            else:  # choose, then record the choice where the CRC and the next groups see it
                sym = self.rounding.choose(np.ascontiguousarray(lat[planes][:, pos].T).reshape(-1), rows)
                ys, xs = np.divmod(pos, w)
                frame[planes][:, ys, xs] = sym.reshape(-1, frame[planes].shape[0]).T
            rows.encode(enc, sym)
            if position_bits is None:
                ideal += rows.ideal_bits(sym)
            else:  # sym is position-major: (P, channels of the pass)
                per = rows.symbol_bits(sym).reshape(len(pos), -1).sum(1)
                position_bits.reshape(-1)[pos] += per
                ideal += float(per.sum())
            return sym

        prev = self.code_latent_frame(prev, quality, step, arith, kind, skip)
        return ideal, prev

    def decode_payload(
        self, payload: bytes, latent_frames: int, quality: int, prev: torch.Tensor,
        version: int | None = None,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Inverse of encode_payload: -> (tokens (T', planes, h, w), next context)."""
        dec, out = range_decoder(payload, version), []
        for f in range(latent_frames):
            tokens, prev = self.decode_frame(dec, prev, quality, version, self.config.quantizer.frame_kind(f))
            out.append(tokens)
        return np.stack(out), prev

    def decode_frame(self, dec: RangeDecoder, prev: torch.Tensor, quality: int, version: int | None,
                     kind: int = 0, skip: np.ndarray | None = None) -> tuple[np.ndarray, torch.Tensor]:
        """Inverse of encode_frame (the same skip): -> (tokens (planes, h, w), the context for the next)."""
        prev = self.code_latent_frame(prev, quality, lambda rows, planes, pos: rows.decode(dec),
                                      self.tables(version), kind, skip)
        return prev[:self.planes_at(quality)].cpu().numpy(), prev

    # ------------------------------------------------------------- streams
    def stream_header(self, mode: Mode, width: int, height: int, fps: Fraction, frame_count: int | None,
                      quality: int, gop: int, intra_period: int, version: int | None = None) -> StreamHeader:
        """The header of a stream this model codes (every mode builds its header here)."""
        version = self.version_for() if version is None else version
        return StreamHeader(
            model_name=self.model_id.name,
            weights_sha256=self.model_id.sha256,
            mode=mode,
            width=width,
            height=height,
            fps=Fraction(fps),
            frame_count=frame_count,
            gop=gop,
            intra_period=intra_period,
            quality=quality,
            version=version,
        )

    def padded(self, gop: np.ndarray) -> np.ndarray:
        """Edge-replicate frames (T, H, W, 3) to multiples of the latent factors."""
        T, H, W, _ = gop.shape
        t, s = self.factor_t, self.factor_s
        return np.pad(gop, ((0, -T % t), (0, -H % s), (0, -W % s), (0, 0)), mode="edge")

    def check_header(self, header: StreamHeader) -> None:
        """Raise CodecError unless this model decodes the stream `header` describes."""
        if header.model_name != self.model_id.name or header.weights_sha256 != self.model_id.sha256:
            raise CodecError(
                f"stream needs model {header.model_name!r} (sha256 {header.weights_sha256.hex()[:12]}...), "
                f"but {self.model_id.name!r} (sha256 {self.model_id.sha256.hex()[:12]}...) is loaded"
            )
        self._check_prior(header.version)
        if header.quality not in self.qualities:
            raise CodecError(f"stream quality {header.quality} is not offered by this model")
        if header.mode == Mode.FULL and header.gop != self.config.gop:
            raise CodecError(f"stream GOP {header.gop} does not match the model's {self.config.gop}")
