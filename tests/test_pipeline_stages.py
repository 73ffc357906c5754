"""Stage records: a finished stage is reused, a changed one reruns with all after it."""

from __future__ import annotations

import json

import pytest

from nasdsl.pipeline.stages import StageBook, StageResult


def _stage(calls, name, out):
    def fn():
        calls.append(name)
        out.write_text(name)
        return StageResult({"out": out.name}, {"n": len(calls)})
    return fn


def test_second_run_reuses_and_changed_settings_rerun_downstream(tmp_path):
    calls: list[str] = []
    for _ in range(2):
        book = StageBook(tmp_path, log=lambda s: None)
        book.run_stage("a", {"k": 1}, _stage(calls, "a", tmp_path / "a.txt"))
        book.run_stage("b", {"k": 2}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b"]
    book = StageBook(tmp_path, log=lambda s: None)
    book.run_stage("a", {"k": 99}, _stage(calls, "a", tmp_path / "a.txt"))
    book.run_stage("b", {"k": 2}, _stage(calls, "b", tmp_path / "b.txt"))
    assert calls == ["a", "b", "a", "b"]  # b consumed a's output: it reruns too
    rec = json.loads((tmp_path / "stages.json").read_text())
    assert rec["b"]["status"] == "done" and rec["b"]["outputs"] == {"out": "b.txt"}


def test_missing_output_or_failure_reruns(tmp_path):
    calls: list[str] = []
    StageBook(tmp_path, log=lambda s: None).run_stage(
        "a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    (tmp_path / "a.txt").unlink()
    StageBook(tmp_path, log=lambda s: None).run_stage(
        "a", {}, _stage(calls, "a", tmp_path / "a.txt"))
    assert calls == ["a", "a"]

    def boom():
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        StageBook(tmp_path, log=lambda s: None).run_stage("c", {}, boom)
    assert json.loads((tmp_path / "stages.json").read_text())["c"]["status"] == "failed"
