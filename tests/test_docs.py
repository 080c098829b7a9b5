"""The README and docs/ cannot rot: their snippets run, their commands parse.

- every ```python block in README.md and docs/*.md runs (a fresh namespace, cwd a
  temporary folder), unless the line right before its opening fence is
  `<!-- skip-test: reason -->`;
- every `vqcodec ...` command in a ```bash / ```console block (and those in the
  recipe scripts) parses against the click application: the subcommand, its
  options and their choices exist. Nothing runs;
- every `python benchmarks/X.py`, `examples/X`, `fuzz/X` and `recipes/X` path the
  pages mention exists, and so does every `benchmarks/results/...` path outside
  docs/history.md (which names removed results on purpose, as git history);
- every relative Markdown link points at a file (and heading) that exists;
- the README's results table is the one in benchmarks/results/rd_default/.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # snippets run here
LINKED = [*PAGES, ROOT / "recipes" / "README.md", ROOT / "benchmarks" / "README.md"]  # links checked here
RECIPES = sorted((ROOT / "recipes").glob("*.sh"))
SKIP = re.compile(r"<!--\s*skip-test:\s*(\S.*?)\s*-->")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
SHELLS = {"bash", "sh", "shell", "console"}
README_MAX_LINES = 300


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None  # the reason given by a skip-test marker

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        marker = SKIP.search(lines[i - 1]) if i else None
        blocks.append(Block(page, i + 1, lang.lower(), "\n".join(body) + "\n", marker.group(1) if marker else None))
        i = j + 1
    return blocks


BLOCKS = [b for page in PAGES for b in _blocks(page)]
PYTHON = [b for b in BLOCKS if b.lang in ("python", "py")]


def test_pages_exist_and_readme_is_short():
    for name in ("architecture", "format", "training", "results", "history"):
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"
    assert PYTHON, "no python snippet found: the block parser is broken"


def test_skip_markers_give_a_reason():
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if "skip-test" in line:
                assert SKIP.search(line), f"{page.relative_to(ROOT)}:{n}: write <!-- skip-test: reason -->"


# ---------------------------------------------------------------- python snippets

@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_snippet_runs(block: Block, tmp_path, monkeypatch):
    if block.skip:
        pytest.skip(block.skip)
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(ROOT))
    code = compile(block.text, block.id, "exec")
    exec(code, {"__name__": "__docs__"})
    assert set(os.listdir(ROOT)) == before, f"{block.id} wrote into the repository"


# ---------------------------------------------------------------- vqcodec commands

def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
        else:
            out.append(cur + line)
            cur = ""
    if cur:
        out.append(cur)
    return out


_STOP = {"|", ">", ">>", "2>", "&&", "||", ";", "&"}


def _commands(text: str) -> list[list[str]]:
    """The `vqcodec` command lines in a shell block, as argument lists (after `vqcodec`).

    A line counts if it starts with `vqcodec ` (after an optional `$ ` prompt), or if
    a part of a pipeline does (`ffmpeg ... | vqcodec compress - out.vqv`), or if it
    runs the CLI module (`torchrun ... -m vqcodec_cli.main train ...`). Words after
    `|`, `>`, `&&` or `#` are not part of the command."""
    found = []
    for line in _logical_lines(text):
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        try:
            lex = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
            lex.whitespace_split = True
            lex.commenters = "#"
            words = list(lex)
        except ValueError as e:  # unbalanced quotes
            raise AssertionError(f"cannot split {line!r}: {e}") from None
        segment: list[str] = []
        for word in [*words, "|"]:
            if word in _STOP or set(word) <= set("|&;<>"):
                _collect(segment, found)
                segment = []
            else:
                segment.append(word)
    return found


def _collect(words: list[str], found: list[list[str]]) -> None:
    if words[:1] == ["vqcodec"]:
        found.append(words[1:])
    elif "vqcodec_cli.main" in words and words[words.index("vqcodec_cli.main") - 1] == "-m":
        found.append(words[words.index("vqcodec_cli.main") + 1:])
    elif "--no-python" in words and "vqcodec" in words:
        found.append(words[words.index("vqcodec") + 1:])


def check_command(args: list[str]) -> None:
    """Parse `vqcodec ARGS` as click would, without running the command."""
    import click

    from vqcodec_cli.main import main

    with click.Context(main, info_name="vqcodec") as root:
        if not args or args[0].startswith("-"):
            try:
                main.make_context("vqcodec", list(args), resilient_parsing=False)
            except click.exceptions.Exit as e:  # --help, --version
                assert e.exit_code == 0
            return
        name, rest = args[0], args[1:]
        cmd = main.get_command(root, name)
        assert cmd is not None, f"vqcodec has no command {name!r} (it has {', '.join(main.list_commands(root))})"
        try:
            cmd.make_context(name, list(rest), parent=root, resilient_parsing=False)
        except click.exceptions.Exit as e:  # --help
            assert e.exit_code == 0
        except click.ClickException as e:
            raise AssertionError(f"`vqcodec {shlex.join(args)}`: {e.format_message()}") from None


SHELL = [b for b in BLOCKS if b.lang in SHELLS]
COMMANDS = [(b, args) for b in SHELL for args in _commands(b.text)]
RECIPE_COMMANDS = [(p, args) for p in RECIPES for args in _commands(p.read_text(encoding="utf-8"))]


def test_commands_found():
    assert COMMANDS, "no vqcodec command found in the pages: the block parser is broken"
    for recipe in RECIPES:
        assert any(p == recipe for p, _ in RECIPE_COMMANDS), f"no vqcodec command in {recipe.name}"


@pytest.mark.parametrize("block,args", COMMANDS, ids=[f"{b.id}:{' '.join(a[:1])}" for b, a in COMMANDS])
def test_documented_command_parses(block: Block, args: list[str]):
    check_command(args)


@pytest.mark.parametrize("recipe,args", RECIPE_COMMANDS,
                         ids=[f"{p.name}:{i}" for i, (p, _) in enumerate(RECIPE_COMMANDS)])
def test_recipe_command_parses(recipe: Path, args: list[str]):
    check_command(args)


def test_command_checker_rejects_what_click_rejects():
    check_command(["compress", "a.mp4", "b.vqv", "--mode", "lowlatency", "--keyint", "8"])
    for bad in (["compres", "a.mp4", "b.vqv"], ["compress", "a.mp4", "b.vqv", "--mode", "fast"],
                ["decompress", "a.vqv", "out.y4m", "--no-such-option"], ["compress", "a.mp4"]):
        with pytest.raises(AssertionError):
            check_command(bad)
    assert _commands("ffmpeg -i x -f yuv4mpegpipe - | vqcodec compress - out.vqv\n"
                     "vqcodec decompress a.vqv - | ffplay -   # play it\n"
                     "vqcodec train --data \"$BIKES:0-0.5\" \\\n    --out runs/x && echo done\n") == [
        ["compress", "-", "out.vqv"], ["decompress", "a.vqv", "-"],
        ["train", "--data", "$BIKES:0-0.5", "--out", "runs/x"]]


def test_recipes_are_strict_bash():
    for recipe in RECIPES:
        text = recipe.read_text(encoding="utf-8")
        assert text.startswith("#!/usr/bin/env bash"), recipe.name
        assert "set -euo pipefail" in text, recipe.name


# ---------------------------------------------------------------- paths and links

_PATHS = re.compile(r"(?<![\w./-])((?:benchmarks|examples|fuzz|recipes)/[\w.\-/]*[\w\-])")


def _mentioned_paths(text: str) -> set[str]:
    return {m.group(1) for m in _PATHS.finditer(text)}


@pytest.mark.parametrize("page", LINKED, ids=[str(p.relative_to(ROOT)) for p in LINKED])
def test_mentioned_paths_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    missing = []
    for p in sorted(_mentioned_paths(text)):
        if p.startswith("benchmarks/results") and page.name == "history.md":
            continue  # history names results that left the tree on purpose
        if not (ROOT / p).exists():
            missing.append(p)
    assert not missing, f"{page.relative_to(ROOT)} mentions paths that do not exist: {missing}"


def test_python_benchmark_commands_name_real_scripts():
    scripts = set()
    for page in LINKED:
        scripts |= set(re.findall(r"python3? ((?:benchmarks|examples|fuzz)/\w+\.py)", page.read_text(encoding="utf-8")))
    assert scripts, "no `python benchmarks/X.py` found: the pattern is broken"
    assert not [s for s in scripts if not (ROOT / s).is_file()]


_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors, seen = set(), {}
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not in_code:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            anchors.add(slug if n == 0 else f"{slug}-{n}")
            seen[slug] = n + 1
    return anchors


@pytest.mark.parametrize("page", LINKED, ids=[str(p.relative_to(ROOT)) for p in LINKED])
def test_relative_links_resolve(page: Path):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^(\s*)(`{3,}|~{3,}).*?^\1\2", "", text)  # links inside code blocks are code
    text = re.sub(r"`[^`\n]*`", "", text)
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_slug_matches_github():
    assert _slug("Streaming: Python API, pipes and --follow") == "streaming-python-api-pipes-and---follow"
    assert _slug("The `.vqv` header") == "the-vqv-header"


# ---------------------------------------------------------------- the README's results table

RD_JSON = ROOT / "benchmarks" / "results" / "rd_default" / "carphone_pristine.json"


def _x264_bpp_at(points: list[dict], psnr: float) -> float | None:
    """x264 medium's bits/pixel at `psnr`, log-interpolated between its two nearest points."""
    xs = sorted((p["psnr_rgb"], p["bpp"]) for p in points if p["curve"] == "x264 medium")
    for (a, ba), (b, bb) in zip(xs, xs[1:]):
        if a <= psnr <= b:
            t = (psnr - a) / (b - a)
            return math.exp(math.log(ba) + t * (math.log(bb) - math.log(ba)))
    return None


