"""nasdsl.infer without a trained run, so each test takes a fraction of a second:
prediction (sliding window, one shot, slices, flips, label values, the input grid,
files in and out) with a tiny per-pixel predictor, and evaluate's choice of cases on
folders of predictions. The paths through a run directory and an exported .onnx
(checkpoints, sidecars, ONNX Runtime) are in test_train_cli.py, on its trained run."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from data_fixtures import write_nifti
from nasdsl.api import UsageError
from nasdsl.data import DataError, read_image, write_image
from nasdsl.data.geometry import Geometry
from nasdsl.infer.evaluate import evaluate, render_table, run_dataset, to_csv
from nasdsl.infer.predict import (LoadedModel, group_inputs, infer_files, open_model,
                                  ort_providers, output_name, read_case, segment)
from nasdsl.train.metrics import CaseScores
from nasdsl.train.validate import InferShape, case_probabilities

pytestmark = pytest.mark.usefixtures("one_thread")


class PerPixel:
    """Logits of each pixel from its own intensity only (class k: (k - 1) * x), so any
    tiling, padding or flipping that puts every pixel back in its place gives exactly
    the per-pixel softmax; records the spatial size of every input it is given."""

    def __init__(self, classes: int = 3, threshold: float = 0.0):
        self.classes, self.threshold = classes, threshold
        self.seen: list[tuple[int, ...]] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape[2:]))
        return logits(x - self.threshold, self.classes)


def logits(x: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.cat([(k - 1) * x[:, :1] for k in range(classes)], 1)


def per_pixel(image: torch.Tensor, classes: int = 3) -> torch.Tensor:
    return torch.softmax(logits(image[None], classes), 1)[0]


def _image(*spatial: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, *spatial, generator=torch.Generator().manual_seed(seed))


SHAPE = InferShape(dims=2, classes=3, window=(16, 16), multiple=(4, 4))


# ---- predict: whole-case probabilities -------------------------------------------------
@pytest.mark.parametrize("size", [(45, 37), (10, 7)], ids=["larger", "smaller"])
def test_sliding_window_covers_an_image_that_is_not_a_multiple_of_the_window(size):
    """Every pixel gets its own prediction back, in place; the network only ever sees
    the window (the training patch), also for an image smaller than it (padded)."""
    net, image = PerPixel(), _image(*size)
    probs = case_probabilities(net, image, SHAPE)
    assert probs.shape == (3, *size)
    torch.testing.assert_close(probs, per_pixel(image), rtol=1e-5, atol=1e-5)
    assert net.seen and set(net.seen) == {(16, 16)}


def test_whole_mode_pads_to_the_stride_multiple_once_and_crops_back():
    net, image = PerPixel(), _image(45, 37)
    probs = case_probabilities(net, image, replace(SHAPE, mode="whole"))
    assert net.seen == [(48, 40)]
    torch.testing.assert_close(probs, per_pixel(image), rtol=1e-5, atol=1e-5)


def test_a_2d_network_predicts_every_slice_of_a_volume():
    net, volume = PerPixel(), _image(20, 18, 3)
    probs = case_probabilities(net, volume, SHAPE)
    assert probs.shape == (3, 20, 18, 3)
    torch.testing.assert_close(probs, per_pixel(volume), rtol=1e-5, atol=1e-5)
    assert set(net.seen) == {(16, 16)}


def test_flip_tta_runs_every_flip_and_puts_each_back():
    """2D: no flip, each axis, both axes; for a per-pixel net the average is unchanged."""
    image = _image(24, 20)
    plain, flipped = PerPixel(), PerPixel()
    whole = replace(SHAPE, mode="whole")
    a = case_probabilities(plain, image, whole)
    b = case_probabilities(flipped, image, whole, tta=True)
    assert len(plain.seen) == 1 and len(flipped.seen) == 4
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ---- predict: label values on the input grid ------------------------------------------
def _plan(label_values: list[int], spacing: list[float] | None = None,
          crop: bool = False) -> dict:
    return {"dims": 2, "patch_size": [16, 16], "target_spacing": spacing,
            "normalization": [{"scheme": "none"}], "channel_names": ["x"],
            "label_names": [f"c{i}" for i in range(len(label_values))],
            "label_values": label_values, "crop_nonzero": crop}


def _model(plan: dict, classes: int = 2, threshold: float = 0.0) -> LoadedModel:
    return LoadedModel(PerPixel(classes, threshold), replace(SHAPE, classes=classes), 1,
                       plan, "test")


def _square(shape=(45, 37), inside=(slice(10, 30), slice(8, 28))) -> np.ndarray:
    """-1 everywhere, +1 in a square: the per-pixel net calls the square class 1."""
    image = -np.ones((1, *shape), np.float32)
    image[(0, *inside)] = 1
    return image


def test_segment_gives_the_plans_label_values():
    image = _square()
    seg = segment(_model(_plan([0, 9])), image, Geometry.identity((1.0, 1.0)))
    assert seg.shape == (45, 37)
    np.testing.assert_array_equal(seg, np.where(image[0] > 0, 9, 0))


def test_segment_maps_back_from_the_plans_spacing_and_crop_to_the_input_grid():
    """Resampled to 2 mm and cropped to the non-zero box for the network, the result is
    resampled back and pasted into the box: the input's grid, background outside."""
    image = _square()
    image[:, :3] = 0
    image[:, :, 33:] = 0                      # a zero border the plan crops off
    seg = segment(_model(_plan([0, 9], spacing=[2.0, 2.0], crop=True)), image,
                  Geometry.identity((1.0, 1.0)))
    assert seg.shape == (45, 37)
    assert (seg[:3] == 0).all() and (seg[:, 33:] == 0).all()
    square = image[0] > 0
    edge = ndimage.binary_dilation(square) & ~ndimage.binary_erosion(square)
    wrong = seg != np.where(square, 9, 0)
    assert not (wrong & ~edge).any()         # only a pixel on the square's edge may move
    assert wrong.sum() < edge.sum() / 2


