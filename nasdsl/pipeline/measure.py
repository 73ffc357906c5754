"""Held-back cases through both deployment paths, their scores and an overlay picture.

Inference goes through `nasdsl.infer.predict` exactly as `nasdsl infer` does, once with
the trained run (PyTorch) and once with the exported ONNX graph (ONNX Runtime), so the
latency comparison and the agreement check cover the artefact a user deploys.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np


def _test_cases(data_dir: str):
    from nasdsl.api import UsageError
    from nasdsl.data import load_dataset

    index = load_dataset(data_dir)
    cases = [c for c in index.test_cases if c.label is not None]
    if not cases:
        raise UsageError(f"{data_dir}: no labelled held-back cases (imagesTs/ + labelsTs/) "
                         "to evaluate the deployed model on")
    return index, cases


def predict_test_cases(run_dir: Path, onnx: Path, data_dir: str, out: Path,
                       device: str | None) -> dict[str, Any]:
    """Segment every held-back case with PyTorch and ONNX Runtime; write the ONNX
    predictions (the deployed model's) with each input's geometry."""
    from nasdsl.data import write_image
    from nasdsl.infer.predict import open_model, output_name, read_case, segment

    _, cases = _test_cases(data_dir)
    models = {"pytorch": open_model(run_dir, device), "onnxruntime": open_model(onnx, device)}
    seconds = {k: [] for k in models}
    agree = []
    out.mkdir(parents=True, exist_ok=True)
    for case in cases:
        m = models["onnxruntime"]
        loaded = read_case(case.images, m.in_channels, m.plan["dims"],
                           bool(m.plan.get("slices2d")))
        segs = {}
        for name, model in models.items():
            segment(model, loaded.image, loaded.geometry)  # warm-up: first-call costs
            t0 = time.perf_counter()
            segs[name] = segment(model, loaded.image, loaded.geometry)
            seconds[name].append(time.perf_counter() - t0)
        agree.append(float((segs["pytorch"] == segs["onnxruntime"]).mean()))
        seg = segs["onnxruntime"]
        seg = seg[..., None] if loaded.unit_axis else seg
        write_image(out / output_name(case.id, case.images[0]), seg.astype(np.uint8),
                    loaded.file_geometry)
    return {"test_cases": len(cases),
            "latency_pytorch_ms": 1e3 * float(np.median(seconds["pytorch"])),
            "latency_onnxruntime_ms": 1e3 * float(np.median(seconds["onnxruntime"])),
            "backends": {k: m.backend for k, m in models.items()},
            "pytorch_onnx_agreement": min(agree)}


def score_predictions(pred_dir: Path, data_dir: str, csv_path: Path) -> dict[str, Any]:
    """Per-class Dice (and IoU, HD95, surface Dice) of the written predictions."""
    from nasdsl.runs import atomic_write_bytes
    from nasdsl.infer.evaluate import evaluate, to_csv
    from nasdsl.train.metrics import mean_scores

    scores, names = evaluate(pred_dir, data_dir, "test", progress=False)
    atomic_write_bytes(csv_path, to_csv(scores, names).encode())
    mean = mean_scores(scores)
    dice = {names[c]: v for c, v in mean["dice"].items()}
    fg = [v for v in dice.values() if not math.isnan(v)]
    return {"test_dice": dice, "test_dice_mean": sum(fg) / len(fg) if fg else math.nan,
            "test_hd95": {names[c]: v for c, v in mean.get("hd95", {}).items()}}


def overlay_first_case(pred_dir: Path, data_dir: str, out: Path) -> Path:
    from nasdsl.data import load_case, read_image
    from nasdsl.figures import overlay
    from nasdsl.infer.predict import output_name

    index, cases = _test_cases(data_dir)
    case = cases[0]
    loaded = load_case(index, case)
    pred, _ = read_image(pred_dir / output_name(case.id, case.images[0]))
    pred = pred[0].reshape(loaded.label[0].shape) if pred[0].size == loaded.label[0].size \
        else pred[0]
    values = np.asarray(index.label_values)
    label = values[loaded.label[0]]
    names = dict(zip(index.label_values, index.label_names))
    return overlay(loaded.image, label, pred.astype(np.int64), out,
                   title=f"test case {case.id}", names=names)


def table(summary: dict[str, Any]) -> str:
    """The closing table of a run, as plain text (also in RUN/summary.json)."""
    v = summary["values"]
    rows = [("engine", v.get("engine", "?")),
            ("parameters", f"{v['params']:,}" if v.get("params") is not None else "?")]
    if v.get("search_steps") is not None:
        rows.append(("search steps (architecture)",
                     f"{v['search_steps']} ({v.get('search_arch_steps', 0)})"))
    if v.get("entropy_start") is not None and v.get("entropy_end") is not None:
        rows.append(("architecture entropy", f"{v['entropy_start']:.4f} \u2192 "
                     f"{v['entropy_end']:.4f} nats ({v['entropy_end'] - v['entropy_start']:+.4f})"))
    rows += [("validation Dice (training)", _num(v.get("val_dice"))),
             ("test cases", v.get("test_cases", "?"))]
    for name, d in (v.get("test_dice") or {}).items():
        rows.append((f"test Dice {name}", _num(d)))
    rows.append(("test Dice (mean of classes)", _num(v.get("test_dice_mean"))))
    stages = summary.get("stages", {})
    steps = {"search": v.get("search_steps"), "train": v.get("train_steps")}
    for key in ("search", "train", "infer"):
        if key == "search" and v.get("search_steps") is None:
            continue  # the spec decided every choice: no search ran
        if stages.get(key) is not None:
            n = steps.get(key)
            rows.append((f"{key} time", f"{stages[key]:.1f} s"
                         + (f" ({n} steps)" if n is not None else "")))
    rows += [("latency PyTorch / case", f"{v.get('latency_pytorch_ms', math.nan):.1f} ms"),
             ("latency ONNX Runtime / case",
              f"{v.get('latency_onnxruntime_ms', math.nan):.1f} ms"),
             ("PyTorch = ONNX voxels", _num(v.get("pytorch_onnx_agreement")))]
    machine = summary.get("machine") or {}
    if machine:
        load = machine.get("load_average")
        rows.append(("CPU threads / cores / load",
                     f"{machine.get('threads')} / {machine.get('cpus')} / "
                     + ("?" if not load else f"{load[0]:.2f}")))
    width = max(len(k) for k, _ in rows)
    buf = io.StringIO()
    for k, val in rows:
        buf.write(f"{k.ljust(width)}  {val}\n")
    if v.get("convergence"):
        buf.write(f"warning: {v['convergence']}\n")
    return buf.getvalue()


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.4f}" if isinstance(x, float) else str(x)


__all__ = ["predict_test_cases", "score_predictions", "overlay_first_case", "table"]
