"""`nasdsl infer MODEL INPUT... --out DIR`: files in, segmentations with their geometry out.

MODEL is a run directory (PyTorch, the best checkpoint) or an exported `.onnx` with its
sidecar (ONNX Runtime: CUDA provider when present, CPU otherwise). Each input is read
with the data package's readers, preprocessed with the run's plan (the same code training
used), predicted whole-case (sliding window or one shot), mapped back to the input grid
and label values, and written atomically beside nothing but its own name in DIR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from nasdsl.api import UsageError
from nasdsl.train.validate import InferShape, case_probabilities, torch_predictor

Predictor = Callable[[torch.Tensor], torch.Tensor]
_CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})$")


@dataclass
class LoadedModel:
    predictor: Predictor
    shape: InferShape
    in_channels: int
    plan: dict[str, Any]              # the data plan as JSON (data.Plan.from_dict)
    backend: str                      # "pytorch (cpu)", "onnxruntime (CPUExecutionProvider)"


def open_model(path: str | Path, device: str | None = None) -> LoadedModel:
    p = Path(path)
    if p.suffix == ".onnx":
        return _open_onnx(p, device)
    if p.is_dir():
        return _open_run(p, device)
    raise UsageError(f"{p}: MODEL is a run directory or an exported .onnx file")


def shape_from(infer: dict[str, Any]) -> InferShape:
    return InferShape(infer["dims"], infer["classes"], tuple(infer["window"]),
                      tuple(infer["multiple"]), infer["mode"], infer["overlap"],
                      infer["main_output"])


def _open_run(path: Path, device: str | None) -> LoadedModel:
    from nasdsl.infer.export import load_run_model
    from nasdsl.runs import RunDir
    from nasdsl.train.step import Precision

    from nasdsl.sidecars import validate_model_sections

    run_dir = RunDir(path)
    net, manifest, _ = load_run_model(run_dir)
    validate_model_sections(run_dir.manifest_path, manifest)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    precision = Precision.for_device(dev)
    shape = shape_from(manifest["infer"])
    net = precision.prepare_model(net, shape.dims)
    predictor = torch_predictor(net, precision, shape.main_output)

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return predictor(x).cpu()

    return LoadedModel(run, shape, manifest["infer"]["in_channels"], manifest["plan"],
                       f"pytorch ({precision.device})")


def ort_providers(device: str | None = None) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _open_onnx(path: Path, device: str | None) -> LoadedModel:
    import onnxruntime as ort

    from nasdsl.sidecars import read_sidecar

    from nasdsl.data.admit import admit_file
    from nasdsl.data.errors import DataError
    from nasdsl.sidecars import sidecar_path

    admit_file(path, path.parent)
    meta = read_sidecar(path)
    try:
        session = ort.InferenceSession(str(path), providers=ort_providers(device))
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types for bad files
        raise DataError(path, f"ONNX Runtime cannot load it ({_ort_message(exc)})") from None
    shape = shape_from(meta["infer"])
    name = meta["input_name"]
    inputs = [i.name for i in session.get_inputs()]
    if name not in inputs:
        raise DataError(sidecar_path(path), f"field `input_name`: `{name}` is not an input "
                                            f"of {path.name} (its inputs: {', '.join(inputs)})")
    n_out = len(session.get_outputs())
    if shape.main_output >= n_out:
        raise DataError(sidecar_path(path), f"field `infer.main_output`: {shape.main_output} "
                                            f"but {path.name} has {n_out} output(s)")

    def run(x: torch.Tensor) -> torch.Tensor:
        try:
            outs = session.run(None, {name: x.detach().cpu().numpy().astype(np.float32)})
        except Exception as exc:  # noqa: BLE001 - ORT's own InvalidArgument/Fail types
            raise DataError(path, f"ONNX Runtime cannot run it on a "
                                  f"{'x'.join(map(str, x.shape))} input; does the sidecar "
                                  f"match the model? ({_ort_message(exc)})") from None
        out = outs[shape.main_output]
        if out.ndim != x.dim() or out.shape[0] != x.shape[0] or out.shape[1] != shape.classes:
            raise DataError(path, f"output {shape.main_output} has shape {list(out.shape)}, "
                                  f"not {x.shape[0]} x {shape.classes} classes x spatial "
                                  "as its sidecar says")
        return torch.from_numpy(out)

    return LoadedModel(run, shape, meta["infer"]["in_channels"], meta["plan"],
                       f"onnxruntime ({session.get_providers()[0]})")


def _ort_message(exc: Exception) -> str:
    from nasdsl.spec_files import printable

    text = " ".join(str(exc).split())
    return printable(text[:300] + ("..." if len(text) > 300 else ""))


# ---- files ---------------------------------------------------------------------------------
def group_inputs(paths: Sequence[str | Path], in_channels: int) -> list[tuple[str, list[Path]]]:
    """(case name, channel files). With several channels, nnU-Net's CASE_0000 naming
    groups files; a single file may also hold every channel."""
    from nasdsl.data.imageio import suffix_of

    out: dict[str, list[Path]] = {}
    for raw in paths:
        p = Path(raw)
        stem = p.name[: len(p.name) - len(suffix_of(p))] if p.is_file() else p.name
        m = _CHANNEL_FILE.match(stem) if in_channels > 1 else None
        out.setdefault(m.group("case") if m else stem, []).append(p)
    return [(k, sorted(v)) for k, v in out.items()]


def output_name(case: str, first: Path) -> str:
    from nasdsl.data.imageio import suffix_of

    suffix = suffix_of(first) if first.is_file() else ".nii.gz"
    return case + (suffix if suffix in (".nii.gz", ".nii", ".mhd", ".mha", ".nrrd", ".png",
                                       ".tif", ".tiff") else ".nii.gz")


@dataclass
class InputCase:
    image: np.ndarray                 # C x spatial, as the network's plan sees it
    geometry: Any                     # its geometry
    file_geometry: Any                # the input file's (for writing the output)
    unit_axis: bool                   # a 2D image stored as an (x, y, 1) volume


def read_case(files: Sequence[Path], in_channels: int, dims: int,
              slices2d: bool = False) -> InputCase:
    from nasdsl.data import DataError, read_image

    arrays, geom = [], None
    for f in files:
        arr, g = read_image(f)
        if geom is not None and (arr.shape[1:] != arrays[0].shape[1:] or not g.matches(geom)):
            raise DataError(f, f"geometry differs from {files[0].name}")
        geom = geom or g
        arrays.append(arr)
    image = np.concatenate(arrays, 0).astype(np.float32, copy=False)
    if image.shape[0] != in_channels:
        raise DataError(files[0], f"has {image.shape[0]} channel(s), the model takes "
                                  f"{in_channels}")
    unit = dims == 2 and not slices2d and image.ndim == 4 and image.shape[-1] == 1
    if unit:  # as the data package reads 2D datasets stored in NIfTI
        return InputCase(image[..., 0], geom.restrict(2), geom, True)
    if image.ndim - 1 != dims and not (slices2d and image.ndim == 4):
        raise DataError(files[0], f"is {image.ndim - 1}D, the model is {dims}D")
    return InputCase(image, geom, geom, False)


def segment(model: LoadedModel, image: np.ndarray, geometry: Any, tta: bool = False,
            mode: str | None = None, source: str | Path = "the image") -> np.ndarray:
    """Label values (spatial, on the input grid) for one C x spatial image."""
    seg = segment_indices(model, image, geometry, tta, mode, source)
    return np.asarray(model.plan["label_values"], np.int64)[seg]


def segment_indices(model: LoadedModel, image: np.ndarray, geometry: Any,
                    tta: bool = False, mode: str | None = None,
                    source: str | Path = "the image") -> np.ndarray:
    """Class indices 0..K-1 (spatial, on the input grid) for one C x spatial image."""
    from dataclasses import replace

    from nasdsl.data import Plan, Preprocessor

    plan = Plan.from_dict(model.plan)
    pre = Preprocessor(plan)
    x, props = pre.preprocess_image(image, geometry, source)
    shape = replace(model.shape, mode=mode) if mode else model.shape
    with torch.no_grad():
        probs = case_probabilities(model.predictor, torch.from_numpy(x), shape, tta)
    seg = probs.argmax(0)[None].numpy().astype(np.int64)
    return pre.restore(seg, props, is_label=True)[0]


def infer_files(model: LoadedModel, inputs: Sequence[str | Path], out_dir: Path,
                tta: bool = False, mode: str | None = None,
                progress: bool = True) -> list[Path]:
    from nasdsl.data import write_image

    cases = group_inputs(inputs, model.in_channels)
    written = []
    dims, slices = model.plan["dims"], bool(model.plan.get("slices2d"))
    for case, files in _bar(cases, progress):
        loaded = read_case(files, model.in_channels, dims, slices)
        seg = segment(model, loaded.image, loaded.geometry, tta, mode, files[0])
        seg = seg[..., None] if loaded.unit_axis else seg
        dtype = np.uint8 if seg.max() < 256 and seg.min() >= 0 else np.int32
        written.append(write_image(out_dir / output_name(case, files[0]), seg.astype(dtype),
                                   loaded.file_geometry))
    return written


def _bar(items: list, progress: bool):
    if not progress or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="infer", unit="case")


__all__ = ["open_model", "LoadedModel", "infer_files", "segment", "segment_indices", "group_inputs",
           "read_case", "InputCase", "ort_providers", "shape_from"]
