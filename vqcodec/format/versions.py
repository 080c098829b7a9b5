"""What each .vqv format version means: the one place that knows it.

    v1  full mode only
    v2  v1's bytes + the low-latency mode (header mode 1, PREDICTED packets)
    v3  v2 + HEADER packets (a copy of the stream header before every INTRA packet
        but the first): late join and resynchronisation after damage
    v4  v3's bytes; the payload's tokens are coded with the integer prior, whose
        tables are the same on every machine (v1-v3: the float prior)
    v5  v4's bytes; the payload is coded with the fast prior (models/fast_prior.py:
        one context pass per latent frame, four coding passes, Laplace tables,
        8-bit exact arithmetic). Only a model with the fast prior writes or
        reads v5; only a model with the transformer prior reads v1-v4.
    v6  v5's bytes; written by a model with motion-compensated coding
        (AutoencoderConfig.motion): a full-mode INTER packet holds predicted
        steps (modes/predicted.py: per step of factor_t frames a skip flag,
        the motion fields, and unless skipped the step's tokens, coded against
        the last decoded frame warped by the fields), all in one range-coded
        section. Only such a model reads or writes v6.
    v7  v6's bytes; the predicted steps' motion vectors may be in quarter pixels
        (motion_precision): the prediction samples the reference between
        pixels, bilinearly in integer arithmetic. The same models as v6.
    v8  v7's bytes; the tokens of a predicted step's kept tiles (the tiles whose
        map bit says they keep the prediction) are not coded: both sides know
        they are the zero symbol (kept_tiles_uncoded); tiles are 16 pixels in
        packets with motion blocks under 64 (modes/tile_skip.tile_size); the
        motion vector models start shaped around a zero residual, not flat
        (motion/side_info.SHAPE_PEAK). The same models as v6.
    v9  v8's bytes, but a full-mode INTRA packet's payload starts with a u8: the
        quality its step is coded at (intra_quality_coded). The encoder codes
        the intra step finer than the steps predicted from it. The same models as v6.
    v10 v9's bytes, but a predicted step's motion field and tile map are coded with
        context from the step before it in the packet (side_contexts; motion/side_info.py),
        and tiles are 8 pixels in packets with 16-pixel motion blocks (finest_tiles).
        The same models as v6.
    v11 v10's bytes, but a predicted step's prediction samples the reference between
        pixels with a 4-tap filter per quarter-pixel phase instead of bilinearly
        (subpel_filter; motion/interpolation.py). The same models as v6.
    v12 v11's bytes, but every pixel of a predicted step's motion block moves by its
        block's vector (v6-v11 interpolated the vectors between block centres;
        subpel_filter). The same models as v6.
    v13 v12's bytes, but after a predicted or skipped step's field, unless all its
        vectors are equal, one bit says whether its prediction overlaps the
        blocks' (motion/interpolation.FourTapOverlapped; overlap_flagged).
        The same models as v6.
    v14 v13's bytes, but a low-latency stream of a motion model is coded by the
        predicted steps of the full mode (lowlatency_predicted; modes/lowlatency.py):
        INTRA packets (a step coded alone) and INTER packets (predicted, skipped
        or intra steps), of at most the header's gop frames each. A header gop
        under the model's factor_t means one-frame steps (latency 0): each frame
        is repeated to fill a step, and its prediction holds the whole field.
        Packets but HEADER ones have 16-byte heads without a payload CRC
        (short_packet_heads; format/packet_heads.py). The same models as v6.
    v15 v14's packets, framed shorter (compact_packets): a packet but a HEADER one has
        a compact head of 6-10 bytes (format/packet_heads.py: no sync bytes and no
        first frame, field widths in its lead byte), an INTER packet's step modes
        head is 1 byte for a one-step packet (format/step_modes.py), and the
        range-coded sections are written in big-endian words whose trailing zero
        bytes are dropped, the last word chosen with as many as it allows
        (coding/range_coder.py). The predicted steps' side information (its
        adaptive models, the previous step's field and tile map) carries on from
        packet to packet of an intra period instead of starting afresh in each
        (side_info_carried). The same models as v6; the encoder prices the side
        information against the carried models, so its choices may differ from v14's.

This build writes v15 with a motion-compensated model, v5 with a fast-prior model, v4 (or v3 with the float prior,
on request) with a transformer-prior model, and reads v1-v15.
"""
from __future__ import annotations