def test_infer_files_writes_each_case_on_its_own_grid_and_format(tmp_path):
    """A 2D PNG and a 2D NIfTI stored as (x, y, 1) come back in their own format, size,
    geometry and axis layout, named after the case."""
    ins = tmp_path / "in"
    image = (_square((24, 20), (slice(4, 12), slice(6, 14)))[0] + 1) * 100   # 0 and 200
    write_nifti(ins / "flat.nii.gz", image[..., None], spacing=(0.5, 0.7, 1.0),
                origin=(3, 4, 0))
    write_image(ins / "pic.png", image.astype(np.uint8), Geometry.identity((1.0, 1.0)))
    model = _model(_plan([0, 9]), threshold=100)
    out = infer_files(model, [ins / "flat.nii.gz", ins / "pic.png"], tmp_path / "out",
                      progress=False)
    assert sorted(p.name for p in out) == ["flat.nii.gz", "pic.png"]
    seg, geometry = read_image(tmp_path / "out" / "flat.nii.gz")
    source, source_geometry = read_image(ins / "flat.nii.gz")
    assert seg.shape == source.shape == (1, 24, 20, 1) and geometry.matches(source_geometry)
    np.testing.assert_array_equal(seg[0, ..., 0], np.where(image > 100, 9, 0))
    png, _ = read_image(tmp_path / "out" / "pic.png")
    np.testing.assert_array_equal(png[0], np.where(image > 100, 9, 0))


# ---- predict: which files make a case -------------------------------------------------
def test_open_model_takes_a_run_folder_or_an_onnx_file_only(tmp_path):
    (tmp_path / "best.pt").write_bytes(b"weights")
    with pytest.raises(UsageError, match="MODEL is a run directory or an exported .onnx"):
        open_model(tmp_path / "best.pt")
    assert ort_providers("cpu") == ["CPUExecutionProvider"]   # --device cpu: never CUDA



def test_group_inputs_follows_nnunet_channel_names_only_for_several_channels(tmp_path):
    for name in ("a_0000.nii.gz", "a_0001.nii.gz", "b_0001.nii.gz", "b_0000.nii.gz"):
        (tmp_path / name).touch()
    files = sorted(tmp_path.iterdir())
    two = group_inputs(files, in_channels=2)
    assert [(case, [p.name for p in ps]) for case, ps in two] == [
        ("a", ["a_0000.nii.gz", "a_0001.nii.gz"]), ("b", ["b_0000.nii.gz", "b_0001.nii.gz"])]
    one = group_inputs(files, in_channels=1)
    assert [case for case, _ in one] == ["a_0000", "a_0001", "b_0000", "b_0001"]


def test_output_names_keep_a_writable_suffix_and_fall_back_to_nifti(tmp_path):
    (tmp_path / "s.mha").touch()
    (tmp_path / "s.dcm").touch()
    (tmp_path / "series").mkdir()
    assert output_name("c", tmp_path / "s.mha") == "c.mha"
    assert output_name("c", tmp_path / "s.dcm") == "c.nii.gz"
    assert output_name("c", tmp_path / "series") == "c.nii.gz"


def test_read_case_refuses_what_the_model_cannot_take(tmp_path):
    rng = np.random.default_rng(0)
    write_nifti(tmp_path / "vol.nii.gz", rng.normal(size=(20, 18, 5)).astype(np.float32))
    write_nifti(tmp_path / "other.nii.gz", rng.normal(size=(20, 18, 5)).astype(np.float32),
                spacing=(2.0, 1.0, 1.0))
    with pytest.raises(DataError, match="has 1 channel\\(s\\), the model takes 2"):
        read_case([tmp_path / "vol.nii.gz"], in_channels=2, dims=3)
    with pytest.raises(DataError, match="is 3D, the model is 2D"):
        read_case([tmp_path / "vol.nii.gz"], in_channels=1, dims=2)
    with pytest.raises(DataError, match="geometry differs from vol.nii.gz"):
        read_case([tmp_path / "vol.nii.gz", tmp_path / "other.nii.gz"], 2, 3)
    slices = read_case([tmp_path / "vol.nii.gz"], 1, 2, slices2d=True)   # 2D net on slices
    assert slices.image.shape == (1, 20, 18, 5) and not slices.unit_axis


