import hashlib
import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec.format.container import (
    DEFAULT_LIMITS, ContainerError, CorruptHeader, CorruptPacket, LimitExceeded, Limits, Mode,
    NotAVqvFile, Packet, PacketCrcError, PacketReader, PacketType, StreamHeader, TruncatedStream,
    UnsupportedVersion, iter_packets, same_stream,
)

GOLDEN = Path(__file__).parent / "expected" / "container_v1.vqv"
GOLDEN_V2 = Path(__file__).parent / "expected" / "container_v2.vqv"
GOLDEN_V3 = Path(__file__).parent / "expected" / "container_v3.vqv"
INTRA, INTER, END = PacketType.INTRA, PacketType.INTER, PacketType.END
HEADER = PacketType.HEADER
PREDICTED = PacketType.PREDICTED


def make_header(**changes) -> StreamHeader:
    """A version-1 header (the golden file's; v2 keeps v1's layout), unless changed."""
    fields = dict(model_name="default", weights_sha256=hashlib.sha256(b"vqcodec golden").digest(),
                  mode=Mode.FULL, width=64, height=48, fps=Fraction(30000, 1001), frame_count=20,
                  gop=8, intra_period=16, quality=2, version=1)
    fields.update(changes)
    return StreamHeader(**fields)


def end(total: int) -> Packet:
    return Packet(END, total, 0, b"", 0)


def golden_packets() -> list[Packet]:
    # 20 frames, gop 8, intra period 16: INTRA 0-7, INTER 8-15, INTRA 16-19 (short), END.
    return [Packet(INTRA, 0, 8, b"intra gop 0" * 3, 0x11111111),
            Packet(INTER, 8, 8, b"inter", 0x22222222),
            Packet(INTRA, 16, 4, bytes(range(40)), 0xDEADBEEF),
            end(20)]


def stream(header: StreamHeader, packets: list[Packet]) -> bytes:
    return header.to_bytes() + b"".join(p.to_bytes() for p in packets)


def golden_stream() -> bytes:
    """The bytes pinned in tests/expected/container_v1.vqv (written once, never regenerated)."""
    return stream(make_header(), golden_packets())


H = make_header().size  # offset of the first packet
P1 = H + 25 + len(golden_packets()[0].payload)  # offset of the INTER packet at frame 8


def read_all(data: bytes, limits: Limits = DEFAULT_LIMITS):
    f = io.BytesIO(data)
    header = StreamHeader.read(f, limits)
    return header, list(iter_packets(f, header, limits))


def patch_header(data: bytes, fmt: str, offset: int, value) -> bytes:
    """Overwrite one header field and recompute the header CRC, so only the value is wrong."""
    raw = bytearray(data)
    struct.pack_into(fmt, raw, offset, value)
    n = struct.unpack_from("<H", raw, 6)[0]
    struct.pack_into("<I", raw, n - 4, zlib.crc32(raw[: n - 4]))
    return bytes(raw)


def patch_packet(packet: bytes, fmt: str, offset: int, value) -> bytes:
    raw = bytearray(packet)
    struct.pack_into(fmt, raw, offset, value)
    struct.pack_into("<I", raw, 21, zlib.crc32(raw[:21]))
    return bytes(raw)


class RecordingReader(io.BytesIO):
    """Records every size asked of read(); with `trickle`, returns one byte at a time (a pipe)."""

    def __init__(self, data: bytes, trickle: bool = False):
        super().__init__(data)
        self.sizes: list[int] = []
        self.trickle = trickle

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(1 if self.trickle and size != 0 else size)


# --- round trips and golden bytes -------------------------------------------------------------

def test_header_round_trip():
    h = make_header(mode=Mode.LOWLATENCY, model_name="cam-ü", version=2)
    data = h.to_bytes()
    assert len(data) == h.size == 64 + len("cam-ü".encode()) + 4
    assert StreamHeader.from_bytes(data) == h