FORMAT_VERSION = 15  # what this build writes with the shipped default
READABLE_VERSIONS = tuple(range(1, 16))

# The prior's arithmetic a stream is written with, and the version that says so,
# for each kind of prior (PriorConfig.kind).
# "motion": the fast prior with motion-compensated coding (AutoencoderConfig.motion)
ARITHMETIC_VERSIONS = {"motion": {"integer": 15}, "fast": {"integer": 5}, "transformer": {"integer": 4, "float": 3}}
ARITHMETICS = ("integer", "float")  # the choices users see (CLI, StreamEncoder)
DEFAULT_ARITHMETIC = "integer"


def check_arithmetic(arithmetic: str) -> None:
    """Raise ValueError unless `arithmetic` is one of ARITHMETICS (before any model loads)."""
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"unknown prior arithmetic {arithmetic!r} (choose {' or '.join(ARITHMETICS)})")


def coding_of(prior_kind: str, motion: bool) -> str:
    """A model's key into ARITHMETIC_VERSIONS: "motion", "fast" or "transformer"."""
    return "motion" if motion else prior_kind


def version_for(arithmetic: str, prior_kind: str = "fast") -> int:
    """The format version a stream coded with the prior's `arithmetic` carries
    (prior_kind: a key of ARITHMETIC_VERSIONS, coding_of's)."""
    check_arithmetic(arithmetic)
    versions = ARITHMETIC_VERSIONS[prior_kind]
    if arithmetic not in versions:
        raise ValueError(f"the {prior_kind} prior computes in {' or '.join(versions)} arithmetic only "
                         f"(format v{min(versions.values())}); {arithmetic!r} is for models with the "
                         f"transformer prior")
    return versions[arithmetic]


def arithmetic_of(version: int) -> str:
    """The prior's arithmetic of a stream of format `version`: "integer" or "float"."""
    return "integer" if version >= 4 else "float"


def prior_kind_of(version: int) -> str:
    """The kind of prior a stream of format `version` is coded with: "fast" or "transformer"."""
    return "fast" if version >= 5 else "transformer"


def has_motion(version: int) -> bool:
    """Whether a stream of `version` is coded with motion-compensated predicted steps."""
    return version >= 6


def motion_precision(version: int) -> int:
    """Steps of a pixel a predicted step's motion vector counts in: 1 (whole
    pixels, v6) or 4 (quarter pixels, v7: each moving field says whether it
    uses them). Against whole pixels, held-out bikes needs 11.0 % fewer bits
    for the same PSNR with quarter pixels (half: 11.5 % fewer) and a camera
    pan 0.9 % more (half: 11.1 % more)
    (benchmarks/results/predictive/subpel/README.md)."""
    return 4 if version >= 7 else 1


def kept_tiles_uncoded(version: int) -> bool:
    """Whether a stream of `version` leaves the tokens of a predicted step's kept
    tiles out of the range coder (v8; its other changes go with it: 16-pixel
    tiles with finer motion, shaped vector models). Before, they were coded as zero symbols:
    on held-out bikes they cost 3.8 % of the stream at quality 3 and 1.9 % at 6,
    on synthetic:static 9.0 % at 3 (docs/history.md)."""
    return version >= 8


def intra_quality_coded(version: int) -> bool:
    """Whether a full-mode INTRA packet of a stream of `version` (a motion model's)
    starts with the quality its step is coded at (v9; before, the stream's quality).
    The encoder codes the intra step 1 quality finer (PredictedEncoder.INTRA_BOOST):
    synthetic:static needs 6.3 % fewer bits for the same PSNR, held-out bikes 0.1 %
    fewer (docs/history.md, "A finer intra step")."""
    return version >= 9


