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


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path) -> None:
    """The figure as a PNG at `path`, written atomically."""
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


def _flat(ys: list[float]) -> bool:
    """No change a reader could see: the span is below 1e-4 of the values' size."""
    return max(ys) - min(ys) <= 1e-4 * max(max(abs(y) for y in ys), 1e-12)


def _panel(ax, name: str, xs: list, ys: list, x_name: str, title: str | None) -> None:
    """One series on absolute axes (never matplotlib's "1e-6 + 1.80125" offset, which
    makes a flat line look like a trend), titled with its absolute change."""
    ax.plot(xs, ys, marker="." if len(xs) < 50 else None)
    delta = ys[-1] - ys[0]
    change = (f"no visible change ({delta:+.3g} over the run)" if _flat(ys)
              else f"change {delta:+.4g} ({x_name} {xs[0]} to {xs[-1]})")
    ax.set_title(f"{title or name}\n{change}", fontsize=10)
    ax.set_xlabel(x_name)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    if _flat(ys):  # centre the line with a visible margin instead of zooming into noise
        mid = (max(ys) + min(ys)) / 2
        pad = max(0.05 * abs(mid), 1e-3)
        ax.set_ylim(mid - pad, mid + pad)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and epochs are counts
    ax.grid(alpha=0.3)


def curves_figure(records: list[dict], title: str = "",
                  titles: dict[str, str] | None = None):
    """The figure `training_curves` saves (returned open, for inspection). Epochs are
    numbered from 1, as the console prints them (the metrics stream counts from 0)."""
    steps = [r for r in records if "event" not in r]
    epochs = [r for r in records if r.get("event") == "epoch"]
    panels = [(k, xs, ys, "step") for k, (xs, ys) in
              _series(steps, lambda i, r: i + 1).items()]
    panels += [(k, xs, ys, "epoch") for k, (xs, ys) in
               _series(epochs, lambda i, r: int(r.get("epoch", i)) + 1).items()]
    plt = pyplot()
    cols = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    for ax, (name, xs, ys, x_name) in zip(axes.flat, panels):
        _panel(ax, name, xs, ys, x_name, (titles or {}).get(name))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if not panels:
        axes.flat[0].text(0.5, 0.5, "no metric with more than one point",
                          ha="center", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_curves(metrics: Path, out: Path, title: str = "",
                    titles: dict[str, str] | None = None) -> Path:
    """Per-step values (losses) against the step count, and per-epoch values
    (validation Dice, architecture entropy, parameters) against the epoch. `titles`
    names a series more precisely than its metrics key (e.g. which network `params`
    counts)."""
    fig = curves_figure(read_jsonl(metrics), title, titles)
    save_png(fig, out)
    pyplot().close(fig)
    return out


def _class_colour(value: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps["tab10"]((value - 1) % 10)


def overlay_figure(image: np.ndarray, label: np.ndarray | None, prediction: np.ndarray,
                   title: str = "", names: dict[int, str] | None = None):
    """The figure `overlay` saves (returned open, for inspection)."""
    img = image[0] if image.ndim == prediction.ndim + 1 else image
    fg = (prediction > 0) if label is None else (label > 0) | (prediction > 0)
    where = ""
    if img.ndim == 3:
        k = int(np.argmax(fg.reshape(-1, fg.shape[-1]).sum(0)))
        where = (f"slice {k + 1} of {img.shape[-1]} along the last axis "
                 "(the one with the most foreground)")
        img, prediction = img[..., k], prediction[..., k]
        label = None if label is None else label[..., k]
    plt = pyplot()
    panels = [("image", None), ("prediction", prediction)]
    if label is not None:
        panels.insert(1, ("reference", label))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 4.2))
    lo, hi = np.percentile(img, [1, 99]) if img.size else (0, 1)
    present = set(np.unique(prediction).tolist())
    if label is not None:
        present |= set(np.unique(label).tolist())
    shown = sorted(v for v in set(names or {}) | present if v > 0)
    for ax, (name, seg) in zip(np.atleast_1d(axes), panels):
        ax.imshow(np.rot90(img), cmap="gray", vmin=lo, vmax=hi)
        if seg is not None:  # one fixed colour per class value, the legend's colour
            seg = np.rot90(seg)
            rgba = np.zeros((*seg.shape, 4))
            for v in shown:
                rgba[seg == v] = _class_colour(v)[:3] + (0.5,)
            ax.imshow(rgba, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    if shown:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=_class_colour(v), label=(names or {}).get(v, f"class {v}"))
                   for v in shown]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6),
                   frameon=False, title="classes (overlay colours)")
    heading = " - ".join(t for t in (title, where) if t)
    if heading:
        fig.suptitle(heading, fontsize=10)
    fig.tight_layout(rect=(0, 0.12 if shown else 0, 1, 1))
    return fig


def overlay(image: np.ndarray, label: np.ndarray | None, prediction: np.ndarray,
            out: Path, title: str = "", names: dict[int, str] | None = None) -> Path:
    """The axial slice with the most foreground: image, reference and prediction, with a
    legend naming each class's colour (`names`: label value -> class name; background,
    value 0, is not coloured). `image` is (C, *spatial) or (*spatial); labels are integer
    maps of the same spatial shape. 3D volumes are cut on their last axis, and the title
    says which slice."""
    fig = overlay_figure(image, label, prediction, title, names)
    save_png(fig, out)
    pyplot().close(fig)
    return out