def test_unknown_frame_count_round_trips():
    h = make_header(frame_count=None)
    data = h.to_bytes()
    assert struct.unpack_from("<I", data, 22)[0] == 0xFFFFFFFF
    assert StreamHeader.from_bytes(data).frame_count is None
    # A live stream may stop on any packet boundary without END.
    packets = golden_packets()[:2]
    assert read_all(stream(h, packets)) == (h, packets)


def test_packet_round_trip():
    assert read_all(golden_stream()) == (make_header(), golden_packets())


def test_layout_matches_the_spec_table():
    # Packed independently from the spec, so the golden file is not only self-consistent.
    h = make_header()
    body = (b"VQVC" + struct.pack("<HHBBHHIIIHHB", 1, 75, 0, 0, 64, 48, 30000, 1001, 20, 8, 16, 2)
            + h.weights_sha256 + bytes([7]) + b"default")
    assert h.to_bytes() == body + struct.pack("<I", zlib.crc32(body))
    head = b"PK" + struct.pack("<BIHIII", 2, 8, 8, 5, zlib.crc32(b"inter"), 0x22222222)
    assert golden_packets()[1].to_bytes() == head + struct.pack("<I", zlib.crc32(head)) + b"inter"


def test_golden_bytes():
    assert GOLDEN.exists(), f"{GOLDEN} is missing: it was pinned once from golden_stream()"
    data = GOLDEN.read_bytes()
    assert data == golden_stream()
    assert read_all(data) == (make_header(), golden_packets())


def test_reader_tracks_offsets():
    data = golden_stream()
    f = io.BytesIO(data)
    reader = PacketReader(f, StreamHeader.read(f))
    assert reader.offset == H
    assert reader.read_packet() == golden_packets()[0]
    assert (reader.offset, reader.next_frame) == (P1, 8)
    list(reader)
    assert (reader.offset, reader.next_frame, reader.ended) == (len(data), 20, True)
    assert reader.read_packet() is None


def test_nothing_after_end_is_read():
    f = io.BytesIO(golden_stream() + b"more stream")
    list(iter_packets(f, StreamHeader.read(f)))
    assert f.read() == b"more stream"


def test_short_reads_like_a_pipe():
    f = RecordingReader(golden_stream(), trickle=True)
    header = StreamHeader.read(f)
    assert (header, list(iter_packets(f, header))) == (make_header(), golden_packets())


def test_all_frames_without_end_is_complete():
    packets = golden_packets()[:3]
    assert read_all(stream(make_header(), packets))[1] == packets


def test_header_read_asks_for_exactly_its_bytes():
    f = RecordingReader(golden_stream())
    StreamHeader.read(f)
    assert f.tell() == sum(f.sizes) == H


# --- errors -----------------------------------------------------------------------------------

def test_wrong_magic():
    for data in (b"\x89PNG" + golden_stream()[4:], b"", b"x"):
        with pytest.raises(NotAVqvFile, match=r"^not a \.vqv file"):
            read_all(data)


def test_version_16():
    data = patch_header(golden_stream(), "<H", 4, 16)
    with pytest.raises(UnsupportedVersion,
                       match=r"^unsupported \.vqv version 16 \(this build reads versions 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 15\)$") as e:
        read_all(data)
    assert (e.value.found, e.value.supported) == (16, tuple(range(1, 16)))


# --- version 2: the low-latency mode ------------------------------------------------------------

def lowlatency_header(**changes) -> StreamHeader:
    return make_header(**({"mode": Mode.LOWLATENCY, "version": 2, "frame_count": 12} | changes))


def lowlatency_packets() -> list[Packet]:
    # keyframe 0 alone; frames 1-2 predicted; 3-8 interpolated before keyframe 8; INTER 9-11 ending in key 11
    return [Packet(INTRA, 0, 1, b"key 0", 0x01020304),
            Packet(PREDICTED, 1, 2, b"pred", 0x05060708),
            Packet(INTER, 3, 6, b"segment", 0x0A0B0C0D),
            Packet(INTER, 9, 3, b"last", 0),
            end(12)]


