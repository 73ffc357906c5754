"""The pipeline's measuring stage without a trained run: scoring written predictions on
the held-back cases and the closing table (the stage end to end, with PyTorch and ONNX
Runtime predictions, is in test_pipeline_run.py)."""

from __future__ import annotations

import math
import shutil

import pytest

from nasdsl.api import UsageError
from nasdsl.pipeline.measure import score_predictions, table


def test_score_predictions_scores_the_held_back_cases_and_writes_the_csv(dataset, tmp_path):
    preds = tmp_path / "pred"
    shutil.copytree(dataset / "labelsTs", preds)          # perfect predictions
    csv_path = tmp_path / "test.csv"
    scores = score_predictions(preds, str(dataset), csv_path)
    present = [v for v in scores["test_dice"].values() if not math.isnan(v)]
    assert present and all(v == 1.0 for v in present)
    assert scores["test_dice_mean"] == 1.0
    assert set(scores["test_dice"]) == {"organ", "lesion", "vessel"}   # no background
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "case,class,name,dice,iou,hd95,surface_dice"
    assert {r.split(",")[0] for r in rows[1:]} == {"synth_006", "synth_007", "mean"}


def test_score_predictions_needs_a_prediction_for_every_held_back_case(dataset, tmp_path):
    preds = tmp_path / "pred"
    preds.mkdir()
    shutil.copy(dataset / "labelsTs" / "synth_006.nii.gz", preds)
    with pytest.raises(UsageError, match="no prediction for case `synth_007`"):
        score_predictions(preds, str(dataset), tmp_path / "test.csv")
    assert not (tmp_path / "test.csv").exists()


def _summary(**values) -> dict:
    base = {"engine": "darts", "params": 12345, "val_dice": 0.8, "test_cases": 2,
            "test_dice": {"organ": 0.9, "lesion": math.nan}, "test_dice_mean": 0.9,
            "latency_pytorch_ms": 12.34, "latency_onnxruntime_ms": 5.0,
            "pytorch_onnx_agreement": 1.0}
    return {"values": {**base, **values}, "stages": {"search": 10.0, "train": 20.0,
                                                     "infer": 1.5},
            "machine": {"threads": 1, "cpus": 2, "load_average": [3.5, 2.0, 1.0]}}


def test_closing_table_rows():
    text = table(_summary(search_steps=40, search_arch_steps=20, train_steps=100,
                          entropy_start=1.8, entropy_end=1.7, convergence="Dice still rising"))
    lines = dict(line.split("  ", 1) for line in text.splitlines() if "  " in line)
    lines = {k.strip(): v.strip() for k, v in lines.items()}
    assert lines["parameters"] == "12,345"
    assert lines["search steps (architecture)"] == "40 (20)"
    assert lines["architecture entropy"] == "1.8000 \u2192 1.7000 nats (-0.1000)"
    assert lines["test Dice lesion"] == "n/a" and lines["test Dice organ"] == "0.9000"
    assert lines["search time"] == "10.0 s (40 steps)"
    assert lines["train time"] == "20.0 s (100 steps)"
    assert lines["latency PyTorch / case"] == "12.3 ms"
    assert lines["CPU threads / cores / load"] == "1 / 2 / 3.50"
    assert text.endswith("warning: Dice still rising\n")


def test_closing_table_without_a_search_has_no_search_rows():
    text = table(_summary(train_steps=100))
    assert "search" not in text and "entropy" not in text
    assert "train time" in text and "warning" not in text
