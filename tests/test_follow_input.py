"""follow_input.py and `vqcodec decompress --follow`: a .vqv file that is still being
written decodes as far as it is complete, waits for the rest, and stops at its END
packet; a writer that dies leaves a stream that reads as truncated after the wait."""
from __future__ import annotations

import io
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import _tiny_pattern
from vqcodec.stream import StreamEncoder
from vqcodec.media.video_io import read_video
from vqcodec_cli.follow_input import GrowingFile
from vqcodec_cli.main import main
from vqcodec.api import decompress


def _append_slowly(path, chunks, pause: float) -> threading.Thread:
    def write():
        with open(path, "ab") as f:
            for c in chunks:
                f.write(c)
                f.flush()
                time.sleep(pause)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_read_waits_for_bytes_that_arrive(tmp_path):
    path = tmp_path / "grow.bin"
    path.write_bytes(b"ab")
    writer = _append_slowly(path, [b"cd", b"ef"], 0.2)
    with GrowingFile(open(path, "rb"), idle=1.0) as f:
        assert f.read(6) == b"abcdef" and not f.stalled  # the writer's pauses are under `idle`
        start = time.monotonic()
        assert f.read(1) == b"" and f.stalled  # then nothing more for `idle`
        assert 1.0 <= time.monotonic() - start < 3
    writer.join()


def test_a_quiet_file_reads_short_after_the_wait_then_at_once(tmp_path):
    path = tmp_path / "quiet.bin"
    path.write_bytes(b"xyz")
    with GrowingFile(open(path, "rb"), idle=0.3) as f:
        start = time.monotonic()
        assert f.read(10) == b"xyz"
        assert 0.3 <= time.monotonic() - start < 2
        start = time.monotonic()
        assert f.read(10) == b"" and time.monotonic() - start < 0.1  # stalled: no second wait
    with pytest.raises(ValueError):
        GrowingFile(io.BytesIO(), idle=-1)


@pytest.fixture(scope="module")
def packets(tiny_codec):
    enc = StreamEncoder(64, 48, 25, 2, mode="full", model=tiny_codec)
    frames = _tiny_pattern(12)
    return [p for f in frames for p in enc.push(f)] + enc.flush()


def _decompress(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "vqcodec_cli.main", "decompress", *map(str, args)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_follow_decodes_a_file_while_it_is_written(tmp_path, tiny_model, tiny_codec, packets):
    live = tmp_path / "live.vqv"
    live.write_bytes(b"".join(packets[:2]))  # the header and the first GOP
    proc = _decompress(live, "out.mkv", "--model", tiny_model, "--follow", cwd=tmp_path)
    time.sleep(3)  # the decoder is up and waiting for the rest
    _append_slowly(live, packets[2:], 0.3).join()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    expected = np.stack(list(decompress(io.BytesIO(b"".join(packets)), model=tiny_codec)))
    assert np.array_equal(read_video(str(tmp_path / "out.mkv"))[0], expected)  # .mkv: lossless


def test_follow_gives_up_on_a_writer_that_stopped(tmp_path, tiny_model, packets):
    live = tmp_path / "dead.vqv"
    live.write_bytes(b"".join(packets[:3]))  # header + 2 GOPs, then the writer died
    result = CliRunner().invoke(main, ["decompress", str(live), str(tmp_path / "o.mkv"), "--model", tiny_model,
                                       "--follow", "--follow-wait", "0.5"])
    assert result.exit_code == 4, result.output
    assert "stopped growing" in result.stderr and "wrote frames 0..7" in result.stderr
    assert read_video(str(tmp_path / "o.mkv"))[0].shape[0] == 8


def test_follow_needs_a_file(tmp_path, tiny_model):
    result = CliRunner().invoke(main, ["decompress", "-", str(tmp_path / "o.mkv"), "--follow"])
    assert result.exit_code == 1 and result.output.startswith("error: --follow reads a file")