def test_new_headers_are_version_15():
    h = StreamHeader(**{**make_header().__dict__, "version": 2})
    assert StreamHeader(**{k: v for k, v in make_header().__dict__.items() if k != "version"}).version == 15
    assert h.to_bytes()[4:6] == b"\x02\x00"
    assert h.to_bytes()[6:] == make_header().to_bytes()[6:-4] + h.to_bytes()[-4:]  # same layout


def test_golden_v2_bytes():
    """The bytes pinned in tests/expected/container_v2.vqv (written once, never regenerated)."""
    data = stream(lowlatency_header(), lowlatency_packets())
    assert GOLDEN_V2.read_bytes() == data
    header, packets = read_all(data)
    assert (header, packets) == (lowlatency_header(), lowlatency_packets())


def test_v1_still_reads_and_keeps_its_version():
    header, packets = read_all(GOLDEN.read_bytes())
    assert header.version == 1 and packets == golden_packets()
    assert header.to_bytes() == GOLDEN.read_bytes()[:H]  # rewriting a v1 header keeps it v1


def test_v1_cannot_carry_the_lowlatency_mode():
    data = patch_header(stream(lowlatency_header(), lowlatency_packets()), "<H", 4, 1)
    with pytest.raises(CorruptHeader, match="^mode LOWLATENCY needs format version 2, the stream says 1$"):
        read_all(data)
    with pytest.raises(CorruptHeader, match="needs format version 2"):
        lowlatency_header(version=1)


@pytest.mark.parametrize("packets,message", [
    ([Packet(PREDICTED, 0, 1, b"", 0)], "stream starts with a PREDICTED packet at frame 0"),
    ([Packet(INTER, 0, 1, b"", 0)], "stream starts with a INTER packet at frame 0"),
    ([Packet(INTRA, 0, 9, b"", 0)], r"segment of 9 frames at frame 0 \(gop is 8\)"),
    ([Packet(INTRA, 0, 1, b"", 0), Packet(PREDICTED, 2, 1, b"", 0)], "PREDICTED packet starts at frame 2, expected 1"),
])
def test_lowlatency_order_is_checked(packets, message):
    with pytest.raises(CorruptPacket, match=message):
        read_all(stream(lowlatency_header(), packets))


# --- version 3: HEADER packets, where a late decoder can join ---------------------------------

def v3_header(**changes) -> StreamHeader:
    return make_header(**({"version": 3, "frame_count": None} | changes))


def v3_packets(h: StreamHeader) -> list[Packet]:
    # the v1 golden's GOPs, and a copy of the header before the second INTRA packet
    p = golden_packets()
    return p[:2] + [Packet.header_copy(h, 16)] + p[2:]


def test_golden_v3_bytes():
    """The bytes pinned in tests/expected/container_v3.vqv (written once, never regenerated)."""
    h = v3_header()
    data = stream(h, v3_packets(h))
    assert GOLDEN_V3.read_bytes() == data
    assert read_all(data) == (h, golden_packets())  # iteration skips the HEADER packet
    f = io.BytesIO(data)
    reader = PacketReader(f, StreamHeader.read(f))
    kinds = [p.kind for p in iter(reader.read_packet, None)]  # read_packet returns it
    assert kinds == [INTRA, INTER, HEADER, INTRA, END]


def test_header_copy_knows_no_frame_count():
    h = v3_header(frame_count=20)
    copy = Packet.header_copy(h, 16)
    assert (copy.kind, copy.first_frame, copy.frame_count, copy.tokens_crc) == (HEADER, 16, 0, 0)
    assert StreamHeader.from_bytes(copy.payload) == v3_header() and same_stream(h, v3_header())
    assert read_all(stream(h, v3_packets(h)))[1] == golden_packets()  # the header's count rules
    with pytest.raises(CorruptPacket, match="^HEADER packet must have no frames and tokens_crc 0$"):
        Packet(HEADER, 16, 1, copy.payload, 0)


