"""One compiled artifact per run (#16): RUN/network.json is the network every stage reads.

A tiny training run and a tiny search run are the references: their spec files are then
edited or deleted, and every later stage (export, infer, eval, resume, derive) must still
build the run's own network, bitwise; a damaged network.json is refused by name, with
nothing written; one process compiles one network once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from click.testing import CliRunner  # noqa: E402

import nasdsl.artifact as A  # noqa: E402
import nasdsl.compiler as C  # noqa: E402
from conftest import SPECS  # noqa: E402
from nasdsl.cli import main  # noqa: E402
from nasdsl.sema.values import Symbol  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = ["-D", "base=4", "-D", "depth=2", "-D", "classes=4", "--epochs", "1",
         "--steps-per-epoch", "2", "--batch", "2", "--patch", "32x32", "--folds", "3",
         "--no-progress", "--device", "cpu"]


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> tuple[Path, Path]:
    """(run, spec): a run trained from a copy of unet.nas that the tests may edit."""
    root = tmp_path_factory.mktemp("art")
    spec = root / "net.nas"
    spec.write_text((SPECS / "unet.nas").read_text())
    run = root / "run"
    code, output = cli("train", str(spec), *TRAIN, "--data", str(dataset), "--out", str(run))
    assert code == 0, output
    return run, spec


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def outputs_of(run: Path, dataset: Path, where: Path) -> dict[str, bytes]:
    """What export, infer and eval make of a run, as bytes (bitwise comparisons)."""
    where.mkdir()
    image = sorted((dataset / "imagesTs").iterdir())[0]
    steps = (["export", str(run), "-o", str(where / "m.onnx")],
             ["infer", str(run), str(image), "--out", str(where / "seg"), "--device", "cpu",
              "--no-progress"],
             ["eval", str(run), "--data", str(dataset), "--csv", str(where / "e.csv"),
              "--no-progress"])
    for args in steps:
        code, output = cli(*args)
        assert code == 0, (args, output)
    files = [where / "m.onnx", *sorted((where / "seg").iterdir()), where / "e.csv"]
    return {f.name: f.read_bytes() for f in files}


# ---- the artifact itself -----------------------------------------------------------------
def test_round_trip_keeps_types_and_rebuilds_the_same_network(tmp_path, fresh_cache):
    """A genotype (two embedded files) with typed -D values: written, read back equal,
    and compiled from the embedded text alone (the files deleted) to the same network."""
    space = tmp_path / "thrifty_nas.nas"
    space.write_text((SPECS / "thrifty_nas.nas").read_text())
    (tmp_path / "g").mkdir()
    geno = tmp_path / "g" / "a.nas"
    geno.write_text((SPECS / "genotypes" / "thrifty_nas_a.nas").read_text())
    art = A.compile_files(str(geno), {"C": 8, "levels": 2, "classes": 4})
    assert art.kind == "genotype" and art.space is not None and art.decided
    A.write_artifact(tmp_path / "run", art)
    space.unlink()
    geno.unlink()
    back = A.read_artifact(tmp_path / "run", art.fingerprint)
    assert back == art and back.fingerprint == art.fingerprint
    A._COMPILED = A.Lru(A.COMPILES_KEPT)   # a new process: nothing compiled yet
    net = back.compiled()
    assert net.genotype_hash() == art.genotype_hash and net.kind == "genotype"
    assert net.params["C"] == 8 and dict(net.decided) == dict(art.decided)
    # every kind of -D value keeps its type through JSON
    typed = A.NetworkArtifact("space", "s", A.SpecText("s.nas", "x"), None,
                              (("a", 2), ("b", 2.0), ("c", True), ("d", Symbol("relu")),
                               ("e", (1, (2, 3)))), (8, 8), (("x", ("p0", "n[0]")),), (),
                              "h")
    again = A.NetworkArtifact.from_json(json.loads(json.dumps(typed.to_json())), "f")
    assert again == typed and type(dict(again.overrides)["b"]) is float
    assert type(dict(again.overrides)["a"]) is int


# ---- a training run whose spec changed ------------------------------------------------------
def test_edited_then_deleted_spec_still_exports_infers_and_evaluates_the_run(
        trained, dataset, tmp_path):
    """On old main export/infer/eval refused ("changed since this run was trained") or
    compiled the edited file; now they build the run's own network, bitwise the same."""
    run, spec = trained
    run = copy_run(run, tmp_path / "run")
    before = outputs_of(run, dataset, tmp_path / "before")
    original = spec.read_text()
    try:
        spec.write_text(other_network(original))
        edited = outputs_of(run, dataset, tmp_path / "edited")
        spec.unlink()
        gone = outputs_of(run, dataset, tmp_path / "gone")
    finally:
        spec.write_text(original)
    assert edited.keys() == before.keys() == gone.keys()
    for name in before:
        if name.endswith(".onnx"):
            continue   # an ONNX file embeds no spec, but compare its graph's weights below
        assert edited[name] == before[name] and gone[name] == before[name], name
    import onnx

    weights = [{t.name: t.raw_data for t in onnx.load_from_string(d["m.onnx"]).graph.initializer}
               for d in (before, edited, gone)]
    assert weights[0] == weights[1] == weights[2] and weights[0]


