"""A tiny valid exported model (ONNX graph built with onnx.helper: a 1x1 convolution, no
training needed) with its sidecar, and the sidecar mutations of issue 15 row 6.

Each mutation is (id, edit of the sidecar dict, the field its error must name).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from data_fixtures import write_nifti

NAN = float("nan")


def write_model(folder: Path, in_channels: int = 1, classes: int = 2) -> Path:
    """model.onnx: input `input` (N x C x H x W) -> `logits` (N x classes x H x W)."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    weight = rng.normal(0, 1, (classes, in_channels, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["logits"])], "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", in_channels, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes, "H", "W"])],
        [helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.ravel())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    return path


def valid_sidecar() -> dict[str, Any]:
    plan = {"dims": 2, "patch_size": [16, 16], "target_spacing": [1.0, 1.0],
            "normalization": [{"scheme": "zscore", "use_mask": False, "mean": 0.0,
                               "std": 1.0, "lower": 0.0, "upper": 0.0}],
            "channel_names": ["image"], "label_names": ["background", "organ"],
            "label_values": [0, 1], "crop_nonzero": True, "slices2d": False,
            "oversample_foreground": 0.33, "extra": {}}
    infer = {"dims": 2, "classes": 2, "window": [16, 16], "multiple": [1, 1],
             "mode": "sliding", "overlap": 0.5, "main_output": 0, "in_channels": 1}
    return {"format": 1, "nasdsl": "test", "opset": 17, "input_name": "input",
            "spec": {}, "genotype_hash": "0", "plan": plan, "infer": infer,
            "outputs": ["logits"], "main_output": 0, "checkpoint": {}, "run": None}


def write_image(folder: Path, name: str = "scan.nii.gz") -> Path:
    img = np.zeros((20, 20, 1), np.float32)
    img[4:16, 4:16] = np.random.default_rng(1).normal(100, 10, (12, 12, 1))
    path = folder / name
    write_nifti(path, img)
    return path


def write_sidecar(model: Path, meta: Any) -> Path:
    path = model.with_name(model.name + ".json")
    path.write_text(json.dumps(meta) if not isinstance(meta, (bytes, str)) else meta)
    return path


def _set(path: str, value: Any) -> Callable[[dict], dict]:
    def edit(meta: dict) -> dict:
        meta = copy.deepcopy(meta)
        *parents, last = path.split(".")
        node = meta
        for p in parents:
            node = node[p]
        node[last] = value
        return meta
    return edit


def _drop(path: str) -> Callable[[dict], dict]:
    def edit(meta: dict) -> dict:
        meta = copy.deepcopy(meta)
        *parents, last = path.split(".")
        node = meta
        for p in parents:
            node = node[p]
        del node[last]
        return meta
    return edit


# (id, edit, field named in the error). The first 25 are the list and its kin.
MUTATIONS: list[tuple[str, Callable[[dict], Any], str]] = [
    ("missing_infer", _drop("infer"), "`infer`"),
    ("missing_plan", _drop("plan"), "`plan`"),
    ("spacing_nan", _set("plan.target_spacing", [NAN, 1.0]), "plan.target_spacing[0]"),
    ("spacing_zero", _set("plan.target_spacing", [0.0, 1.0]), "plan.target_spacing[0]"),
    ("spacing_string", _set("plan.target_spacing", ["1", 1.0]), "plan.target_spacing[0]"),
    ("spacing_negative", _set("plan.target_spacing", [-1.0, 1.0]), "plan.target_spacing[0]"),
    ("main_output_out_of_range", _set("infer.main_output", 5), "infer.main_output"),
    ("main_output_string", _set("infer.main_output", "0"), "infer.main_output"),
    ("label_values_short", _set("plan.label_values", [0]), "plan.label_values"),
    ("label_values_negative", _set("plan.label_values", [0, -1]), "plan.label_values[1]"),
    ("label_values_no_background", _set("plan.label_values", [1, 2]), "plan.label_values"),
    ("mode_unknown", _set("infer.mode", "fast"), "infer.mode"),
    ("overlap_nan", _set("infer.overlap", NAN), "infer.overlap"),
    ("overlap_one", _set("infer.overlap", 1.0), "infer.overlap"),
    ("input_name_empty", _set("input_name", ""), "input_name"),
    ("input_name_unknown", _set("input_name", "image"), "input_name"),
    ("window_zero", _set("infer.window", [0, 16]), "infer.window[0]"),
    ("window_negative", _set("infer.window", [-16, 16]), "infer.window[0]"),
    ("window_huge", _set("infer.window", [60000, 60000]), "infer.window"),
    ("norm_empty", _set("plan.normalization", []), "plan.normalization"),
    ("classes_zero", _set("infer.classes", 0), "infer.classes"),
    ("classes_string", _set("infer.classes", "2"), "infer.classes"),
    ("in_channels_zero", _set("infer.in_channels", 0), "infer.in_channels"),
    ("multiple_zero", _set("infer.multiple", [0, 1]), "infer.multiple[0]"),
    ("dims_four", _set("infer.dims", 4), "infer.dims"),
    # variants of our own
    ("format_other", _set("format", 99), "`format`"),
    ("not_an_object", lambda meta: [meta], "(top level)"),
    ("not_json", lambda meta: "{\"format\": 1, ", "line 1"),
    ("norm_scheme", _set("plan.normalization", [{"scheme": "magic"}]),
     "plan.normalization[0].scheme"),
    ("norm_std_nan", _set("plan.normalization", [{"scheme": "ct", "std": NAN}]),
     "plan.normalization[0].std"),
    ("plan_unknown_field", _set("plan.surprise", 1), "plan.surprise"),
    ("plan_dims_disagree", _set("plan.dims", 3), "plan.dims"),
    ("label_names_not_strings", _set("plan.label_names", ["background", 7]),
     "plan.label_names[1]"),
    ("window_wrong_rank", _set("infer.window", [16, 16, 16]), "infer.window"),
    ("classes_disagree", _set("infer.classes", 3), "plan.label_names"),
]


def mutated(edit: Callable[[dict], Any]) -> Any:
    return edit(valid_sidecar())