@pytest.mark.parametrize("copy,message", [
    (Packet.header_copy(v3_header(quality=3), 16), "HEADER packet does not repeat the stream header"),
    (Packet(HEADER, 16, 0, b"not a header", 0), r"HEADER packet: not a \.vqv file"),
    (Packet(HEADER, 16, 0, b"", 0), "HEADER packet must have no frames"),
    (Packet.header_copy(v3_header(), 8), "HEADER packet starts at frame 8, expected 16"),
])
def test_header_packets_are_checked(copy, message):
    p = golden_packets()
    with pytest.raises(CorruptPacket, match=message):
        read_all(stream(v3_header(), p[:2] + [copy] + p[2:]))


def test_header_packet_must_precede_an_intra_packet():
    h = v3_header()
    packets = [Packet(INTRA, 0, 8, b"x", 0), Packet.header_copy(h, 8), Packet(INTER, 8, 8, b"x", 0)]
    with pytest.raises(CorruptPacket, match=r"INTER packet after a HEADER packet \(expected INTRA\)"):
        read_all(stream(h, packets))
    cut = stream(h, packets[:2])  # a stream may not stop between the copy and its INTRA packet
    with pytest.raises(TruncatedStream):
        read_all(cut)


def test_header_packets_need_version_3():
    h = make_header(version=2)
    p = golden_packets()
    with pytest.raises(CorruptPacket, match="HEADER packet in a version 2 stream"):
        read_all(stream(h, p[:2] + [Packet.header_copy(v3_header(), 16)] + p[2:]))


def test_a_late_reader_starts_at_a_header_packet():
    h = v3_header()
    data = stream(h, v3_packets(h))
    at = data.index(Packet.header_copy(h, 16).to_bytes())
    reader = PacketReader(io.BytesIO(data[at:]), h)
    reader.join(at, 16)
    assert [p.kind for p in iter(reader.read_packet, None)] == [HEADER, INTRA, END]
    reader = PacketReader(io.BytesIO(data[at + len(Packet.header_copy(h, 16).to_bytes()):]), h)
    reader.join(at, 16)
    assert [p.kind for p in iter(reader.read_packet, None)] == [INTRA, END]


def test_check_head_consumes_nothing_and_refuses_a_lying_length():
    h = v3_header()
    reader = PacketReader(None, h)
    head = Packet(INTRA, 0, 8, b"abc", 0).to_bytes()[:25]
    assert reader.check_head(head) == 3 and (reader.offset, reader.next_frame) == (h.size, 0)
    lying = patch_packet(head, "<I", 9, 1 << 30)
    with pytest.raises(LimitExceeded, match="payload_len 1073741824 exceeds the limit"):
        reader.check_head(lying)


def test_predicted_packets_are_refused_in_full_mode():
    packets = [Packet(INTRA, 0, 8, b"", 0), Packet(PREDICTED, 8, 8, b"", 0)]
    with pytest.raises(CorruptPacket, match="PREDICTED packet in a full-mode stream"):
        read_all(stream(make_header(), packets))


def test_header_crc_flip():
    data = bytearray(golden_stream())
    data[12] ^= 0x01  # height
    with pytest.raises(CorruptHeader, match="^header CRC mismatch$"):
        read_all(bytes(data))


@pytest.mark.parametrize("fmt,offset,value,message", [
    ("<H", 10, 0, "width must be at least 1, got 0"),
    ("<I", 18, 0, "fps 30000/0 must be positive and in lowest terms"),
    ("<I", 14, 0, "fps 0/1001 must be positive"),
    ("<H", 28, 12, "intra_period 12 is not a multiple of gop 8"),
    ("B", 8, 7, "unknown mode 7"),
    ("B", 9, 3, "unknown pix_fmt 3"),
    ("B", 30, 0, "quality must be at least 1, got 0"),
    ("B", 63, 6, "header_len 75 does not match name_len 6"),
    ("4s", 64, b"\xff\xfe\xfd\xfc", "model name is not valid UTF-8"),
])
def test_invalid_header_values(fmt, offset, value, message):
    with pytest.raises(CorruptHeader, match=f"^{message}"):
        read_all(patch_header(golden_stream(), fmt, offset, value))


