"""Hostile datasets and images through every command that reads them (issue 15 rows 3, 5).

Each case of tests/hostile_data.py runs as a subprocess: exit 1 or 2, a message naming the
file and the field, no traceback, no hang, the child's peak RSS under RSS_BOUND_MIB
(the files declare 268 MB to 1.6 GB and more), nothing of the secret outside the dataset
printed, and the tree (dataset, outside secret, working directory) unchanged apart from
the command's own output folder.

The default suite runs every case through `data inspect` (no torch: about a second each)
and the images through `infer`; `train`, `eval`, `search` and `run --data` over the whole
corpus are @slow (torch start-up per case).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("nibabel")

from conftest import SPECS  # noqa: E402
from hostile_data import DATASETS, IMAGES, SECRET, resample_300mm  # noqa: E402
from hostile_run import assert_refused, run_cli, snapshot  # noqa: E402

# The command's own start-up (numpy, nibabel, SimpleITK; torch + MONAI for train/infer)
# stays well under this; any of the declared sizes would exceed it.
RSS_BOUND_MIB = 1024


def _check(tmp: Path, args: list[str], hostile, out: Path | None = None) -> None:
    skip = (out,) if out is not None else ()
    before = snapshot(tmp, skip)
    res = run_cli(args, cwd=tmp, env=hostile.env)
    assert_refused(res, hostile.expect, RSS_BOUND_MIB)
    assert SECRET not in res.out and "root:x:0" not in res.out, res.out
    assert snapshot(tmp, skip) == before


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_data_inspect_refuses(name, tmp_path):
    hostile = DATASETS[name](tmp_path)
    _check(tmp_path, ["data", "inspect", str(hostile.data)], hostile)


def test_data_inspect_json_output_not_written_on_refusal(tmp_path):
    hostile = DATASETS["mhd_passwd"](tmp_path)
    out = tmp_path / "fp.json"
    _check(tmp_path, ["data", "inspect", str(hostile.data), "-o", str(out)], hostile)
    assert not out.exists()


def test_env_limit_is_overridable(tmp_path):
    """NASDSL_MAX_VOXELS moves the bound: 1024 voxels refuses the tiny valid dataset."""
    from hostile_data import _valid_msd

    root = _valid_msd(tmp_path / "data")
    ok = run_cli(["data", "inspect", str(root)], cwd=tmp_path)
    assert ok.code == 0, ok.out
    low = run_cli(["data", "inspect", str(root)], cwd=tmp_path,
                  env={"NASDSL_MAX_VOXELS": "100"})
    assert_refused(low, ("case_0.nii.gz", "NASDSL_MAX_VOXELS"), RSS_BOUND_MIB)
    bad = run_cli(["data", "inspect", str(root)], cwd=tmp_path,
                  env={"NASDSL_MAX_VOXELS": "lots"})
    assert_refused(bad, ("NASDSL_MAX_VOXELS", "positive whole number"), RSS_BOUND_MIB)


# ---- the same files through the commands that train, search, evaluate and segment --------
# torch + MONAI start-up makes each of these ~20 s on a loaded 2-core machine: one case
# per command in the default suite, the rest @slow
INFER_DEFAULT = ["mhd_passwd"]
IMAGE_CASES = {**{n: DATASETS[n] for n in IMAGES}, "resample_300mm": resample_300mm}
TRAIN_DEFAULT = ["resample_300mm"]
DATASET_CASES = {**DATASETS, "resample_300mm": resample_300mm}


def _model(tmp: Path) -> Path:
    """The tiny ONNX model + valid sidecar of test_hostile_sidecars (2D, 1 mm plan)."""
    from hostile_sidecars import valid_sidecar, write_model, write_sidecar

    model = write_model(tmp / "model")
    write_sidecar(model, valid_sidecar())
    return model


def _infer(name: str, tmp: Path) -> None:
    hostile = IMAGE_CASES[name](tmp)
    model, out = _model(tmp), tmp / "out"
    _check(tmp, ["infer", str(model), str(hostile.image), "--out", str(out), "--device",
                 "cpu", "--no-progress"], hostile, out)
    assert not out.exists() or not any(out.iterdir())


def _train(name: str, tmp: Path) -> None:
    hostile = DATASET_CASES[name](tmp)
    out = tmp / "run"
    _check(tmp, ["train", str(SPECS / "unet.nas"), "-D", "base=4", "-D", "depth=2",
                 "-D", "classes=2", "--patch", "16x16", "--epochs", "1",
                 "--steps-per-epoch", "1", "--batch", "1", "--folds", "2", "--device", "cpu",
                 "--no-progress", "--data", str(hostile.data), "--out", str(out)], hostile, out)


@pytest.mark.parametrize("name", INFER_DEFAULT)
def test_infer_refuses(name, tmp_path):
    _infer(name, tmp_path)


@pytest.mark.parametrize("name", TRAIN_DEFAULT)
def test_train_refuses(name, tmp_path):
    _train(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(IMAGE_CASES) - set(INFER_DEFAULT)))
def test_infer_refuses_every_image(name, tmp_path):
    _infer(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(DATASET_CASES) - set(TRAIN_DEFAULT)))
def test_train_refuses_every_dataset(name, tmp_path):
    _train(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_eval_refuses_every_dataset(name, tmp_path):
    hostile = DATASETS[name](tmp_path)
    preds = tmp_path / "preds"
    preds.mkdir()
    labels = hostile.data / "labelsTr"
    for f in sorted(labels.iterdir()) if labels.is_dir() and not labels.is_symlink() else []:
        if f.is_file() and not f.is_symlink():   # the labels as predictions: eval gets
            shutil.copyfile(f, preds / f.name)    # as far as the hostile case
    csv = tmp_path / "eval.csv"
    _check(tmp_path, ["eval", str(preds), "--data", str(hostile.data), "--csv", str(csv),
                      "--no-progress"], hostile, csv)
    assert not csv.exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_search_refuses_every_dataset(name, tmp_path):
    hostile = DATASETS[name](tmp_path)
    out = tmp_path / "run"
    _check(tmp_path, ["search", str(SPECS / "nas_unet.nas"), "--engine", "random",
                      "-D", "C=4", "-D", "depth=2", "-D", "patch=16", "--set", "epochs=1",
                      "--device", "cpu", "--no-progress", "--data", str(hostile.data),
                      "--out", str(out)], hostile, out)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_run_refuses_every_dataset(name, tmp_path):
    hostile = DATASETS[name](tmp_path)
    out = tmp_path / "run"
    _check(tmp_path, ["run", str(SPECS / "nas_unet.nas"), "--engine", "random",
                      "-D", "C=4", "-D", "depth=2", "-D", "patch=16", "--device", "cpu",
                      "--no-progress", "--data", str(hostile.data), "--out", str(out)],
           hostile, out)
