"""vqcodec.batch.tasks and worker_codec, run in this process (no cluster): one file's result,
PSNR measured the pooled way, failures as results, and the model loaded once per process."""
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import _tiny_pattern
from vqcodec.api import decompress
from vqcodec.batch import worker_codec
from vqcodec.batch.inputs import Job
from vqcodec.batch.tasks import CompressSettings, DecompressSettings, compress_file, decompress_file
from vqcodec.media.metrics import psnr_rgb
from vqcodec.media.video_io import read_video, write_video


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mkv"
    write_video(str(path), _tiny_pattern(8), Fraction(25))
    return path


def test_compress_file_measures_psnr_and_loads_the_model_once(video, tmp_path, tiny_model, tiny_codec):
    settings = CompressSettings(tiny_model, 2, psnr=True)
    first = compress_file(Job(str(video), "clip.mkv", str(tmp_path / "out" / "a.vqv")), settings)
    loads = len(worker_codec.LOADS)
    second = compress_file(Job(str(video), "clip.mkv", str(tmp_path / "out" / "b.vqv")), settings)
    assert first.status == second.status == "done" and not second.model_loaded
    assert len(worker_codec.LOADS) == loads  # the second file found the model in this process
    decoded = np.stack(list(decompress(first.output, model=tiny_codec)))
    assert first.psnr_rgb == pytest.approx(psnr_rgb(_tiny_pattern(8), decoded))
    assert first.bytes == Path(first.output).stat().st_size and first.frames == 8


def test_a_failure_is_a_result_with_a_stamp(tmp_path, tiny_model):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    result = compress_file(Job(str(notes), "notes.mp4", str(tmp_path / "notes.mp4.vqv")), CompressSettings(tiny_model))
    assert result.status == "failed" and "not a video" in result.error and result.source_stamp
    assert not (tmp_path / "notes.mp4.vqv").exists() and not list(tmp_path.glob(".*.part"))


def test_decompress_file_writes_the_decode(video, tmp_path, tiny_model, tiny_codec):
    stream = compress_file(Job(str(video), "clip.mkv", str(tmp_path / "c.vqv")), CompressSettings(tiny_model, 2))
    result = decompress_file(Job(stream.output, "c.vqv", str(tmp_path / "dec" / "c.mkv")), DecompressSettings(tiny_model))
    assert result.status == "done" and result.frames == 8
    assert np.array_equal(read_video(result.output)[0], np.stack(list(decompress(stream.output, model=tiny_codec))))
    damaged = bytearray(Path(stream.output).read_bytes())
    damaged[-40] ^= 0xFF
    (tmp_path / "d.vqv").write_bytes(bytes(damaged))
    bad = decompress_file(Job(str(tmp_path / "d.vqv"), "d.vqv", str(tmp_path / "dec" / "d.mkv")),
                          DecompressSettings(tiny_model))
    assert bad.status == "failed" and not (tmp_path / "dec" / "d.mkv").exists()