def test_header_len_out_of_range():
    data = bytearray(golden_stream())
    struct.pack_into("<H", data, 6, 60000)
    f = RecordingReader(bytes(data))
    with pytest.raises(CorruptHeader, match=r"^header_len 60000 is outside 69\.\.132$"):
        StreamHeader.read(f)
    assert max(f.sizes) == 8  # rejected before reading the rest


def test_fps_not_in_lowest_terms():
    data = patch_header(patch_header(golden_stream(), "<I", 14, 60), "<I", 18, 2)
    with pytest.raises(CorruptHeader, match="^fps 60/2 must be positive and in lowest terms$"):
        read_all(data)


def test_from_bytes_rejects_trailing_bytes():
    with pytest.raises(CorruptHeader, match="^3 unexpected bytes after the header$"):
        StreamHeader.from_bytes(make_header().to_bytes() + b"abc")


def test_bad_header_cannot_be_built():
    with pytest.raises(CorruptHeader, match="^width must be at least 1, got 0$"):
        make_header(width=0)
    with pytest.raises(LimitExceeded, match="^width 100000 exceeds the limit of 65535$"):
        make_header(width=100000)
    with pytest.raises(CorruptHeader, match="^intra_period 20 is not a multiple of gop 8$"):
        make_header(intra_period=20)
    with pytest.raises(CorruptHeader, match="^model name must be 1..64 bytes of UTF-8, got 65$"):
        make_header(model_name="x" * 65)
    with pytest.raises(CorruptHeader, match="^weights_sha256 must be 32 raw bytes$"):
        make_header(weights_sha256=b"short")
    with pytest.raises(CorruptHeader, match="^fps must be a positive Fraction, got 30.0$"):
        make_header(fps=30.0)
    with pytest.raises(CorruptHeader, match="^unknown mode 5$"):
        make_header(mode=5)
    assert make_header(mode=1, version=2).mode is Mode.LOWLATENCY


def test_bad_packet_cannot_be_built():
    with pytest.raises(CorruptPacket, match="^END packet must have no frames"):
        Packet(END, 8, 1, b"", 0)
    with pytest.raises(CorruptPacket, match="^unknown type 9$"):
        Packet(9, 0, 8, b"", 0)
    with pytest.raises(CorruptPacket, match="^frame_count must be at least 1, got 0$"):
        Packet(INTRA, 0, 0, b"", 0)
    with pytest.raises(CorruptPacket, match="^payload must be bytes, got str$"):
        Packet(INTRA, 0, 8, "text", 0)
    with pytest.raises(LimitExceeded, match="^tokens_crc 4294967296 exceeds the limit"):
        Packet(INTRA, 0, 8, b"", 1 << 32)


def test_width_over_limit():
    data = patch_header(golden_stream(), "<H", 10, 10000)
    with pytest.raises(LimitExceeded, match="^width 10000 exceeds the limit of 8192$") as e:
        read_all(data)
    assert (e.value.field, e.value.value, e.value.limit) == ("width", 10000, 8192)
    assert read_all(data, Limits(max_width=10000))[0].width == 10000
    with pytest.raises(LimitExceeded, match="^gop 8 exceeds the limit of 4$"):
        read_all(golden_stream(), Limits(max_gop=4))
    with pytest.raises(LimitExceeded, match="^frame_count 20 exceeds the limit of 10$"):
        read_all(golden_stream(), Limits(max_frames=10))
    live = stream(make_header(frame_count=None), golden_packets()[:2])
    with pytest.raises(LimitExceeded, match="^frame count 16 exceeds the limit of 10$"):
        read_all(live, Limits(max_frames=10))