# ---- evaluate: which cases are scored --------------------------------------------------
def _predictions(tmp_path: Path, dataset: Path, *cases: str) -> Path:
    """A folder of 'predictions' that are the cases' own labels (Dice 1 where present)."""
    folder = tmp_path / "pred"
    folder.mkdir(exist_ok=True)
    for case in cases:
        split = "labelsTs" if (dataset / "labelsTs" / f"{case}.nii.gz").exists() else "labelsTr"
        shutil.copy(dataset / split / f"{case}.nii.gz", folder)
    return folder


def _ids(scores) -> list[str]:
    return [s.case for s in scores]


def test_evaluate_a_folder_scores_the_cases_it_has_a_prediction_for(dataset, tmp_path):
    folder = _predictions(tmp_path, dataset, "synth_001", "synth_004", "synth_006")
    scores, names = evaluate(folder, dataset, progress=False)
    assert _ids(scores) == ["synth_001", "synth_004", "synth_006"]   # training and test
    assert names[0] == "background"
    dice = [v for s in scores for v in s.scores["dice"].values() if not math.isnan(v)]
    assert dice and all(v == 1.0 for v in dice)


def test_evaluate_case_choices(dataset, tmp_path):
    folder = _predictions(tmp_path, dataset, *[f"synth_{i:03d}" for i in range(8)])
    scores, _ = evaluate(folder, dataset, cases="test", progress=False)
    assert _ids(scores) == ["synth_006", "synth_007"]
    scores, _ = evaluate(folder, dataset, cases="all", progress=False)
    assert _ids(scores) == [f"synth_{i:03d}" for i in range(6)]     # the training cases
    scores, _ = evaluate(folder, dataset, cases="synth_007,synth_002", progress=False)
    assert _ids(scores) == ["synth_002", "synth_007"]


@pytest.mark.parametrize("cases,message", [
    ("val", "--cases val needs a run directory"),
    ("synth_002,nope", "no labelled case 'nope'"),
    ("all", "no prediction for case `synth_000`"),
])
def test_evaluate_case_choice_errors_name_the_problem(dataset, tmp_path, cases, message):
    folder = _predictions(tmp_path, dataset, "synth_002")
    with pytest.raises(UsageError, match=message):
        evaluate(folder, dataset, cases=cases, progress=False)


def test_evaluate_refuses_a_folder_without_predictions_and_a_stray_file(dataset, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no prediction named like a labelled case"):
        evaluate(tmp_path / "empty", dataset, progress=False)
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(UsageError, match="give a run directory, an .onnx model or a folder"):
        evaluate(tmp_path / "model.pt", dataset, progress=False)
    with pytest.raises(UsageError, match="is not a run directory"):
        run_dataset(tmp_path / "empty")


def test_evaluate_refuses_a_prediction_on_another_grid(dataset, tmp_path):
    folder = tmp_path / "pred"
    write_nifti(folder / "synth_003.nii.gz", np.zeros((7, 9, 1), np.uint8))
    with pytest.raises(DataError, match="differs from the label's"):
        evaluate(folder, dataset, progress=False)


def test_score_tables_give_means_and_mark_undefined_values():
    nan, inf = math.nan, math.inf
    scores = [CaseScores("=a", {"dice": {1: 0.5, 2: nan}, "iou": {1: 0.25, 2: nan},
                                "hd95": {1: 2.0, 2: inf}, "surface_dice": {1: 1.0, 2: nan}}),
              CaseScores("b", {"dice": {1: 1.0, 2: 0.0}, "iou": {1: 1.0, 2: 0.0},
                               "hd95": {1: 0.0, 2: inf}, "surface_dice": {1: 1.0, 2: 0.0}})]
    rows = to_csv(scores, ["bg", "organ", "tumour"]).splitlines()
    assert rows == ["case,class,name,dice,iou,hd95,surface_dice",
                    "'=a,1,organ,0.5000,0.2500,2.0000,1.0000",   # no formula for a sheet
                    "'=a,2,tumour,n/a,n/a,inf,n/a",
                    "b,1,organ,1.0000,1.0000,0.0000,1.0000",
                    "b,2,tumour,0.0000,0.0000,inf,0.0000",
                    "mean,1,organ,0.7500,0.6250,1.0000,1.0000",
                    "mean,2,tumour,0.0000,0.0000,inf,0.0000"]   # NaN left out of the mean
    table = render_table(scores, ["bg", "organ", "tumour"]).splitlines()
    assert table[0].split() == ["case", "class", "dice", "iou", "hd95", "surface_dice"]
    assert table[-1].split() == ["mean", "tumour", "0.0000", "0.0000", "inf", "0.0000"]
