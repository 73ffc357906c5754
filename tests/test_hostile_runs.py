"""Hostile run directories and manifests (#15 rows 4, 6 and Must-show): every command
that reads a run directory, on every mutation, exits 1 or 2 with a message naming the
file and the field, never a traceback, and changes nothing outside its output (a
snapshot of the whole tree, victim files included, before and after).

The corpus runs in-process (CliRunner: the same guard and code path, seconds in all);
the headline cases also run as subprocesses with their peak RSS bounded, and the whole
corpus does under `-m slow` (each subprocess imports torch: seconds apiece on 2 cores).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import SPECS  # noqa: E402
from hostile_run import assert_refused, run_cli, snapshot  # noqa: E402
from nasdsl.cli import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
RSS_BOUND_MIB = 1536   # torch + MONAI + onnxruntime imported; a refusal allocates nothing


# ---- two small, real runs (module fixtures, built once) -------------------------------------
@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    from nasdsl.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("pristine")
    make_synthetic_dataset(root / "data", dims=2, cases=4, tests=1, size=32)
    r = CliRunner().invoke(main, [
        "train", str(SPECS / "unet.nas"), "-D", "base=4", "-D", "depth=2", "-D", "classes=4",
        "--epochs", "1", "--steps-per-epoch", "2", "--batch", "2", "--patch", "32x32",
        "--folds", "2", "--no-progress", "--device", "cpu",
        "--data", str(root / "data"), "--out", str(root / "train")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, [
        "search", str(SPECS / "nas_unet.nas"), "--engine", "random", "-D", "C=4",
        "-D", "depth=2", "-D", "patch=32", "-D", "classes=4", "--set", "epochs=1",
        "--set", "samples=1", "--set", "batch_size=2", "--set", "steps_per_epoch=1",
        "--no-progress", "--device", "cpu", "--data", str(root / "data"),
        "--out", str(root / "search")])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture
def tree(pristine, tmp_path) -> Path:
    """A copy of the runs and data, plus a victim folder outside every run."""
    root = tmp_path / "tree"
    shutil.copytree(pristine, root, symlinks=True)
    (root / "victim").mkdir()
    (root / "victim" / "precious.txt").write_text("must not change\n")
    return root


# ---- mutations -------------------------------------------------------------------------------
def edit_json(run: str, name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / run / name
        d = json.loads(path.read_text())
        change(d)
        path.write_text(json.dumps(d))
    return mutate


def edit_manifest(run: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    return edit_json(run, "manifest.json", change)


def replace_with_link(run: str, name: str, target: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / run / name
        if path.is_dir():
            shutil.copytree(path, root / target, dirs_exist_ok=True)
            shutil.rmtree(path)
        elif path.exists() and not (root / target).exists():
            shutil.copy(path, root / target)
        path.unlink(missing_ok=True)
        path.symlink_to(root / target)
    return mutate


def edit_network(run: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    return edit_json(run, "network.json", change)


def remove(run: str, name: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / run / name).unlink()
    return mutate


def write_file(run: str, name: str, data: bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / run / name).write_bytes(data)
    return mutate


def fifo(run: str, name: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / run / name).unlink()
        os.mkfifo(root / run / name)
    return mutate


class _Gadget:
    def __reduce__(self):
        return (print, ("code from a checkpoint ran",))


def _drop(*keys: str) -> Callable[[dict], None]:
    def change(m: dict) -> None:
        d = m
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return change


def _set(value, *keys: str) -> Callable[[dict], None]:
    def change(m: dict) -> None:
        d = m
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


# commands that read a train run / a search run; {R} the run, {D} data, {O} an output
TRAIN_READERS = {
    "export": ["export", "{R}", "-o", "{O}/m.onnx"],
    "infer": ["infer", "{R}", "{D}/imagesTs/synth_004.nii.gz", "--out", "{O}/seg"],
    "eval": ["eval", "{R}", "--data", "{D}", "--csv", "{O}/eval.csv", "--no-progress"],
    "resume": ["train", "--resume", "--out", "{R}", "--no-progress"],
}
SEARCH_READERS = {
    "derive": ["derive", "{R}"],
    "resume": ["search", "--resume", "--out", "{R}", "--no-progress"],
}


@dataclass
class Case:
    name: str
    run: str                          # "train" or "search"
    mutate: Callable[[Path], None]
    expect: tuple[str, ...]           # words the message must hold (file, field)
    readers: tuple[str, ...] = ()     # default: every reader of that kind of run


CASES = [
    # manifests (#15 row 6): schema, field named
    Case("train-no-infer", "train", edit_manifest("train", _drop("infer")),
         ("manifest.json", "`infer`", "missing")),
    Case("train-window-string", "train", edit_manifest("train", _set("big", "infer", "window")),
         ("manifest.json", "`infer.window`")),
    Case("train-window-huge", "train",
         edit_manifest("train", _set([10 ** 6, 10 ** 6], "infer", "window")),
         ("manifest.json", "infer.window")),
    Case("train-seed-string", "train", edit_manifest("train", _set("0", "seed")),
         ("manifest.json", "`seed`", "integer")),
    Case("train-overlap-nan", "train",
         edit_manifest("train", _set(float("nan"), "infer", "overlap")),
         ("manifest.json", "`infer.overlap`")),
    Case("train-norm-empty", "train", edit_manifest("train", _set([], "plan", "normalization")),
         ("manifest.json", "`plan.normalization`")),
    Case("train-classes-zero", "train", edit_manifest("train", _set(0, "infer", "classes")),
         ("manifest.json", "`infer.classes`")),
    Case("train-batch-zero", "train",
         edit_manifest("train", _set(0, "request", "config", "batch_size")),
         ("manifest.json", "`request.config.batch_size`")),
    Case("train-spec-missing", "train", edit_manifest("train", _drop("spec", "path")),
         ("manifest.json", "`spec.path`")),
    Case("train-kind-unknown", "train", edit_manifest("train", _set("mystery", "kind")),
         ("manifest.json", "`kind`")),
    Case("manifest-not-json", "train", write_file("train", "manifest.json", b"{not json"),
         ("manifest.json", "damaged")),
    Case("manifest-a-list", "train", write_file("train", "manifest.json", b"[1, 2]"),
         ("manifest.json", "object")),
    Case("manifest-deep", "train", write_file("train", "manifest.json", b"[" * 100000),
         ("manifest.json", "damaged")),
    Case("manifest-huge", "train",
         write_file("train", "manifest.json", b" " * (17 << 20) + b"{}"),
         ("manifest.json", "MiB")),
    Case("manifest-fifo", "train", fifo("train", "manifest.json"),
         ("manifest.json", "regular file")),
    Case("search-engine-unknown", "search", edit_manifest("search", _set("nope", "engine")),
         ("manifest.json", "`engine`")),
    Case("search-no-decision-table", "search",
         edit_manifest("search", _drop("decision_table")),
         ("manifest.json", "`decision_table`", "missing")),
    Case("search-seed-string", "search", edit_manifest("search", _set("0", "seed")),
         ("manifest.json", "`seed`")),
    Case("search-setting-string", "search",
         edit_manifest("search", _set("3", "settings", "epochs")),
         ("manifest.json", "`settings.epochs`")),
    # the run's network (#16: network.json, the one artifact every stage reads)
    Case("train-network-text-edited", "train",
         edit_network("train", lambda a: a["spec"].update(text=a["spec"]["text"] + "#")),
         ("network.json", "fingerprint")),
    Case("search-network-text-edited", "search",
         edit_network("search", lambda a: a["spec"].update(text=a["spec"]["text"] + "#")),
         ("network.json", "fingerprint")),
    Case("search-network-override-list", "search",
         edit_network("search", _set([4], "overrides", "C")),
         ("network.json", "overrides.C")),
    Case("train-network-kind-number", "train", edit_network("train", _set(3, "kind")),
         ("network.json", "`kind`")),
    Case("train-network-missing", "train", remove("train", "network.json"),
         ("network.json", "missing")),
    Case("search-network-not-json", "search", write_file("search", "network.json", b"{x"),
         ("network.json", "damaged")),
    Case("train-network-huge", "train",
         write_file("train", "network.json", b" " * (17 << 20) + b"{}"),
         ("network.json", "MiB")),
    Case("train-network-fingerprint-number", "train",
         edit_manifest("train", _set(7, "network", "fingerprint")),
         ("manifest.json", "`network.fingerprint`")),
    Case("train-network-fifo", "train", fifo("train", "network.json"),
         ("network.json", "regular file")),
    Case("network-link-out", "train", replace_with_link("train", "network.json",
                                                        "victim/network.json"),
         ("network.json", "symbolic link")),
    # links out of the run (#15 row 4)
    Case("manifest-link-out", "train", replace_with_link("train", "manifest.json",
                                                         "victim/manifest.json"),
         ("manifest.json", "symbolic link")),
    Case("metrics-link-out", "search", replace_with_link("search", "metrics.jsonl",
                                                         "victim/precious.txt"),
         ("metrics.jsonl", "symbolic link")),
    Case("train-metrics-link-out", "train", replace_with_link("train", "metrics.jsonl",
                                                              "victim/precious.txt"),
         ("metrics.jsonl", "symbolic link"), ("resume",)),
    Case("checkpoints-link-out", "train", replace_with_link("train", "checkpoints",
                                                           "victim/ckpts"),
         ("checkpoints", "symbolic link")),
    Case("search-checkpoints-link-out", "search",
         replace_with_link("search", "checkpoints", "victim/sckpts"),
         ("checkpoints", "symbolic link")),
    Case("cache-link-out", "train", replace_with_link("train", "cache", "victim/cache"),
         ("cache", "symbolic link"), ("resume",)),
    Case("checkpoint-link-out", "train",
         replace_with_link("train", "checkpoints/best.pt", "victim/best.pt"),
         ("best.pt", "symbolic link"), ("export", "infer")),
    # checkpoints that are not ours
    Case("checkpoint-garbage", "train", write_file("train", "checkpoints/best.pt", b"junk"),
         ("best.pt", "not a readable nasdsl checkpoint"), ("export", "infer")),
    Case("checkpoint-pickle-gadget", "train",
         write_file("train", "checkpoints/best.pt", pickle.dumps(_Gadget())),
         ("best.pt", "not a readable nasdsl checkpoint"), ("export", "infer")),
]


def _args(template: list[str], root: Path, run: str) -> list[str]:
    return [a.format(R=root / run, D=root / "data", O=root / "out") for a in template]


def _readers(case: Case) -> dict[str, list[str]]:
    every = TRAIN_READERS if case.run == "train" else SEARCH_READERS
    return {k: v for k, v in every.items() if not case.readers or k in case.readers}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_reader_refuses_cleanly(tree, case):
    case.mutate(tree)
    (tree / "out").mkdir()
    for reader, template in _readers(case).items():
        before = snapshot(tree)
        r = CliRunner().invoke(main, _args(template, tree, case.run))
        where = f"{case.name} via {reader}"
        assert r.exit_code in (1, 2), f"{where}: exit {r.exit_code}\n{r.output}"
        assert "Traceback" not in r.output and "internal error" not in r.output, r.output
        assert "weights_only=False" not in r.output and "code from a checkpoint" not in r.output
        for word in case.expect:
            assert word in r.stderr, f"{where}: {word!r} not in\n{r.stderr}"
        after = snapshot(tree)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                         and not k.startswith("out"))
        assert not changed, f"{where}: changed outside its output: {changed}"
    assert (tree / "victim" / "precious.txt").read_text() == "must not change\n"


HEADLINE = ["train-no-infer", "search-engine-unknown", "metrics-link-out",
            "checkpoints-link-out"]


@pytest.mark.parametrize("name", HEADLINE)
def test_headline_cases_as_subprocesses(tree, name):
    case = next(c for c in CASES if c.name == name)
    case.mutate(tree)
    (tree / "out").mkdir()
    reader, template = next(iter(_readers(case).items()))
    before = snapshot(tree, skip=(tree / "out",))
    res = run_cli(_args(template, tree, case.run), cwd=tree, timeout=240)
    assert_refused(res, case.expect, RSS_BOUND_MIB)
    assert snapshot(tree, skip=(tree / "out",)) == before


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_reader_as_a_subprocess(tree, case):
    case.mutate(tree)
    (tree / "out").mkdir()
    for reader, template in _readers(case).items():
        before = snapshot(tree, skip=(tree / "out",))
        res = run_cli(_args(template, tree, case.run), cwd=tree, timeout=600)
        assert_refused(res, case.expect, RSS_BOUND_MIB)
        assert snapshot(tree, skip=(tree / "out",)) == before, f"{case.name} via {reader}"


def test_a_failed_init_from_leaves_no_run_that_blocks_the_retry(pristine, tmp_path):
    """#15 row 9: the manifest used to be written before --init-from was checked."""
    out = tmp_path / "new"
    bad = tmp_path / "bad.pt"
    torch.save({"model": {"nope": torch.zeros(1)}}, bad)
    args = ["train", str(SPECS / "unet.nas"), "-D", "base=4", "-D", "depth=2",
            "-D", "classes=4", "--epochs", "1", "--steps-per-epoch", "1", "--batch", "2",
            "--patch", "32x32", "--folds", "2", "--no-progress", "--device", "cpu",
            "--data", str(pristine / "data"), "--out", str(out)]
    r = CliRunner().invoke(main, [*args, "--init-from", str(bad)])
    assert r.exit_code == 2 and "bad.pt" in r.stderr, r.output
    assert not (out / "manifest.json").exists()
    r = CliRunner().invoke(main, [*args, "--init-from", str(pristine / "train")])
    assert r.exit_code == 0, r.output


def test_a_real_run_still_passes_its_schema(pristine):
    from nasdsl.runs import RunDir

    assert RunDir(pristine / "train").manifest()["kind"] == "train"
    assert RunDir(pristine / "search").manifest()["engine"] == "random"