def side_contexts(version: int) -> bool:
    """Whether a stream of `version` codes a predicted step's field and tile map
    with context from the step before it in the packet (v10): each vector
    predicted by the median of its left and upper neighbours and the previous
    field's vector of its block, each map bit by one of 9 models chosen by the
    bit above it and the previous map's bit (motion/side_info.py)."""
    return version >= 10


def finest_tiles(version: int) -> bool:
    """Whether a stream of `version` uses 8-pixel tiles in packets whose motion
    blocks are 16 pixels (v10; v8 and v9: 16-pixel tiles there;
    modes/tile_skip.tile_size)."""
    return version >= 10


def subpel_filter(version: int) -> str:
    """How a predicted step's prediction moves the reference in a stream of
    `version`, a key of motion/interpolation.FILTERS: "bilinear" (v6-v10: vectors
    interpolated between block centres, bilinear between pixels), "four-tap"
    (v11: the 4-tap filter between pixels) or "four-tap-blocks" (v12: and each
    block's pixels moved by its own vector). With the same model and encoder,
    v11 needs 4.0 % fewer bits at equal PSNR than v10 on held-out bikes, 1.0 %
    fewer on a camera pan and 0.1 % more on synthetic:static; v12 8.5 % and
    16.6 % fewer than v11 on bikes and static (docs/history.md)."""
    return "four-tap-blocks" if version >= 12 else "four-tap" if version >= 11 else "bilinear"


def overlap_flagged(version: int) -> bool:
    """Whether a predicted or skipped step of a stream of `version` says, after a
    field whose vectors are not all equal, whether its prediction overlaps the
    blocks' (v13: the "four-tap-overlapped" filter, chosen by the encoder per
    step). Same model and encoder otherwise: held-out bikes -2.4 %,
    synthetic:static +0.2 % against v12 (docs/history.md, "Overlapped blocks")."""
    return version >= 13


def lowlatency_predicted(version: int) -> bool:
    """Whether a low-latency stream of `version` (a motion model's) is coded by
    predicted steps with tokens (v14), not by keyframes with motion-compensated
    frames between them (v2-v13: modes/lowlatency.py's keyframe path). On
    held-out bikes the keyframe path stays under 21 dB at any rate; the
    predicted steps reach the full mode's qualities (docs/history.md)."""
    return version >= 14


def short_packet_heads(version: int) -> bool:
    """Whether the packets of a stream of `version` but its HEADER packets have the
    16-byte head without a payload CRC (v14; format/packet_heads.py), not the
    25-byte one. A full-mode INTRA packet's tokens CRC then also covers its
    quality byte, and an INTER packet's its step modes head."""
    return version >= 14


def compact_packets(version: int) -> bool:
    """Whether the packets of a stream of `version` but its HEADER packets are framed
    compactly (v15): a head of 6-10 bytes instead of 16, a 1-byte step modes head
    for a one-step INTER packet instead of 3, and range-coded sections without the
    trailing zero bytes their decoder reads anyway. A one-frame packet of the
    low-latency mode at latency 0 carried 23 bytes of framing in v14 (16 head, 3
    step modes, 4 range coder flush), 8-12 in v15 (docs/history.md)."""
    return version >= 15


def side_info_carried(version: int) -> bool:
    """Whether the side information of a stream of `version`'s predicted steps
    (the adaptive models of fields, flags and tile maps, and the previous step's
    field and map that v10's contexts lean on) carries on from one INTER packet
    to the next, starting afresh at each INTRA packet (v15), instead of at each
    packet. An INTER packet needs the packet before it anyway (its reference
    frame and the prior's context); the low-latency mode's one-step packets
    then get v10's contexts and learnt models too (docs/history.md)."""
    return version >= 15


def has_header_copies(version: int) -> bool:
    """Whether a stream of `version` repeats its header before each INTRA packet."""
    return version >= 3


def has_lowlatency(version: int) -> bool:
    return version >= 2
