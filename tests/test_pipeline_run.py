"""`nasdsl run` end to end at toy budgets: every stage runs, the files a user looks at
exist, the genotype checks, and a second run reuses every stage."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("nilearn")

from conftest import SPECS  # noqa: E402
from nasdsl.pipeline.plan import DataBudget, RunPlan, SearchBudget, TrainBudget  # noqa: E402
from nasdsl.pipeline.run import Pipeline  # noqa: E402


def _toy_plan(out, data=None):
    return RunPlan(str(SPECS / "nas_unet.nas"), str(out), data, "pc_darts",
                   ["C=4", "depth=1", "M=2", "patch=32"],
                   DataBudget(cases=5, tests=1, resolution=8.0, dims=2),
                   SearchBudget({"epochs": 2, "steps_per_epoch": 2, "batch_size": 2,
                                 "warmup_epochs": 1, "k": 2}),
                   TrainBudget(epochs=1, steps_per_epoch=2, batch_size=2, time_budget=None),
                   seed=0, device="cpu", progress=False, threads=1)


def test_run_end_to_end_then_reuse(tmp_path, one_thread, compiles):
    import nasdsl.artifact as A
    from nasdsl.api import compile_spec

    logs: list[str] = []
    summary = Pipeline(_toy_plan(tmp_path / "run"), log=logs.append).run()
    run = tmp_path / "run"
    # check, compile, draw, train, export and infer build one network: compiled once (old
    # main: 6 times, each stage from the files), recorded in train/network.json
    assert compiles.count(str(run / "genotype.nas")) == 1, compiles
    network = A.read_artifact(run / "train")
    assert network.kind == "genotype" and network.spec.text == \
        (run / "genotype.nas").read_text()
    for name in ("genotype.nas", "genotype.svg", "model.py", "model.onnx", "model.onnx.json",
                 "training_curves.png", "overlay.png", "test_scores.csv", "summary.json"):
        assert (run / name).exists(), name
    assert list((run / "predictions").glob("*.nii.gz"))
    compiled = compile_spec(str(run / "genotype.nas"), {"C": 4, "depth": 1, "M": 2,
                                                        "patch": 32, "classes": 3})
    assert compiled.is_frozen
    rel = os.path.relpath(SPECS / "nas_unet.nas", run.resolve())
    assert f'of "{rel}"' in (run / "genotype.nas").read_text()
    v = summary["values"]
    assert v["params"] > 0 and v["test_cases"] == 1
    assert set(v["test_dice"]) == {"gray_matter", "white_matter"}
    assert v["pytorch_onnx_agreement"] > 0.99  # the deployed graph predicts as PyTorch does
    stages = json.loads((run / "stages.json").read_text())
    assert all(r["status"] == "done" for r in stages.values())

    logs.clear()
    Pipeline(_toy_plan(tmp_path / "run"), log=logs.append).run()
    stages = [line for line in logs if not line.startswith("[machine]")]
    assert len(stages) == 10 and all("reused" in line for line in stages), logs


@pytest.mark.slow
def test_readme_first_command_quick_mode(tmp_path):
    """The README's first command at its default (quick) budgets: ~10 min on 2 cores."""
    import subprocess
    import sys

    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "nasdsl.cli", "run",
                           str(SPECS / "nas_unet.nas"), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test Dice (mean of classes)" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["values"]["pytorch_onnx_agreement"] > 0.99


def test_another_engine_or_other_labels_on_the_same_out_rerun_the_search(tmp_path,
                                                                          one_thread):
    """Issue #18.2 / #15 row 7: `demo.sh` then `demo.sh --engine random` on the same
    --out ended in "internal error" (the search resumed the other engine's run), and a
    dataset whose label maps were all replaced by background reused every stage."""
    import shutil

    import numpy as np

    from nasdsl.data import make_mni_dataset, read_image, write_image

    data = tmp_path / "data"
    make_mni_dataset(str(data), 4, 1, 0, 8.0, 2, None)
    out = tmp_path / "run"
    first = Pipeline(_toy_plan(out, str(data)), log=lambda s: None).run()
    assert first["values"]["engine"] == "pc_darts"

    logs: list[str] = []
    plan = _toy_plan(out, str(data))
    plan.engine = "random"
    second = Pipeline(plan, log=logs.append).run()
    assert second["values"]["engine"] == "random"
    assert "[data] reused" in "\n".join(logs) and "[search] running" in logs
    manifest = json.loads((out / "search" / "manifest.json").read_text())
    assert manifest["engine"] == "random"

    for label in sorted((data / "labelsTr").iterdir()):
        arr, geom = read_image(label)
        write_image(label, np.zeros(arr.shape[1:], np.uint8), geom)
    logs.clear()
    Pipeline(plan, log=logs.append).run()
    assert "[search] running" in logs and "[train] running" in logs, logs
    shutil.rmtree(data)


def test_run_cli_user_mistakes_exit_2_before_any_work(tmp_path):
    """An unknown engine and a bad --time-budget are the user's mistakes: exit 2 with
    one line, before the dataset is made (not exit 3 after a minute of work)."""
    from click.testing import CliRunner

    from nasdsl.cli import main

    for extra, words in ((["--engine", "dartz"], "unknown engine"),
                         (["--time-budget", "5 parsecs"], "--time-budget")):
        out = tmp_path / "run"
        res = CliRunner().invoke(main, ["run", str(SPECS / "nas_unet.nas"), "--out", str(out),
                                        *extra])
        assert res.exit_code == 2, res.output
        assert words in res.output and "Traceback" not in res.output
        assert not (out / "data").exists()
