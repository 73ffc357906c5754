"""No command that writes loses a user's file (#15 row 2): each reproduction from the
issue, with a snapshot of the tree before and after."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SPECS
from nasdsl.cli import main
from nasdsl.outputs import MADE_MARK, OutputError, write_dir_atomic
from hostile_run import snapshot


def changes(before: dict, after: dict) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def users_dataset(folder: Path) -> Path:
    """A folder the user made: dataset.json, a scan and a label."""
    for name, text in (("dataset.json", '{"name": "mine"}'), ("imagesTr/a.nii.gz", "scan"),
                       ("labelsTr/a.nii.gz", "label"), ("notes.txt", "my notes")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_run_never_deletes_a_data_folder_it_did_not_write(tmp_path):
    out = tmp_path / "out"
    users_dataset(out / "data")
    before = snapshot(out / "data")
    r = invoke("run", str(SPECS / "nas_unet.nas"), "--out", str(out), "--no-progress")
    assert r.exit_code == 2, r.output
    assert "not written by nasdsl" in r.stderr and "--data" in r.stderr
    assert changes(before, snapshot(out / "data")) == []


def test_data_synth_never_overwrites_an_existing_dataset(tmp_path):
    mine = users_dataset(tmp_path / "mine")
    before = snapshot(tmp_path)
    r = invoke("data", "synth", "--out", str(mine), "--dims", "2", "--cases", "1",
               "--tests", "0", "--size", "16")
    assert r.exit_code == 2 and "not written by nasdsl" in r.stderr, r.output
    assert changes(before, snapshot(tmp_path)) == []


def test_data_synth_replaces_only_what_it_wrote(tmp_path):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--dims", "2", "--cases", "1", "--tests", "0",
            "--size", "16"]
    assert invoke(*args).exit_code == 0
    assert (out / MADE_MARK).is_file() and (out / "dataset.json").is_file()
    first = snapshot(out)
    r = invoke(*args[:-1], "32")    # again, another size: its own folder is replaced whole
    assert r.exit_code == 0, r.output
    assert changes(first, snapshot(out)), "the second dataset was not written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]   # no temp left


def test_write_dir_atomic_keeps_the_old_folder_when_the_build_fails(tmp_path):
    target = tmp_path / "d"

    def build(d: Path, text: str) -> None:
        (d / "f").write_text(text)

    def broken(d: Path) -> None:
        build(d, "two")
        raise RuntimeError("killed half way")

    write_dir_atomic(target, lambda d: build(d, "one"), "a test folder")
    with pytest.raises(RuntimeError):
        write_dir_atomic(target, broken, "a test folder")
    assert (target / "f").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        write_dir_atomic(link, lambda d: build(d, "three"), "a test folder")


def fake_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run directory as far as export reads it before loading anything."""
    import json

    spec = tmp_path / "spec.nas"
    shutil.copy(SPECS / "genotypes" / "nas_unet_v2.nas", spec)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.pt").write_bytes(b"weights")
    (run / "metrics.jsonl").write_text("{}\n")
    (run / "manifest.json").write_text(json.dumps(
        {"spec": {"path": str(spec), "space_path": str(spec)}}))
    return run, spec


def test_export_never_replaces_the_runs_files_or_its_spec(tmp_path):
    run, spec = fake_run(tmp_path)
    (tmp_path / "alias.onnx").symlink_to(spec)
    before = snapshot(tmp_path)
    for target in (run / "checkpoints" / "best.pt", spec, run / "manifest.json",
                   run / "metrics.jsonl", tmp_path / "alias.onnx"):
        r = invoke("export", str(run), "-o", str(target))
        assert r.exit_code == 2, (target, r.output)
        assert "Traceback" not in r.output and str(target.name) in r.stderr
    assert changes(before, snapshot(tmp_path)) == []


def test_infer_never_writes_into_the_folder_of_its_inputs(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "case.nii.gz").write_bytes(b"the scan")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read: the output check comes first")
    before = snapshot(tmp_path)
    for out in (scans, Path(os.path.relpath(scans)), scans / "."):
        r = invoke("infer", str(model), str(scans / "case.nii.gz"), "--out", str(out))
        assert r.exit_code == 2 and "would replace" in r.stderr, r.output
    r = invoke("infer", str(model), str(scans), "--out", str(scans / "seg"))
    assert r.exit_code == 2 and "would replace" in r.stderr, r.output
    assert changes(before, snapshot(tmp_path)) == []


def test_run_never_writes_into_a_folder_of_the_users(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.py").write_text("my own model")
    data = users_dataset(tmp_path / "data")
    before = snapshot(tmp_path)
    r = invoke("run", str(SPECS / "nas_unet.nas"), "--out", str(mine), "--no-progress")
    assert r.exit_code == 2 and "not a nasdsl run folder" in r.stderr, r.output
    r = invoke("run", str(SPECS / "nas_unet.nas"), "--data", str(data),
               "--out", str(data / "run"), "--no-progress")
    assert r.exit_code == 2 and "inside the dataset" in r.stderr, r.output
    assert changes(before, snapshot(tmp_path)) == []


def test_eval_and_inspect_never_write_into_the_dataset(tmp_path):
    data = users_dataset(tmp_path / "data")
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "a.nii.gz").write_text("a prediction")
    before = snapshot(tmp_path)
    r = invoke("data", "inspect", str(data), "-o", str(data / "dataset.json"))
    assert r.exit_code == 2 and "inside the dataset" in r.stderr, r.output
    for csv in (data / "dataset.json", data / "scores.csv", preds / "a.nii.gz"):
        r = invoke("eval", str(preds), "--data", str(data), "--csv", str(csv),
                   "--no-progress")
        assert r.exit_code == 2 and "inside the" in r.stderr, (csv, r.output)
    assert changes(before, snapshot(tmp_path)) == []