def test_readme_results_table_is_the_shipped_models():
    doc = json.loads(RD_JSON.read_text())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert doc["command"] in readme, "the README must quote the command recorded in the results JSON"
    sha = doc["model"]["sha256"]
    weights = ROOT / "vqcodec" / "weights" / "default.safetensors"
    if weights.is_file() and weights.stat().st_size > 1 << 20:  # not a Git LFS pointer
        import hashlib

        assert hashlib.sha256(weights.read_bytes()).hexdigest() == sha, \
            "benchmarks/results/rd_default/ was not measured on the shipped weights"
    assert sha[:12] in readme
    points = {p["setting"]: p for p in doc["points"] if p["curve"] == "vqcodec full"}
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+) dB\s*\|\s*([^|]*)\|\s*([^|]*)\|",
                      readme, re.M)
    assert len(rows) == len(points), f"README table has {len(rows)} rows, the JSON {len(points)} points"
    for q, size, bpp, psnr, x264, ratio in rows:
        p = points[f"q={q}"]
        assert int(size) == p["bytes"] and bpp == f"{p['bpp']:.4f}" and psnr == f"{p['psnr_rgb']:.2f}", q
        ref = _x264_bpp_at(doc["points"], p["psnr_rgb"])
        if ref is None:
            assert not re.fullmatch(r"[\d.]+", x264.strip()), f"q{q}: x264 has no point at {p['psnr_rgb']:.2f} dB"
        else:
            assert x264.strip() == f"{ref:.4f}" and ratio.strip() == f"{p['bpp'] / ref:.2f}x", q
    bd = next(b for b in doc["bd_rate"] if b["metric"] == "psnr_rgb" and b["anchor"] == "x264 medium")
    assert f"+{round(bd['percent'])} %" in readme
