"""Stage records: a finished stage is reused, a changed one reruns with all after it;
reuse is by content (what a stage read and wrote), not by path (issue #15 row 7)."""

from __future__ import annotations

import json

import pytest

from nasdsl.pipeline.stages import Attempt, StageBook, StageConflict, StageResult


def _stage(calls, name, out, seen=None):
    def fn(attempt: Attempt):
        calls.append(name)
        if seen is not None:
            seen.append(attempt.resume)
        out.write_text(f"{name} run {len(calls)}")  # a rerun writes other content
        return StageResult({"out": out.name}, {"n": len(calls)})
    return fn


def _book(tmp_path):
    return StageBook(tmp_path, log=lambda s: None)


def test_second_run_reuses_and_changed_settings_rerun_downstream(tmp_path):
    calls: list[str] = []
    for _ in range(2):
        book = _book(tmp_path)
        book.run_stage("a", {"k": 1}, _stage(calls, "a", tmp_path / "a.txt"))
        book.run_stage("b", {"k": 2}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b"]
    book = _book(tmp_path)
    book.run_stage("a", {"k": 99}, _stage(calls, "a", tmp_path / "a.txt"))
    book.run_stage("b", {"k": 2}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b", "a", "b"]  # b consumed a's output: it reruns too
    rec = json.loads((tmp_path / "stages.json").read_text())
    assert rec["b"]["status"] == "done" and rec["b"]["outputs"] == {"out": "b.txt"}


def test_an_edited_output_reruns_its_stage_and_the_ones_after(tmp_path):
    """Same path, other content: the old book reused it (it checked existence only)."""
    calls: list[str] = []
    book = _book(tmp_path)
    book.run_stage("a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    book.run_stage("b", {}, _stage(calls, "b", tmp_path / "b.txt"))
    (tmp_path / "a.txt").write_text("edited by hand")
    book = _book(tmp_path)
    book.run_stage("a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    book.run_stage("b", {}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b", "a", "b"]
    (tmp_path / "b.txt").write_text("edited by hand")  # the last stage alone reruns
    book = _book(tmp_path)
    book.run_stage("a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    book.run_stage("b", {}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b", "a", "b", "b"]


def test_missing_output_or_failure_reruns(tmp_path):
    calls: list[str] = []
    _book(tmp_path).run_stage("a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    (tmp_path / "a.txt").unlink()
    _book(tmp_path).run_stage("a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    assert calls == ["a", "a"]

    def boom(attempt):
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        _book(tmp_path).run_stage("c", {}, boom)
    assert json.loads((tmp_path / "stages.json").read_text())["c"]["status"] == "failed"


def test_interrupted_stage_resumes_but_changed_one_starts_clean(tmp_path):
    """Same fingerprint after a failure: resume (the search/train checkpoints); other
    inputs: what the earlier attempt wrote is removed first (no 'cannot resume')."""
    owned = tmp_path / "work"

    def boom(attempt):
        owned.mkdir(exist_ok=True)
        (owned / "ckpt").write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        _book(tmp_path).run_stage("s", {"engine": "darts"}, boom, owns=("work",))
    seen: list[bool] = []
    calls: list[str] = []
    _book(tmp_path).run_stage("s", {"engine": "darts"},
                              _stage(calls, "s", tmp_path / "s.txt", seen), owns=("work",))
    assert seen == [True] and (owned / "ckpt").exists()
    _book(tmp_path).run_stage("s", {"engine": "random"},
                              _stage(calls, "s", tmp_path / "s.txt", seen), owns=("work",))
    assert seen == [True, False] and not owned.exists()


def test_a_path_nasdsl_did_not_write_is_never_removed(tmp_path):
    theirs = tmp_path / "data"
    theirs.mkdir()
    (theirs / "precious.nii.gz").write_bytes(b"x")
    with pytest.raises(StageConflict, match="does not say nasdsl wrote it"):
        _book(tmp_path).run_stage("data", {}, _stage([], "d", tmp_path / "d.txt"),
                                  owns=("data",))
    assert (theirs / "precious.nii.gz").read_bytes() == b"x"


def test_dataset_content_id_follows_the_label_maps(tmp_path):
    """Rewriting every label map as background changes the id the search and the
    training are fingerprinted with (the old data stage held only the path)."""
    import numpy as np
    from data_fixtures import msd, write_nifti

    from nasdsl.pipeline.content import HashCache, dataset_id

    root = msd(tmp_path / "ds")
    cache = HashCache(tmp_path)
    before = dataset_id(root, cache)
    cache.save()
    assert dataset_id(root, HashCache(tmp_path)) == before  # the cache answers alike
    for label in sorted((root / "labelsTr").iterdir()):
        write_nifti(label, np.zeros((12, 10, 6), np.uint8), (0.8, 0.8, 2.5))
    assert dataset_id(root, HashCache(tmp_path)) != before
