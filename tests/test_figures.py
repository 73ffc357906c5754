"""Training curves and prediction overlays: the pictures a run leaves for the user."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from nasdsl.figures import overlay, read_jsonl, training_curves  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_from_jsonl_ignore_torn_last_line(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    rows = [json.dumps({"epoch": e, "step": 1, "loss": 1.0 / (e + 1)}) for e in range(5)]
    rows += [json.dumps({"epoch": e, "event": "epoch", "val_dice": 0.1 * e})
             for e in range(3)]
    metrics.write_text("\n".join(rows) + '\n{"epoch": 5, "lo')  # killed mid-write
    assert len(read_jsonl(metrics)) == 8
    out = training_curves(metrics, tmp_path / "curves.png")
    assert out.read_bytes().startswith(PNG)


@pytest.mark.parametrize("shape", [(32, 32), (24, 24, 8)])
def test_overlay_picks_a_foreground_slice(tmp_path, shape):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, *shape)).astype(np.float32)
    label = np.zeros(shape, dtype=np.int64)
    label[8:16, 8:16] = 1
    pred = np.roll(label, 2, axis=0)
    out = overlay(image, label, pred, tmp_path / "overlay.png", title="case 0")
    assert out.read_bytes().startswith(PNG)