def test_payload_crc_flip():
    data = bytearray(golden_stream())
    data[P1 + 25] ^= 0x80  # first payload byte of the INTER packet at frame 8
    with pytest.raises(PacketCrcError,
                       match=rf"^payload CRC mismatch at frame 8 \(packet at byte {P1}\)$") as e:
        read_all(bytes(data))
    assert (e.value.offset, e.value.frame) == (P1, 8)


def test_bad_sync_and_packet_header_crc():
    data = bytearray(golden_stream())
    data[H] = ord("Q")
    with pytest.raises(CorruptPacket,
                       match=rf"^corrupt packet at byte {H}: bad sync 0x514b \(expected PK\)$"):
        read_all(bytes(data))
    data = bytearray(golden_stream())
    data[H + 3] ^= 0x01  # first_frame
    with pytest.raises(CorruptPacket,
                       match=rf"^corrupt packet at byte {H}: packet header CRC mismatch$") as e:
        read_all(bytes(data))
    assert (e.value.offset, e.value.frame) == (H, 0)


def test_unknown_packet_type():
    packet = patch_packet(Packet(INTRA, 0, 8, b"", 0).to_bytes(), "B", 2, 9)
    with pytest.raises(CorruptPacket, match=rf"^corrupt packet at byte {H}: unknown packet type 9"):
        read_all(make_header().to_bytes() + packet)


@pytest.mark.parametrize("packets,message", [
    ([Packet(INTER, 0, 8, b"x", 0)], r"stream starts with a INTER packet at frame 0"),
    ([Packet(INTRA, 1, 8, b"x", 0)], "INTRA packet starts at frame 1, expected 0"),
    ([Packet(INTRA, 0, 9, b"x", 0)], r"GOP of 9 frames at frame 0 \(gop is 8\)"),
    ([Packet(INTRA, 0, 4, b"x", 0), Packet(INTER, 4, 8, b"x", 0)],
     r"GOP of 8 frames at frame 4 \(gop is 8\)"),  # a short GOP that is not the last
    ([Packet(INTRA, 0, 8, b"x", 0), end(8)], "stream ends at frame 8, the header says 20 frames"),
    ([Packet(INTRA, 0, 8, b"", 0), Packet(INTRA, 8, 8, b"", 0)], "INTRA packet at frame 8"),
    ([Packet(INTRA, 0, 8, b"", 0), Packet(INTER, 8, 8, b"", 0), Packet(INTRA, 16, 8, b"", 0)],
     "GOP ends at frame 24, past the header's 20"),
])
def test_packet_order_is_checked(packets, message):
    with pytest.raises(CorruptPacket, match=message):
        read_all(stream(make_header(), packets))


def test_end_packet_with_payload():
    packet = patch_packet(end(20).to_bytes(), "<I", 9, 5) + b"12345"
    data = stream(make_header(), golden_packets()[:3]) + packet
    with pytest.raises(CorruptPacket, match="END packet must have no frames, no payload"):
        read_all(data)


def test_truncation_in_packet_header_and_payload():
    data = golden_stream()
    cut = H + 10  # inside the first packet's header
    with pytest.raises(TruncatedStream,
                       match=rf"^stream truncated at byte {cut} \(frame 0\)$") as e:
        read_all(data[:cut])
    assert (e.value.offset, e.value.frame) == (cut, 0)
    cut = P1 + 25 + 2  # inside the INTER packet's payload
    with pytest.raises(TruncatedStream, match=rf"^stream truncated at byte {cut} \(frame 8\)$"):
        read_all(data[:cut])
    # Every complete packet before the cut is still delivered.
    f = io.BytesIO(data[:cut])
    reader = PacketReader(f, StreamHeader.read(f))
    assert reader.read_packet() == golden_packets()[0]
    with pytest.raises(TruncatedStream):
        reader.read_packet()


def test_truncation_on_packet_boundary_with_known_frame_count():
    with pytest.raises(TruncatedStream, match=rf"^stream truncated at byte {P1} \(frame 8\)$"):
        read_all(golden_stream()[:P1])


