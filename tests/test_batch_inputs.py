"""vqcodec.batch.inputs: INPUT arguments (files, folders, lists) -> jobs and their output paths."""
from pathlib import Path, PurePosixPath

import pytest

from vqcodec.batch.inputs import (
    VIDEO_EXTENSIONS,
    VQV_EXTENSIONS,
    decoded_name,
    find_inputs,
    plan_jobs,
    with_suffix_added,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def tree(tmp_path):
    for name in ("a.mp4", "sub/b.MKV", "sub/deeper/c.mov", "sub/.hidden/d.mp4", ".e.mp4", "notes.txt",
                 "photo.jpg", "sub/old.vqv", "sub/.old.vqv.0123abcd.part"):
        touch(tmp_path / "corpus" / name)
    return tmp_path / "corpus"


def names(found) -> list[str]:
    return [str(f.name) for f in found]


def test_a_folder_is_searched_recursively_for_video_names(tree):
    assert names(find_inputs([str(tree)], VIDEO_EXTENSIONS)) == ["a.mp4", "sub/b.MKV", "sub/deeper/c.mov"]
    assert names(find_inputs([str(tree)], VQV_EXTENSIONS)) == ["sub/old.vqv"]  # never a hidden temporary


def test_a_file_is_taken_whatever_its_name(tree):
    assert names(find_inputs([str(tree / "photo.jpg")], VIDEO_EXTENSIONS)) == ["photo.jpg"]


def test_a_list_keeps_relative_paths_and_reports_stale_entries(tree, tmp_path):
    listing = tmp_path / "paths.list"
    listing.write_text(f"# a comment\n\ncorpus/a.mp4\n  corpus/sub/deeper  \n{tree / 'sub/b.MKV'}\n"
                       "../outside/x.mp4\ncorpus/missing.mp4\n")
    found = find_inputs([str(listing)], VIDEO_EXTENSIONS)
    assert names(found) == ["corpus/a.mp4", "corpus/sub/deeper/c.mov", "b.MKV", "x.mp4", "corpus/missing.mp4"]
    assert found[-1].source == tmp_path / "corpus/missing.mp4"  # relative to the list's folder


def test_the_same_file_twice_is_one_input(tree):
    assert names(find_inputs([str(tree / "a.mp4"), str(tree)], VIDEO_EXTENSIONS)) == [
        "a.mp4", "sub/b.MKV", "sub/deeper/c.mov"]


def test_a_missing_input_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no such file or folder"):
        find_inputs([str(tmp_path / "nope")], VIDEO_EXTENSIONS)


def test_jobs_mirror_the_tree_with_absolute_paths(tree, tmp_path):
    jobs = plan_jobs([str(tree)], tmp_path / "out", VIDEO_EXTENSIONS, with_suffix_added(".vqv"))
    assert [j.output for j in jobs] == [str(tmp_path / "out" / n) for n in
                                        ("a.mp4.vqv", "sub/b.MKV.vqv", "sub/deeper/c.mov.vqv")]
    assert all(Path(j.source).is_absolute() for j in jobs)


def test_two_inputs_writing_one_output_are_refused(tmp_path):
    a, b = touch(tmp_path / "x" / "clip.mp4"), touch(tmp_path / "y" / "clip.mp4")
    with pytest.raises(ValueError, match="would both write"):
        plan_jobs([str(a), str(b)], tmp_path / "out", VIDEO_EXTENSIONS, with_suffix_added(".vqv"))


def test_nothing_found_is_an_error(tmp_path):
    touch(tmp_path / "docs" / "readme.txt")
    with pytest.raises(ValueError, match="no inputs"):
        plan_jobs([str(tmp_path / "docs")], tmp_path / "out", VIDEO_EXTENSIONS, with_suffix_added(".vqv"))


@pytest.mark.parametrize("name, decoded", [("a/clip.mp4.vqv", "a/clip.mkv"), ("clip.vqv", "clip.mkv"),
                                           ("clip.v2.vqv", "clip.v2.mkv")])
def test_decoded_names(name, decoded):
    assert decoded_name(".mkv")(PurePosixPath(name)) == PurePosixPath(decoded)
