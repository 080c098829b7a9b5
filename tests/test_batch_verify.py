"""vqcodec.batch.verify: which outputs a re-run may skip (complete, and what the batch writes)."""
import io
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from vqcodec.api import compress
from vqcodec.batch.verify import StreamTarget, check_stream, check_video
from vqcodec.format.container import StreamHeader
from vqcodec.media.video_io import write_video

END_PACKET = 25  # bytes: a packet head with no payload


@pytest.fixture(scope="module")
def stream(tmp_path_factory, tiny_codec):
    from conftest import _tiny_pattern

    path = tmp_path_factory.mktemp("verify") / "clip.vqv"
    compress(_tiny_pattern(8), str(path), 64, 48, 25, quality=2, model=tiny_codec)
    return path.read_bytes()


def write(tmp_path, data: bytes):
    path = tmp_path / "out.vqv"
    path.write_bytes(data)
    return path


def test_a_complete_stream(tmp_path, stream, tiny_codec):
    check = check_stream(write(tmp_path, stream))
    assert (check.state, check.frames, check.bytes) == ("complete", 8, len(stream))
    h = check.header
    target = StreamTarget(h.model_name, tiny_codec.model_id.sha256, "full", 2, h.version)
    assert target.mismatch(h) is None
    other = StreamTarget(h.model_name, tiny_codec.model_id.sha256, "full", 3, h.version)
    assert "quality 2 (this batch: 3)" in other.mismatch(h)


@pytest.mark.parametrize("cut", [1, 10, 70, 100, -END_PACKET - 1, -1])
def test_a_cut_stream_is_partial(tmp_path, stream, cut):
    assert check_stream(write(tmp_path, stream[:cut])).state == "partial"


def test_a_stream_without_its_end_packet_is_partial(tmp_path, stream):
    # the header of a stream still being written says "frame count unknown": EOF on a packet
    # boundary would then pass for the end, so the END packet is required
    header = StreamHeader.read(io.BytesIO(stream))
    unknown = replace(header, frame_count=None).to_bytes() + stream[header.size:-END_PACKET]
    check = check_stream(write(tmp_path, unknown))
    assert check.state == "partial" and "no END packet" in check.reason


def test_a_flipped_payload_byte_is_partial(tmp_path, stream):
    data = bytearray(stream)
    data[len(data) // 2] ^= 0x40
    assert check_stream(write(tmp_path, bytes(data))).state == "partial"


def test_bytes_after_the_end_are_partial(tmp_path, stream):
    check = check_stream(write(tmp_path, stream + b"\0"))
    assert check.state == "partial" and "after the END packet" in check.reason


def test_missing_empty_and_foreign(tmp_path):
    assert check_stream(tmp_path / "none.vqv").state == "missing"
    assert check_stream(write(tmp_path, b"")).state == "partial"
    assert check_stream(write(tmp_path, b"not a stream at all")).state == "foreign"


def test_check_video_counts_frames_and_size(tmp_path, tiny_frames):
    path = tmp_path / "v.mkv"
    write_video(str(path), tiny_frames, Fraction(25))
    assert check_video(path, 12, 64, 48) is None
    assert "12 frames" in check_video(path, 11, 64, 48)
    assert "64x48" in check_video(path, 12, 32, 48)
    assert check_video(tmp_path / "none.mkv", 12, 64, 48) == "missing"
    (tmp_path / "bad.mkv").write_bytes(np.zeros(100, np.uint8).tobytes())
    assert check_video(tmp_path / "bad.mkv", 12, 64, 48) is not None