def test_truncated_header():
    for cut, at in ((2, 2), (5, 5), (30, 30)):
        with pytest.raises(TruncatedStream, match=rf"^stream truncated at byte {at} \(frame 0\)$"):
            read_all(golden_stream()[:cut])


def test_absurd_payload_len_rejected_before_reading():
    packet = patch_packet(Packet(INTRA, 0, 8, b"", 0).to_bytes(), "<I", 9, 0xFFFFFFF0)
    f = RecordingReader(make_header().to_bytes() + packet + b"tiny")
    header = StreamHeader.read(f)
    limit = 64 + 4 * 64 * 48 * 8
    message = rf"^payload_len 4294967280 exceeds the limit of {limit} \(packet at byte {H}, "
    with pytest.raises(LimitExceeded, match=message + r"frame 0\)$"):
        list(iter_packets(f, header))
    assert max(f.sizes) <= 128 and -1 not in f.sizes
    # The absolute cap applies too.
    f = RecordingReader(make_header().to_bytes() + packet)
    with pytest.raises(LimitExceeded, match="exceeds the limit of 1000 "):
        list(iter_packets(f, StreamHeader.read(f), Limits(max_payload=1000)))
    assert max(f.sizes) <= 128


def test_messages_are_one_line():
    cases = [b"", b"junk", golden_stream()[:50], patch_header(golden_stream(), "<H", 4, 15),
             patch_header(golden_stream(), "<H", 10, 9000), golden_stream()[:P1 + 30]]
    for data in cases:
        with pytest.raises(ContainerError) as e:
            read_all(data)
        assert "\n" not in str(e.value) and "b'" not in str(e.value)


# --- properties -------------------------------------------------------------------------------

def _parse_or_container_error(data: bytes) -> None:
    try:
        read_all(data)
    except ContainerError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_container_errors(data):
    _parse_or_container_error(data)
    _parse_or_container_error(b"VQVC\x01\x00" + data)
    _parse_or_container_error(make_header().to_bytes() + data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncations_and_flips_raise_only_container_errors(data):
    raw = bytearray(golden_stream())
    cut = data.draw(st.integers(0, len(raw)))
    _parse_or_container_error(bytes(raw[:cut]))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    _parse_or_container_error(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(name=st.text(min_size=1, max_size=16), width=st.integers(1, 8192),
       height=st.integers(1, 8192), num=st.integers(1, 2**32 - 1), den=st.integers(1, 2**32 - 1),
       frames=st.none() | st.integers(0, 100_000_000), gop=st.integers(1, 256),
       periods=st.integers(1, 255), quality=st.integers(1, 255), mode=st.sampled_from(Mode))
def test_any_valid_header_round_trips(name, width, height, num, den, frames, gop, periods,
                                      quality, mode):
    fps = Fraction(num, den)
    if gop * periods > 0xFFFF:
        return
    try:
        h = make_header(model_name=name, width=width, height=height, fps=fps, frame_count=frames,
                        gop=gop, intra_period=gop * periods, quality=quality, mode=mode, version=2)
    except CorruptHeader:  # names that are not UTF-8 encodable (lone surrogates)
        return
    assert StreamHeader.from_bytes(h.to_bytes(), Limits(max_pixels=8192 * 8192)) == h


def test_frame_area_is_limited_before_decoding():
    # a few bytes must not be able to ask the decoder for gigabytes (4096x4096 GOPs)
    data = stream(make_header(width=4096, height=4096), golden_packets())
    with pytest.raises(LimitExceeded, match=r"^frame area 16777216 exceeds the limit of 8294400$"):
        read_all(data)
    assert read_all(data, Limits(max_pixels=4096 * 4096))[0].width == 4096
    with pytest.raises(LimitExceeded, match="frame area 3072 exceeds the limit of 3000"):
        read_all(golden_stream(), Limits(max_pixels=3000))
