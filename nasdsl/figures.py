"""Pictures a user looks at after a run: training curves and a prediction overlay.

matplotlib with the Agg backend (no display needed); files written atomically.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Iterable

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from nasdsl.outputs import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())


def read_jsonl(path: Path) -> list[dict]:
    """Records of a metrics stream; a torn last line (killed writer) is ignored."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


SKIP = {"step", "epoch", "time", "lr", "rank", "seed", "global_step", "elapsed", "best",
        "step_s"}


def _series(records: Iterable[dict], x_of) -> dict[str, tuple[list, list]]:
    series: dict[str, tuple[list, list]] = {}
    for i, rec in enumerate(records):
        for key, value in rec.items():
            if key in SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            xs, ys = series.setdefault(key, ([], []))
            xs.append(x_of(i, rec))
            ys.append(value)
    return {k: v for k, v in series.items() if len(v[0]) > 1}


def training_curves(metrics: Path, out: Path, title: str = "") -> Path:
    """Per-step values (losses) against the step count, and per-epoch values
    (validation Dice, architecture entropy, parameters) against the epoch."""
    records = read_jsonl(metrics)
    steps = [r for r in records if "event" not in r]
    epochs = [r for r in records if r.get("event") == "epoch"]
    panels = [(k, xs, ys, "step") for k, (xs, ys) in
              _series(steps, lambda i, r: i + 1).items()]
    panels += [(k, xs, ys, "epoch") for k, (xs, ys) in
               _series(epochs, lambda i, r: r.get("epoch", i)).items()]
    plt = _pyplot()
    cols = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (name, xs, ys, x_name) in zip(axes.flat, panels):
        ax.plot(xs, ys, marker="." if len(xs) < 50 else None)
        ax.set_title(name)
        ax.set_xlabel(x_name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if not panels:
        axes.flat[0].text(0.5, 0.5, "no metric with more than one point",
                          ha="center", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)
    return out


def overlay(image: np.ndarray, label: np.ndarray | None, prediction: np.ndarray,
            out: Path, title: str = "") -> Path:
    """The axial slice with the most foreground: image, reference and prediction.

    `image` is (C, *spatial) or (*spatial); labels are integer maps of the same spatial
    shape. 3D volumes are cut on their last axis.
    """
    img = image[0] if image.ndim == prediction.ndim + 1 else image
    fg = (prediction > 0) if label is None else (label > 0) | (prediction > 0)
    if img.ndim == 3:
        k = int(np.argmax(fg.reshape(-1, fg.shape[-1]).sum(0)))
        img, prediction = img[..., k], prediction[..., k]
        label = None if label is None else label[..., k]
    plt = _pyplot()
    panels = [("image", None), ("prediction", prediction)]
    if label is not None:
        panels.insert(1, ("reference", label))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8))
    lo, hi = np.percentile(img, [1, 99]) if img.size else (0, 1)
    classes = int(max(prediction.max(), 0 if label is None else label.max()))
    for ax, (name, seg) in zip(np.atleast_1d(axes), panels):
        ax.imshow(np.rot90(img), cmap="gray", vmin=lo, vmax=hi)
        if seg is not None:
            masked = np.ma.masked_equal(np.rot90(seg), 0)
            ax.imshow(masked, cmap="tab10", vmin=0, vmax=max(classes, 9), alpha=0.45,
                      interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    _save(fig, out)
    plt.close(fig)
    return out
