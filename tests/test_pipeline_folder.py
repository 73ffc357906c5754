"""The folder `nasdsl run` writes works with every command that takes a run (#18.4), and
the commands' endings are for people (#18.7): `derive` ends in a summary (JSON behind
--json), `eval` never writes into the working directory unasked and scores a folder of
test-case predictions on the test cases."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("nilearn")

from click.testing import CliRunner  # noqa: E402

from nasdsl.cli import main  # noqa: E402
from test_pipeline_spaces import toy_plan  # noqa: E402


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    import torch

    from nasdsl.pipeline.run import Pipeline

    before = torch.get_num_threads()
    root = tmp_path_factory.mktemp("folder")
    Pipeline(toy_plan("nas_unet.nas", root / "run", None, "pc_darts"), lambda s: None).run()
    torch.set_num_threads(before)
    return root / "run"


def _cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.output


def test_infer_export_eval_derive_take_the_pipeline_folder(pipeline_folder, tmp_path,
                                                           monkeypatch):
    run = pipeline_folder
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    scan = sorted((run / "data" / "imagesTs").iterdir())[0]

    code, out = _cli("infer", run, scan, "--out", tmp_path / "seg", "--no-progress")
    assert code == 0, out
    assert len(list((tmp_path / "seg").iterdir())) == 1

    code, out = _cli("export", run, "-o", tmp_path / "m.onnx")
    assert code == 0, out
    assert (tmp_path / "m.onnx").is_file() and (tmp_path / "m.onnx.json").is_file()

    code, out = _cli("eval", run, "--no-progress")   # --data: the run's own dataset
    assert code == 0, out
    assert (run / "train" / "eval.csv").is_file() and "mean" in out

    # predictions of the test cases: scored on the test cases, nothing written in cwd
    code, out = _cli("eval", run / "predictions", "--data", run / "data", "--no-progress")
    assert code == 0, out
    test_ids = {p.name.split(".")[0] for p in (run / "predictions").iterdir()}
    rows = [line.split()[0] for line in out.splitlines()
            if line and not line.startswith(("-", "case", "mean", "("))]
    assert set(rows) == test_ids and "--csv FILE" in out
    assert list(cwd.iterdir()) == []

    code, out = _cli("derive", run)
    assert code == 0, out
    assert "derived:" in out and "next: nasdsl train" in out
    assert not any(line.lstrip().startswith("{") for line in out.splitlines())
    code, out = _cli("derive", run, "--json")
    assert code == 0, out
    record = json.loads(out.strip().splitlines()[-1])
    assert record["genotype"].endswith("genotype.nas") and record["params"] > 0


def test_a_frozen_spec_folder_says_why_there_is_no_search(tmp_path):
    """`derive` on the folder of a run that needed no search: exit 2, the reason."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "stages.json").write_text("{}")
    (run / "genotype.nas").write_text("")
    code, out = _cli("derive", run)
    assert code == 2 and "decides every choice" in out


def test_a_folder_whose_training_has_not_finished_says_so(tmp_path):
    """`export`, `infer` and `eval` on a `nasdsl run` folder before its train/ run exists:
    exit 2 naming the missing manifest, nothing written."""
    from nasdsl.pipeline.folder import stage_run

    run = tmp_path / "run"
    (run / "search").mkdir(parents=True)
    (run / "stages.json").write_text("{}")
    scan = tmp_path / "scan.nii.gz"
    scan.write_bytes(b"never read")
    for args in (["export", run, "-o", tmp_path / "m.onnx"],
                 ["infer", run, scan, "--out", tmp_path / "seg"],
                 ["eval", run, "--data", tmp_path]):
        code, out = _cli(*args)
        assert code == 2 and "its training has not finished" in out, (args, out)
        assert str(run / "train" / "manifest.json") in out.replace("\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "scan.nii.gz"]
    (run / "manifest.json").write_text("{}")     # a run's own folder is never a pipeline's
    assert stage_run(run, "train") == run
