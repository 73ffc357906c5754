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


def _search_records(epochs: int = 5) -> list[dict]:
    """A search stream whose entropy does not move (a 1e-7 drift) and whose derived
    genotype keeps one size, as a stuck search logs them."""
    recs = []
    for e in range(epochs):
        recs += [{"epoch": e, "step": 4 * e + s + 1, "loss": 1.0 / (4 * e + s + 1)}
                 for s in range(4)]
        recs.append({"event": "epoch", "epoch": e, "entropy": 1.80125 + 1e-7 * e,
                     "params": 35252, "val_dice": 0.2 + 0.1 * e})
    return recs


def _axis(fig, name):
    return next(ax for ax in fig.axes if ax.get_title().split("\n")[0] == name)


def test_flat_series_drawn_on_absolute_axis_with_its_change():
    from nasdsl.figures import curves_figure

    fig = curves_figure(_search_records())
    fig.canvas.draw()  # formatters compute their offset text when ticks are drawn
    ax = _axis(fig, "entropy")
    assert ax.yaxis.get_major_formatter().get_offset() == ""  # was "1e-6 + 1.80125"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and all("e" not in t for t in labels), labels
    assert "no visible change (+4e-07" in ax.get_title()
    lo, hi = ax.get_ylim()  # a flat line stays flat: the axis spans >= 5% of the value
    assert hi - lo >= 0.1 * 1.80125 * 0.99
    moving = _axis(fig, "val_dice")
    assert "change +0.4" in moving.get_title()


def test_epochs_counted_from_one_like_the_console():
    from nasdsl.figures import curves_figure

    fig = curves_figure(_search_records(3))
    xs = list(_axis(fig, "val_dice").lines[0].get_xdata())
    assert xs == [1, 2, 3]  # the console prints "epoch 1/3" for the record with epoch 0
    assert _axis(fig, "loss").lines[0].get_xdata()[0] == 1


def test_series_title_says_which_network_params_counts():
    from nasdsl.figures import curves_figure

    fig = curves_figure(_search_records(), titles={"params": "params at search size (C=8)"})
    assert _axis(fig, "params at search size (C=8)")


def test_search_panel_title_names_the_search_size():
    from nasdsl.pipeline.run import Pipeline

    p = object.__new__(Pipeline)  # only the attributes the title reads
    p.search_defines, p.train_defines = ["classes=2", "C=8"], ["classes=2", "C=16"]
    p.values = {"params": 123456}
    title = p._search_params_title()
    assert "search size (C=8)" in title and "trained network: 123,456" in title


@pytest.mark.parametrize("shape", [(32, 32), (24, 24, 8)])
def test_overlay_legend_names_each_class_in_its_drawn_colour(shape):
    from nasdsl.figures import overlay_figure

    image = np.zeros((1, *shape), np.float32)
    plane = np.zeros(shape[:2], dtype=np.int64)
    plane[2:8, 2:8] = 1
    plane[12:20, 12:20] = 2
    label = plane.copy()
    if len(shape) == 3:  # foreground on the 7th of 8 slices only
        label = np.zeros(shape, dtype=np.int64)
        label[..., 6] = plane
    names = {0: "background", 1: "tumour", 2: "oedema"}
    fig = overlay_figure(image, label, label, "case 0", names)
    assert len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["tumour", "oedema"]
    drawn = fig.axes[1].images[1].get_array()  # reference panel's class layer (RGBA)
    seg = np.rot90(plane)
    for value, patch in zip((1, 2), legend.get_patches()):
        pixel = drawn[seg == value][0]
        assert np.allclose(pixel[:3], patch.get_facecolor()[:3])
    heading = fig._suptitle.get_text()
    if len(shape) == 3:
        assert "slice 7 of 8 along the last axis" in heading
    else:
        assert "slice" not in heading
