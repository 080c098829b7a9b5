"""`vqcodec bench` through click's CliRunner and a subprocess: outputs, refusals, one-line errors."""
import json
import subprocess
import sys

from click.testing import CliRunner

from vqcodec_cli.main import main


def cli(*args):
    return CliRunner().invoke(main, ["bench", *map(str, args)])


def one_line_error(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


def test_bench_runs_and_refuses_to_overwrite(tmp_path, tiny_model, tiny_video_file):
    out = tmp_path / "res"
    args = [tiny_video_file, "--model", tiny_model, "--anchors", "x264:medium", "--no-ms-ssim", "--out", out]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["summary.md", "tiny.json", "tiny.md", "tiny.png"]
    assert "| tiny | 64x48 | 12 | full |" in result.output
    doc = json.loads((out / "tiny.json").read_text())
    assert doc["command"] == (f"vqcodec bench {tiny_video_file} --anchors x264:medium --model {tiny_model} "
                              f"--no-ms-ssim --out {out}")

    before = (out / "tiny.json").read_bytes()
    one_line_error(cli(*args), "exists", "--force")
    assert (out / "tiny.json").read_bytes() == before
    assert cli(*args, "--force", "--frames", "4").exit_code == 0
    assert json.loads((out / "tiny.json").read_text())["clip"]["frames"] == 4


def test_bad_input_is_one_line(tmp_path, tiny_model, tiny_video_file):
    out = tmp_path / "res"
    base = ["--model", tiny_model, "--out", out]
    one_line_error(cli(tmp_path / "missing.mp4", *base), "no such clip")
    one_line_error(cli(tiny_video_file, "--anchors", "x266:medium", *base), "x266")
    one_line_error(cli(tiny_video_file, "--modes", "turbo", *base), "turbo")
    one_line_error(cli(tiny_video_file, "--qualities", "1,99", *base), "99")
    one_line_error(cli(tiny_video_file, "--qualities", "a", *base), "qualities")
    one_line_error(cli(tiny_video_file, "--size", "65x48", *base), "even")
    one_line_error(cli(tiny_video_file, "--size", "640x480", *base), "never scales")
    one_line_error(cli(tiny_video_file, "--frames", "0", *base), "positive")
    one_line_error(cli(tiny_video_file, tiny_video_file, *base), "distinct")
    (tmp_path / "file").write_text("x")
    one_line_error(cli(tiny_video_file, "--model", tiny_model, "--out", tmp_path / "file"), "not a folder")
    assert not out.exists()  # nothing was written by any refused run


def test_bench_in_a_subprocess(tmp_path, tiny_model):
    proc = subprocess.run(
        [sys.executable, "-m", "vqcodec_cli.main", "bench", "synthetic:pan", "--size", "64x48", "--frames", "4",
         "--model", tiny_model, "--anchors", "x264:medium", "--no-ms-ssim", "--out", "r"],
        capture_output=True, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    assert {"synthetic-pan.json", "synthetic-pan.md", "synthetic-pan.png", "summary.md"} == \
        {p.name for p in (tmp_path / "r").iterdir()}
    assert b"x264 medium" in proc.stdout and b"CRF sweep" in proc.stderr
