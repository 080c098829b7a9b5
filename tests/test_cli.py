"""The `vqcodec` command line: round trips, stats, info/models, the golden
stream, real subprocesses and y4m pipes, and clean one-line errors.

Everything runs on the pinned tiny model (tests/expected/models/tiny.json).
Coding is the slow part, so the stream made from `tiny_frames` and its decoded
outputs are built once per module and shared.
"""
from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import EXPECTED, _tiny_pattern
from vqcodec.format.container import StreamHeader
from vqcodec.format.versions import FORMAT_VERSION
from vqcodec.media.video_io import VideoReader, VideoWriter, read_video, write_video
from vqcodec_cli.main import main
from vqcodec.api import compress, decompress

GOLDEN = EXPECTED / "tiny_q2.vqv"
FPS = Fraction(25)


# ----------------------------------------------------------------- helpers
def cli(*args: str, input: bytes | None = None, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)


def vqcodec(*args, cwd, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "vqcodec_cli.main", *map(str, args)], input=stdin,
                          capture_output=True, cwd=cwd, timeout=300)


def y4m_bytes(frames: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with VideoWriter("-", frames.shape[2], frames.shape[1], FPS, stdout=buf) as w:
        for f in frames:
            w.write(f)
    return buf.getvalue()


def read_y4m_bytes(data: bytes) -> np.ndarray:
    with VideoReader("-", stdin=io.BytesIO(data)) as r:
        return np.stack(list(r))


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def assert_one_line_error(result, *words: str) -> str:
    """exit != 0, exactly one line 'error: ...' (CliRunner's output holds stdout
    and stderr together), no traceback, no stray exception; returns the line."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("error:"), line
    assert result.stderr.strip() == line
    for w in words:
        assert w.lower() in line.lower(), line
    return line


def assert_folder_holds(folder: Path, *names: str) -> None:
    """Exactly these files: no output, no hidden .*.part temporary."""
    present = sorted(p.name for p in folder.iterdir())
    assert present == sorted(names), present


# ------------------------------------------------ shared stream and outputs
@pytest.fixture(scope="module")
def compressed(tmp_path_factory, tiny_model):
    """tiny_frames -> tiny.mkv -> `vqcodec compress --quality 2 --stats` -> tiny.vqv."""
    folder = tmp_path_factory.mktemp("compressed")
    frames = _tiny_pattern()
    video = folder / "tiny.mkv"
    write_video(str(video), frames, FPS)
    vqv, stats = folder / "tiny.vqv", folder / "stats.json"
    result = cli("compress", video, vqv, "--model", tiny_model, "--quality", 2, "--stats", stats)
    assert_ok(result)
    return SimpleNamespace(folder=folder, frames=frames, video=video, vqv=vqv, stats=stats, result=result)


@pytest.fixture(scope="module")
def decompressed(compressed, tiny_model):
    """The shared .vqv decoded by the CLI to .mkv (lossless) and .y4m."""
    mkv, y4m = compressed.folder / "out.mkv", compressed.folder / "out.y4m"
    results = [cli("decompress", compressed.vqv, out, "--model", tiny_model) for out in (mkv, y4m)]
    for r in results:
        assert_ok(r)
    return SimpleNamespace(mkv=mkv, y4m=y4m)


# -------------------------------------------------------------- round trip
def test_round_trip_mkv_and_y4m(compressed, decompressed, tiny_codec):
    for path in (decompressed.mkv, decompressed.y4m):
        frames, info = read_video(str(path))
        assert frames.shape == compressed.frames.shape, path
        assert (info.width, info.height, info.fps) == (64, 48, FPS)
    # the lossless .mkv holds exactly what the library decodes from the same stream
    with open(compressed.vqv, "rb") as f:
        expected = np.stack(list(decompress(f, model=tiny_codec)))
    got, _ = read_video(str(decompressed.mkv))
    np.testing.assert_array_equal(got, expected)
    # and the .y4m is the same picture up to 4:2:0 chroma: compare luma
    y4m, _ = read_video(str(decompressed.y4m))
    luma = np.array([0.299, 0.587, 0.114])
    diff = np.abs(y4m @ luma - expected @ luma)
    assert diff.mean() < 3 and diff.max() < 12, (diff.mean(), diff.max())


def test_compress_reports_on_stderr_only(compressed):
    assert compressed.result.stdout == ""
    assert re.match(r"12 frames 64x48 full q2: \d+ bytes", compressed.result.stderr), compressed.result.stderr


def test_stats_json(compressed):
    doc = json.loads(compressed.stats.read_text())
    for key in ("frames", "bytes", "bits_per_pixel", "ideal_bits", "payload_bits"):
        assert key in doc, key
    size = compressed.vqv.stat().st_size
    assert doc["frames"] == 12
    assert doc["bytes"] == size
    assert doc["bits_per_pixel"] == pytest.approx(8 * size / (12 * 48 * 64))
    assert doc["payload_bits"] >= 0 and doc["payload_bits"] % 8 == 0
    assert doc["payload_bits"] < 8 * size  # the header and packet framing cost something
    assert doc["ideal_bits"] >= 0
    # a range coder lands within a few bytes per packet of the ideal cost
    assert doc["payload_bits"] <= doc["ideal_bits"] + 3 * 64 + 64
    assert doc["quality"] == 2 and doc["model"] == "tiny"


# ------------------------------------------------------------ info, models
def test_info_text_and_json():
    result = cli("info", GOLDEN)
    assert_ok(result)
    assert re.search(r"model: tiny$", result.output, re.M)
    assert re.search(r"frames: 12$", result.output, re.M)

    result = cli("info", GOLDEN, "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert doc["model"] == "tiny"
    assert (doc["width"], doc["height"], doc["frames"], doc["quality"]) == (64, 48, 12, 2)
    assert doc["packets"] == 4  # three GOPs of 4 frames + the end packet
    assert doc["bytes"] == GOLDEN.stat().st_size


def _check_model_rows(rows: list, name: str) -> dict:
    assert isinstance(rows, list)
    row = next((r for r in rows if r["name"] == name), None)
    assert row is not None, [r["name"] for r in rows]
    assert isinstance(row["qualities"], list) and row["qualities"]
    assert all(isinstance(q, int) for q in row["qualities"])
    assert isinstance(row["latent_factors"], dict)
    assert all(isinstance(v, int) and v >= 1 for v in row["latent_factors"].values())
    assert re.fullmatch(r"[0-9a-f]{64}", row["sha256"]), row["sha256"]
    assert row["quantizer"] in ("rvq", "scalar")
    return row


def test_models_json_lists_user_models(tmp_path, tiny_model):
    # a user model folder holding the tiny model: listed after the package's
    for ext in (".json", ".safetensors"):
        (tmp_path / f"tiny{ext}").write_bytes(Path(tiny_model).with_suffix(ext).read_bytes())
    result = cli("models", "--json", env={"VQCODEC_MODELS": str(tmp_path)})
    assert_ok(result)
    row = _check_model_rows(json.loads(result.stdout), "tiny")
    assert row["qualities"] == [1, 2, 3]


def test_models_json_lists_default(tmp_path):
    from vqcodec.zoo import PACKAGE_WEIGHTS

    if not (PACKAGE_WEIGHTS / "default.json").is_file():
        pytest.skip(f"no default model shipped yet in {PACKAGE_WEIGHTS}")
    result = cli("models", "--json", env={"VQCODEC_MODELS": str(tmp_path)})
    assert_ok(result)
    _check_model_rows(json.loads(result.stdout), "default")


# ------------------------------------------------------------------ golden
def test_compress_matches_the_library(compressed, tiny_codec):
    """The CLI writes exactly the stream Codec.compress makes of the same
    frames (test_codec pins that stream's golden bytes; the encoder's float
    analysis may round a few latents differently on another CPU)."""
    buf = io.BytesIO()
    compress(iter(compressed.frames), buf, 64, 48, FPS, 2, model=tiny_codec)
    assert compressed.vqv.read_bytes() == buf.getvalue()


def test_decompress_golden_over_existing_output(tmp_path, tiny_model):
    """Decoding the golden file works; an existing output is refused and left
    untouched without --force, and replaced with it."""
    out = tmp_path / "out.y4m"
    out.write_bytes(b"keep me")
    result = cli("decompress", GOLDEN, out, "--model", tiny_model)
    assert_one_line_error(result, "exists", "--force")
    assert out.read_bytes() == b"keep me"

    result = cli("decompress", GOLDEN, out, "--model", tiny_model, "--force")
    assert_ok(result)
    frames, _ = read_video(str(out))
    assert frames.shape == (12, 48, 64, 3)
    assert_folder_holds(tmp_path, "out.y4m")


# ------------------------------------------------------------- subprocesses
def test_subprocess_round_trip_and_y4m_pipe(tmp_path, tiny_model, tiny_frames, tiny_video_file, compressed):
    # a file in, a .vqv out, through a fresh interpreter: the in-process CLI's bytes again
    done = vqcodec("compress", tiny_video_file, "a.vqv", "--model", tiny_model, "-q", 2, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert (tmp_path / "a.vqv").read_bytes() == compressed.vqv.read_bytes()

    # ffmpeg-style pipe: y4m on stdin -> .vqv -> y4m on stdout
    done = vqcodec("compress", "-", "b.vqv", "--model", tiny_model, "-q", 2, cwd=tmp_path,
                   stdin=y4m_bytes(tiny_frames))
    assert done.returncode == 0, done.stderr.decode()
    done = vqcodec("decompress", "b.vqv", "-", "--model", tiny_model, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.startswith(b"YUV4MPEG2 W64 H48 F25:1")
    frames = read_y4m_bytes(done.stdout)
    assert frames.shape == (12, 48, 64, 3)
    assert b"Traceback" not in done.stderr


def test_subprocess_error_is_one_line(tmp_path):
    (tmp_path / "notes.vqv").write_text("just some text\n")
    done = vqcodec("decompress", "notes.vqv", "out.mkv", cwd=tmp_path)
    assert done.returncode != 0
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr.decode()
    assert done.stdout == b""
    assert_folder_holds(tmp_path, "notes.vqv")


# --------------------------------------------------------------- bad input
def test_missing_input(tmp_path, tiny_model):
    assert_one_line_error(cli("compress", tmp_path / "nope.mkv", tmp_path / "a.vqv", "--model", tiny_model),
                          "nope.mkv")
    assert_one_line_error(cli("decompress", tmp_path / "nope.vqv", tmp_path / "a.mkv", "--model", tiny_model),
                          "nope.vqv")
    assert_one_line_error(cli("info", tmp_path / "nope.vqv"), "nope.vqv")
    assert_folder_holds(tmp_path)


def test_text_file_as_video(tmp_path, tiny_model):
    (tmp_path / "notes.mkv").write_text("not a video at all\n" * 20)
    result = cli("compress", tmp_path / "notes.mkv", tmp_path / "a.vqv", "--model", tiny_model)
    assert_one_line_error(result, "notes.mkv")
    assert_folder_holds(tmp_path, "notes.mkv")


def test_text_file_as_vqv(tmp_path, tiny_model):
    (tmp_path / "notes.vqv").write_text("not a stream at all\n")
    for args in (("decompress", tmp_path / "notes.vqv", tmp_path / "a.mkv", "--model", tiny_model),
                 ("info", tmp_path / "notes.vqv")):
        assert_one_line_error(cli(*args), "not a .vqv file")
    assert_folder_holds(tmp_path, "notes.vqv")


def test_unknown_version(tmp_path, tiny_model):
    data = bytearray(GOLDEN.read_bytes())
    unknown = FORMAT_VERSION + 1  # the next version; the header CRC no longer matches either
    data[4] = unknown
    bad = tmp_path / "next.vqv"
    bad.write_bytes(bytes(data))
    # the reader checks the version first: the layout depends on it
    line = assert_one_line_error(cli("decompress", bad, tmp_path / "a.mkv", "--model", tiny_model))
    assert f"version {unknown}" in line, line
    assert_one_line_error(cli("info", bad), f"version {unknown}")
    assert_folder_holds(tmp_path, "next.vqv")


def test_model_mismatch(tmp_path, tiny_model):
    from make_expected import make_tiny_model

    other = make_tiny_model(tmp_path / "other", seed=1)  # also named "tiny", other weights
    assert Path(other).name == "tiny.json"
    out = tmp_path / "out"
    out.mkdir()
    line = assert_one_line_error(cli("decompress", GOLDEN, out / "a.mkv", "--model", other), "model")
    assert "sha256" in line
    assert_folder_holds(out)


def test_payload_crc_mismatch(tmp_path, tiny_model):
    data = bytearray(GOLDEN.read_bytes())
    with open(GOLDEN, "rb") as f:
        start = StreamHeader.read(f).size + 25  # first packet's payload
    data[start + 1] ^= 0x40
    bad = tmp_path / "crc.vqv"
    bad.write_bytes(bytes(data))
    result = cli("decompress", bad, tmp_path / "a.mkv", "--model", tiny_model, "--strict")
    assert_one_line_error(result, "CRC", "frame 0")
    assert result.exit_code == 3  # EXIT_CORRUPT (without --strict: frames 8.. recovered, exit 4)
    assert_one_line_error(cli("info", bad), "CRC")
    assert_folder_holds(tmp_path, "crc.vqv")


def test_truncated_stream_writes_what_it_recovered(tmp_path, tiny_model, tiny_codec):
    data = GOLDEN.read_bytes()
    cut = tmp_path / "cut.vqv"
    cut.write_bytes(data[: len(data) // 2])
    result = cli("decompress", cut, tmp_path / "a.mkv", "--model", tiny_model)
    assert result.exit_code == 4, result.output  # EXIT_DAMAGED: written, but damaged
    assert "Traceback" not in result.output
    damage, summary = result.stderr.strip().splitlines()
    assert re.fullmatch(r"warning: stream damage at byte \d+: stream truncated at byte \d+ \(frame 4\); "
                        r"lost frames 4\.\.11 \(8\)", damage), damage
    assert summary.startswith("warning: wrote 4 frames, 0 of them concealed")
    recovered = read_video(str(tmp_path / "a.mkv"))[0]
    assert np.array_equal(recovered, np.stack(list(decompress(io.BytesIO(data), model=tiny_codec)))[:4])
    # --strict refuses it: exit 3, nothing written
    result = cli("decompress", cut, tmp_path / "b.mkv", "--model", tiny_model, "--strict")
    assert_one_line_error(result, "truncated")
    assert result.exit_code == 3
    assert_one_line_error(cli("info", cut), "truncated")
    assert_folder_holds(tmp_path, "a.mkv", "cut.vqv")


def test_corrupt_packet_in_the_middle(tmp_path, tiny_model, tiny_codec):
    reference = np.stack(list(decompress(io.BytesIO(GOLDEN.read_bytes()), model=tiny_codec)))
    data = bytearray(GOLDEN.read_bytes())
    data[-60] ^= 0xFF  # inside the last GOP's payload: nothing after it to resume at
    bad = tmp_path / "bad.vqv"
    bad.write_bytes(bytes(data))
    result = cli("decompress", bad, tmp_path / "a.mkv", "--model", tiny_model)
    assert result.exit_code == 4 and "payload CRC mismatch at frame 8" in result.stderr
    assert "lost frames 8..11 (4)" in result.stderr
    assert np.array_equal(read_video(str(tmp_path / "a.mkv"))[0], reference[:8])
    # damage in the first intra period: decoding resumes at the next one (frame 8)
    data = bytearray(GOLDEN.read_bytes())
    data[StreamHeader.read(io.BytesIO(bytes(data))).size + 30] ^= 0xFF
    bad.write_bytes(bytes(data))
    result = cli("decompress", bad, tmp_path / "b.mkv", "--model", tiny_model)
    assert result.exit_code == 4, result.output
    assert "payload CRC mismatch at frame 0" in result.stderr
    assert "lost frames 0..7 (8); resumed at frame 8" in result.stderr
    assert np.array_equal(read_video(str(tmp_path / "b.mkv"))[0], reference[8:])
    # with --strict: refused, nothing written
    result = cli("decompress", bad, tmp_path / "c.mkv", "--model", tiny_model, "--strict")
    assert_one_line_error(result, "payload CRC mismatch at frame 0")
    assert result.exit_code == 3
    assert_folder_holds(tmp_path, "a.mkv", "b.mkv", "bad.vqv")


def test_absurd_dimensions(tmp_path, tiny_model):
    data = bytearray(GOLDEN.read_bytes())
    with open(GOLDEN, "rb") as f:
        size = StreamHeader.read(f).size
    struct.pack_into("<H", data, 10, 60000)  # width
    struct.pack_into("<I", data, size - 4, zlib.crc32(bytes(data[: size - 4])))  # a valid header CRC
    big = tmp_path / "big.vqv"
    big.write_bytes(bytes(data))
    for args in (("decompress", big, tmp_path / "a.mkv", "--model", tiny_model), ("info", big)):
        assert_one_line_error(cli(*args), "width 60000", "limit")
    assert_folder_holds(tmp_path, "big.vqv")


def test_empty_input(tmp_path, tiny_model):
    # a y4m header and no frames, on stdin
    result = cli("compress", "-", tmp_path / "a.vqv", "--model", tiny_model,
                 input=b"YUV4MPEG2 W64 H48 F25:1 Ip A0:0 C420jpeg\n")
    assert_one_line_error(result, "no frames")
    assert_folder_holds(tmp_path)


def test_compress_existing_output_refused(tmp_path, tiny_model, tiny_video_file):
    out = tmp_path / "a.vqv"
    out.write_bytes(b"precious")
    assert_one_line_error(cli("compress", tiny_video_file, out, "--model", tiny_model), "exists", "--force")
    assert out.read_bytes() == b"precious"


def test_unknown_output_extension(tmp_path):
    # refused before any work: the model the stream names ("tiny") is not even
    # installed, yet the complaint is about the extension
    result = cli("decompress", GOLDEN, tmp_path / "out.avi")
    assert_one_line_error(result, ".avi")
    assert_folder_holds(tmp_path)


def test_bad_quality(tmp_path, tiny_model, tiny_video_file):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("compress", tiny_video_file, out / "a.vqv", "--model", tiny_model, "--quality", 99)
    assert_one_line_error(result, "quality 99")
    assert_folder_holds(out)


def test_cuda_without_gpu(tmp_path, tiny_model, tiny_video_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(cli("compress", tiny_video_file, out / "a.vqv", "--model", tiny_model,
                              "--device", "cuda"), "cuda")
    assert_one_line_error(cli("decompress", GOLDEN, out / "a.mkv", "--model", tiny_model,
                              "--device", "cuda"), "cuda")
    assert_folder_holds(out)


# -------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_help_has_examples(command):
    result = cli(command, "--help")
    assert_ok(result)
    assert "Example" in result.output
    assert f"vqcodec {command} " in result.output


# ------------------------------------------------------------- low-latency mode
def test_lowlatency_compress_info_decompress(tmp_path, tiny_video_file, tiny_model, tiny_frames):
    out = tmp_path / "ll.vqv"
    assert_ok(cli("compress", tiny_video_file, out, "--model", tiny_model, "-q", "2",
                  "--mode", "lowlatency", "--keyint", "4", "--latency", "3"))
    result = cli("info", out, "--json")
    assert_ok(result)
    doc = json.loads(result.output)
    assert (doc["mode"], doc["format_version"], doc["keyframes"], doc["held_back_frames"]) == ("lowlatency", 4, 4, 3)
    y4m = tmp_path / "ll.y4m"
    assert_ok(cli("decompress", out, y4m, "--model", tiny_model))
    assert read_video(str(y4m))[0].shape == tiny_frames.shape
    adaptive = tmp_path / "ad.vqv"
    assert_ok(cli("compress", tiny_video_file, adaptive, "--model", tiny_model, "--mode", "lowlatency",
                  "--keyframes", "adaptive", "--keyint", "6"))
    assert json.loads(cli("info", adaptive, "--json").output)["mode"] == "lowlatency"


def test_lowlatency_with_a_motion_model_codes_steps(tmp_path, tiny_video_file, tiny_frames):
    """Format v14 (and v15): --mode lowlatency with a motion model codes predicted steps, a
    packet per frame at --latency 0; info says so and the stream decodes."""
    motion = str(Path(__file__).resolve().parent / "expected" / "models" / "tiny_motion.json")
    out = tmp_path / "cam.vqv"
    assert_ok(cli("compress", tiny_video_file, out, "--model", motion, "-q", "2", "--mode", "lowlatency",
                  "--latency", "0", "--keyint", "4"))
    doc = json.loads(cli("info", out, "--json").output)
    assert (doc["mode"], doc["format_version"], doc["gop"], doc["held_back_frames"]) == ("lowlatency", 15, 1, 0)
    assert doc["intra_frames"] == 3 and doc["predicted_frames"] == len(tiny_frames) - 3
    y4m = tmp_path / "cam.y4m"
    assert_ok(cli("decompress", out, y4m, "--model", motion))
    assert read_video(str(y4m))[0].shape == tiny_frames.shape


def test_arithmetic_choice_is_in_the_stream(tmp_path, tiny_video_file, tiny_model, tiny_frames):
    """--arithmetic float writes format v3 (float prior); the default integer v4."""
    for arithmetic, version in (("float", 3), ("integer", 4)):
        out = tmp_path / f"{arithmetic}.vqv"
        assert_ok(cli("compress", tiny_video_file, out, "--model", tiny_model, "-q", "2",
                      "--mode", "lowlatency", "--arithmetic", arithmetic))
        doc = json.loads(cli("info", out, "--json").output)
        assert (doc["format_version"], doc["prior_arithmetic"]) == (version, arithmetic)
        y4m = tmp_path / f"{arithmetic}.y4m"
        assert_ok(cli("decompress", out, y4m, "--model", tiny_model))
        assert read_video(str(y4m))[0].shape == tiny_frames.shape
    result = cli("compress", tiny_video_file, tmp_path / "x.vqv", "--model", tiny_model, "--arithmetic", "fast")
    assert result.exit_code == 2 and "'fast' is not one of 'integer', 'float'" in result.output
    assert not (tmp_path / "x.vqv").exists()


def test_lowlatency_options_need_the_mode(tmp_path, tiny_video_file, tiny_model):
    result = cli("compress", tiny_video_file, tmp_path / "x.vqv", "--model", tiny_model, "--latency", "2")
    assert result.exit_code == 1 and "applies to --mode lowlatency only" in result.output
    assert not (tmp_path / "x.vqv").exists()
    help_text = cli("compress", "--help").output
    assert "--mode [full|lowlatency]" in help_text and "--keyframes" in help_text


def test_a_stream_whose_model_is_not_installed_names_it(tmp_path):
    from dataclasses import replace

    data = GOLDEN.read_bytes()
    header = StreamHeader.read(io.BytesIO(data))
    other = replace(header, model_name="camera-7")
    path = tmp_path / "cam.vqv"
    path.write_bytes(other.to_bytes() + data[header.size:])
    line = assert_one_line_error(cli("decompress", path, tmp_path / "o.mkv"),
                                 "needs model 'camera-7'", header.weights_sha256.hex()[:16], "--model")
    assert "not installed" in line
    assert_folder_holds(tmp_path, "cam.vqv")


# ------------------------------------------------ rate-distortion rounding
SCALAR_MODEL = EXPECTED / "models" / "tiny_scalar.json"


@pytest.mark.parametrize("rdo, golden", [("0", "tiny_scalar_q2.vqv"), ("1.0", "tiny_scalar_q2_rdo.vqv")])
def test_compress_rdo_matches_its_golden(tmp_path, tiny_video_file, rdo, golden):
    """--rdo 0 is the reference encoder (nearest); --rdo 1.0 make_expected's
    rate-distortion stream; both decode with the plain decoder."""
    from make_expected import SCALAR_RDO_LAMBDA

    assert float(rdo) in (0.0, SCALAR_RDO_LAMBDA)
    out = tmp_path / "a.vqv"
    assert_ok(cli("compress", tiny_video_file, out, "--model", SCALAR_MODEL, "-q", 2, "--rdo", rdo))
    assert out.read_bytes() == (EXPECTED / golden).read_bytes()
    assert_ok(cli("decompress", out, tmp_path / "a.y4m", "--model", SCALAR_MODEL))


def test_compress_rdo_refused_for_rvq_models(tmp_path, tiny_model, tiny_video_file):
    result = cli("compress", tiny_video_file, tmp_path / "a.vqv", "--model", tiny_model, "--rdo", "0.1")
    assert_one_line_error(result, "scalar")
    assert_folder_holds(tmp_path, "tiny.mkv")


def test_compress_negative_rdo_refused(tmp_path, tiny_video_file):
    result = cli("compress", tiny_video_file, tmp_path / "a.vqv", "--model", SCALAR_MODEL, "--rdo", "-1")
    assert result.exit_code != 0 and "--rdo" in result.output
    assert_folder_holds(tmp_path, "tiny.mkv")


@pytest.mark.parametrize("golden, heads", [("tiny_motion_lowlatency_q2_v14.vqv", 16),
                                           ("tiny_motion_lowlatency_q2.vqv", None)])
def test_info_counts_the_framing_bytes(golden, heads):
    """framing_bytes: every byte after the stream header that is not a payload (packet
    heads, and the HEADER packets whole): 16 a packet in v14, 6-8 in v15 (its
    packets of one frame and up to 65535 bytes: 6 + the length's bytes)."""
    from vqcodec.format.container import PacketReader, PacketType

    path = EXPECTED / golden
    doc = json.loads(cli("info", path, "--json").output)
    data = path.read_bytes()
    f = io.BytesIO(data)
    header = StreamHeader.read(f)
    reader, want, before = PacketReader(f, header), 0, header.size
    while (p := reader.read_packet()) is not None:
        head = reader.offset - before - len(p.payload)
        if p.kind != PacketType.HEADER:
            assert head == (heads or 6 + (len(p.payload).bit_length() + 7) // 8)
        want += head + (len(p.payload) if p.kind == PacketType.HEADER else 0)
        before = reader.offset
    assert doc["framing_bytes"] == want and doc["bytes"] == len(data)