def other_network(spec_text: str) -> str:
    """The spec edited into another valid network (5x5 instead of 3x3 convolutions)."""
    edited = spec_text.replace("conv(x, width, 3,", "conv(x, width, 5,")
    assert edited != spec_text
    return edited


@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_resume_continues_the_recorded_network(trained, tmp_path, change):
    """Resume loads last.pt strictly into the run's network: with the edited spec's 5x5
    convolutions it could not; old main refused both ("changed since", "is gone")."""
    run, spec = trained
    run = copy_run(run, tmp_path / "run")
    weights = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]
    original = spec.read_text()
    try:
        if change == "edited":
            spec.write_text(other_network(original))
        else:
            spec.unlink()
        code, output = cli("train", "--out", str(run), "--resume", "--no-progress")
    finally:
        spec.write_text(original)
    assert code == 0, output
    after = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert {k: v.shape for k, v in after.items()} == {k: v.shape for k, v in weights.items()}


def test_manifest_points_at_the_artifact(trained):
    run, spec = trained
    manifest = json.loads((run / "manifest.json").read_text())
    art = A.read_artifact(run)
    assert manifest["network"] == {"file": "network.json", "fingerprint": art.fingerprint}
    assert art.spec.text == (SPECS / "unet.nas").read_text()
    assert dict(art.overrides) == {"base": 4, "depth": 2, "classes": 4}
    assert manifest["spec"]["genotype_hash"] == art.genotype_hash  # provenance kept


# ---- one compile -------------------------------------------------------------------------------
def test_export_compiles_the_network_once(trained, tmp_path, compiles):
    """Old main compiled the spec three times for one export (and read its file each
    time); now one compile, from the run's network.json."""
    run, _ = trained
    code, output = cli("export", str(run), "-o", str(tmp_path / "m.onnx"))
    assert code == 0, output
    assert len(compiles) == 1, compiles


def test_a_new_run_compiles_its_spec_once_for_every_stage_of_a_process(trained, dataset,
                                                                      tmp_path, compiles):
    """Training then exporting in one process (what `nasdsl run` does): one compile."""
    _, spec = trained
    run = tmp_path / "run"
    code, output = cli("train", str(spec), *TRAIN, "--data", str(dataset), "--out", str(run))
    assert code == 0, output
    code, output = cli("export", str(run), "-o", str(tmp_path / "m.onnx"))
    assert code == 0, output
    assert len(compiles) == 1, compiles


# ---- a damaged network.json -------------------------------------------------------------------
def _edit_text(a: dict) -> None:
    a["spec"]["text"] += "\n# edited\n"


def _forge(a: dict) -> None:
    """Consistent fingerprint, spec text that is wrong: the front end still judges it."""
    a["spec"]["text"] = a["spec"]["text"].replace("param base", "param base_x")
    body = {k: v for k, v in a.items() if k != "fingerprint"}
    a["fingerprint"] = A._digest(body)


DAMAGE = {
    "text edited": (_edit_text, 2, "does not match its fingerprint"),
    "fingerprint edited": (lambda a: a.update(fingerprint="0" * 64), 2,
                           "does not match its fingerprint"),
    "kind of another type": (lambda a: a.update(kind=3), 2, "field `kind`"),
    "override a list": (lambda a: a["overrides"].update(base=[4]), 2, "overrides.base"),
    "text not a string": (lambda a: a["spec"].update(text=7), 2, "spec.text"),
    "another format": (lambda a: a.update(format=99), 2, "format 99"),
    "another run's": (lambda a: (a["overrides"].update(base=8), a.update(
        fingerprint=A._digest({k: v for k, v in a.items() if k != "fingerprint"}))),
        2, "belongs to another run"),
    "forged spec error": (_forge, 1, "error[E0415]"),
}


FILE_DAMAGE = {"not json": "not JSON", "oversized": "larger than", "missing": "missing"}


def _damaged(run: Path, tmp_path: Path, how: str) -> Path:
    run = copy_run(run, tmp_path / "run")
    path = run / "network.json"
    if how == "not json":
        path.write_text("{nope")
    elif how == "oversized":
        path.write_bytes(b" " * (A.MAX_ARTIFACT_BYTES + 1))
    elif how == "missing":
        path.unlink()
    else:
        a = json.loads(path.read_text())
        DAMAGE[how][0](a)
        path.write_text(json.dumps(a))
        if how == "forged spec error":   # the forger updates the manifest as well
            manifest = json.loads((run / "manifest.json").read_text())
            manifest["network"]["fingerprint"] = a["fingerprint"]
            (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.parametrize("how", [*DAMAGE, *FILE_DAMAGE])
def test_damaged_artifact_is_refused_by_name_and_nothing_is_written(trained, dataset,
                                                                    tmp_path, how,
                                                                    fresh_cache):
    run, _ = trained
    run = _damaged(run, tmp_path, how)
    code_wanted, words = DAMAGE[how][1:] if how in DAMAGE else (2, FILE_DAMAGE[how])
    image = sorted((dataset / "imagesTs").iterdir())[0]
    for args in (["export", str(run), "-o", str(tmp_path / "m.onnx")],
                 ["infer", str(run), str(image), "--out", str(tmp_path / "seg"),
                  "--device", "cpu", "--no-progress"],
                 ["eval", str(run), "--data", str(dataset), "--csv",
                  str(tmp_path / "e.csv"), "--no-progress"],
                 ["train", "--out", str(run), "--resume", "--no-progress"]):
        code, output = cli(*args)
        assert code == code_wanted and words in output, (args, output)
        assert "Traceback" not in output
        if code_wanted == 2:
            assert "network.json" in output, output
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "seg").exists()
    assert not (tmp_path / "e.csv").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


# ---- runs from before network.json ---------------------------------------------------------------
def test_a_run_from_before_the_artifact_is_rebuilt_from_its_unchanged_spec(trained, dataset,
                                                                          tmp_path):
    """Its manifest has no `network`: export works while the spec is unchanged, refuses
    by name once it changed; a resume writes its network.json."""
    run, spec = trained
    run = copy_run(run, tmp_path / "run")
    (run / "network.json").unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["network"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, output = cli("export", str(run), "-o", str(tmp_path / "a.onnx"))
    assert code == 0, output
    assert not (run / "network.json").exists()   # a reader does not write into the run
    original = spec.read_text()
    try:
        spec.write_text(original + "\n# edited\n")
        code, output = cli("export", str(run), "-o", str(tmp_path / "b.onnx"))
        assert code == 2 and "changed since this run was trained" in output, output
    finally:
        spec.write_text(original)
    code, output = cli("train", "--out", str(run), "--resume", "--no-progress")
    assert code == 0, output
    assert json.loads((run / "manifest.json").read_text())["network"]["fingerprint"] == \
        A.read_artifact(run).fingerprint


# ---- search runs ---------------------------------------------------------------------------------
def test_search_run_reads_its_artifact_after_the_space_is_deleted(tmp_path, fresh_cache):
    from nasdsl import data
    from nasdsl.engines.loop import SearchOptions, load_engine_from_run, search

    synth = Path(data.make_synthetic_dataset(tmp_path / "d", dims=2, cases=4, tests=0,
                                             size=32)).parent
    space = tmp_path / "space.nas"
    space.write_text((SPECS / "thrifty_nas.nas").read_text())
    overrides = {"C": 8, "levels": 2, "patch": 32, "classes": 4}
    settings = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "warmup_epochs": 0}
    out = tmp_path / "search"
    search(SearchOptions(str(space), str(synth), str(out), "darts", overrides, settings,
                         progress=False))
    art = A.read_artifact(out)
    assert art.kind == "space" and dict(art.overrides) == overrides
    assert json.loads((out / "manifest.json").read_text())["network"]["fingerprint"] == \
        art.fingerprint
    _, before, _, _ = load_engine_from_run(out)
    legacy = tmp_path / "legacy"   # a run from before network.json: its unchanged spec
    shutil.copytree(out, legacy)
    (legacy / "network.json").unlink()
    manifest = json.loads((legacy / "manifest.json").read_text())
    del manifest["network"]
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    assert load_engine_from_run(legacy)[0].fingerprint() == manifest["decision_table"]
    space.unlink()   # old main: load_engine_from_run compiled this path again
    A._COMPILED = A.Lru(A.COMPILES_KEPT)
    from nasdsl.errors import UsageError

    with pytest.raises(UsageError, match="no such file"):   # the legacy run needs its file
        load_engine_from_run(legacy)
    loaded, after, _, _ = load_engine_from_run(out)
    assert loaded.fingerprint() == json.loads((out / "manifest.json").read_text())[
        "decision_table"]
    for k, v in before.state_dict()["arch"].items():
        assert torch.equal(v, after.state_dict()["arch"][k])
    # a resume continues the recorded space; -D values other than the recorded refused
    more = {**settings, "epochs": 2}
    result = search(SearchOptions(str(space), str(synth), str(out), "darts", {}, more,
                                  resume=True, progress=False))
    assert result["genotype"]
    from nasdsl.runs import RunError

    with pytest.raises(RunError, match="cannot resume with -D C"):
        search(SearchOptions(str(space), str(synth), str(out), "darts", {"C": 16}, more,
                             resume=True, progress=False))
