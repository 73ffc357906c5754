"""Sidecars from someone else: `model.onnx.json` (what `nasdsl export` writes beside the
model) and the `infer` + `plan` sections it shares with a run's manifest: where it is,
reading it (admitted, bounded) and its schema.

Plain Python rather than a schema library: neither jsonschema nor pydantic is installed
with nasdsl, and the rules that matter here are not expressible in JSON Schema anyway
(NaN passes `exclusiveMinimum`, which compares false; lengths must agree across sections:
window vs dims, normalisation vs channels, label values vs classes). Each rule names the
field (`infer.window[1]`) in a SidecarError (a DataError naming the file: exit 2). What
passes can be handed to Plan.from_dict and InferShape without a later KeyError,
TypeError or an empty normalisation leaving an uninitialised array.

A top-level module rather than under infer/: run manifests (nasdsl.manifests, which
nasdsl.runs imports) check their sections with it, and infer imports runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from nasdsl.data.errors import DataError
from nasdsl.errors import UsageError
from nasdsl.data.limits import check_voxels
from nasdsl.spec_files import printable

SIDECAR_FORMAT = 1
MODES = ("sliding", "whole")
SCHEMES = ("ct", "zscore", "rescale", "none")
MAX_LABEL_VALUE = 2 ** 31 - 1
MAX_CLASSES = 1 << 16
MAX_CHANNELS = 1 << 12
MAX_STRIDE = 1 << 12
PLAN_FIELDS = {"dims", "patch_size", "target_spacing", "normalization", "channel_names",
               "label_names", "label_values", "crop_nonzero", "slices2d",
               "oversample_foreground", "extra"}
NORM_FIELDS = {"scheme", "use_mask", "mean", "std", "lower", "upper"}


class SidecarError(DataError):
    """A sidecar or manifest field that inference cannot use; names the field."""


class _Fields:
    """Typed reads of one JSON object, each failure naming `prefix.key`."""

    def __init__(self, path: str | Path, obj: Any, prefix: str) -> None:
        self.path, self.prefix = path, prefix
        if not isinstance(obj, dict):
            self.fail(prefix or "(top level)", f"must be a JSON object, not {_kind(obj)}")
        self.obj: dict[str, Any] = obj

    def fail(self, name: str, what: str) -> None:
        raise SidecarError(self.path, f"field `{name}`: {what}")

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str) -> Any:
        if key not in self.obj:
            self.fail(self.name(key), "missing")
        return self.obj[key]

    def int(self, key: str, lo: int, hi: int, value: Any = None, name: str = "") -> int:
        v = self.get(key) if value is None else value
        name = name or self.name(key)
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(name, f"must be a whole number, not {_kind(v)}")
        if not lo <= v <= hi:
            self.fail(name, f"is {v}; must be {lo} to {hi:,}")
        return v

    def number(self, key: str, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False, hi_open: bool = False, value: Any = None,
               name: str = "") -> float:
        v = self.get(key) if value is None else value
        name = name or self.name(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(name, f"must be a number, not {_kind(v)}")
        if not math.isfinite(v):
            self.fail(name, f"is {v}; must be a finite number")
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
            self.fail(name, f"is {v}; must lie in {rng}")
        return float(v)

    def bool(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            self.fail(self.name(key), f"must be true or false, not {_kind(v)}")
        return v

    def choice(self, key: str, options: Sequence[str]) -> str:
        v = self.get(key)
        if v not in options:
            self.fail(self.name(key), f"is {_show(v)}; must be one of {', '.join(options)}")
        return v

    def text(self, key: str) -> str:
        v = self.get(key)
        if not isinstance(v, str) or not v:
            self.fail(self.name(key), f"must be a non-empty string, not {_kind(v)}")
        return v

    def list(self, key: str, length: int | None = None, lengths: Sequence[int] = ()) -> list:
        v = self.get(key)
        if not isinstance(v, list):
            self.fail(self.name(key), f"must be a list, not {_kind(v)}")
        allowed = ([length] if length is not None else []) + list(lengths)
        if allowed and len(v) not in allowed:
            want = " or ".join(str(n) for n in sorted(set(allowed)))
            self.fail(self.name(key), f"has {len(v)} entries; must have {want}")
        return v

    def ints(self, key: str, length: int, lo: int, hi: int) -> list[int]:
        return [self.int(key, lo, hi, value=v, name=f"{self.name(key)}[{i}]")
                for i, v in enumerate(self.list(key, length))]

    def strings(self, key: str, length: int | None) -> list[str]:
        out = self.list(key, length)
        for i, v in enumerate(out):
            if not isinstance(v, str):
                self.fail(f"{self.name(key)}[{i}]", f"must be a string, not {_kind(v)}")
        return out

    def only(self, allowed: set[str]) -> None:
        extra = sorted(set(self.obj) - allowed)
        if extra:
            self.fail(self.name(extra[0]), "is not a field nasdsl knows (a newer or "
                                           "edited file?)")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string {_show(v)}"
    return {list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    text = repr(v)
    return printable(text[:60] + ("..." if len(text) > 60 else ""))


# ---- the sections -------------------------------------------------------------------------
def validate_infer(path: str | Path, infer: Any, outputs: int | None = None) -> dict[str, Any]:
    """The `infer` section: how the network is applied to a whole case."""
    f = _Fields(path, infer, "infer")
    dims = f.int("dims", 2, 3)
    f.int("classes", 1, MAX_CLASSES)
    f.int("in_channels", 1, MAX_CHANNELS)
    window = f.ints("window", dims, 1, 1 << 20)
    f.ints("multiple", dims, 1, MAX_STRIDE)
    try:
        check_voxels(path, window, 1, "field `infer.window` asks for a sliding window of",
                     spatial_dims=dims)
    except DataError as err:
        raise SidecarError(path, err.what) from None
    f.choice("mode", MODES)
    f.number("overlap", 0.0, 1.0, hi_open=True)
    hi = (outputs - 1) if outputs else 64
    f.int("main_output", 0, max(hi, 0))
    return infer


def validate_plan(path: str | Path, plan: Any, infer: dict[str, Any]) -> dict[str, Any]:
    """The `plan` section (data.Plan as JSON), consistent with `infer`."""
    f = _Fields(path, plan, "plan")
    f.only(PLAN_FIELDS)
    dims = f.int("dims", 2, 3)
    if dims != infer["dims"]:
        f.fail("plan.dims", f"is {dims}, but infer.dims is {infer['dims']}")
    f.ints("patch_size", dims, 1, 1 << 20)
    slices = f.bool("slices2d") if "slices2d" in plan else False
    target = f.get("target_spacing")
    if target is not None:
        n = f.list("target_spacing", lengths=[dims, 3] if slices else [dims])
        for i, v in enumerate(n):
            f.number("target_spacing", 0.0, 1e6, lo_open=True, value=v,
                     name=f"plan.target_spacing[{i}]")
    channels = infer["in_channels"]
    norms = f.list("normalization", channels)
    for i, n in enumerate(norms):
        _norm(path, n, f"plan.normalization[{i}]")
    f.strings("channel_names", channels)
    classes = infer["classes"]
    f.strings("label_names", classes)
    values = f.ints("label_values", classes, 0, MAX_LABEL_VALUE)
    if len(set(values)) != len(values):
        f.fail("plan.label_values", f"repeats a value: {values}")
    if 0 not in values:
        f.fail("plan.label_values", "must include the background value 0")
    for key in ("crop_nonzero",):
        if key in plan:
            f.bool(key)
    if "oversample_foreground" in plan:
        f.number("oversample_foreground", 0.0, 1.0)
    if "extra" in plan and not isinstance(plan["extra"], dict):
        f.fail("plan.extra", f"must be an object, not {_kind(plan['extra'])}")
    return plan


def _norm(path: str | Path, norm: Any, prefix: str) -> None:
    f = _Fields(path, norm, prefix)
    f.only(NORM_FIELDS)
    scheme = f.choice("scheme", SCHEMES)
    if "use_mask" in norm:
        f.bool("use_mask")
    for key in ("mean", "lower", "upper"):
        if key in norm:
            f.number(key)
    if "std" in norm:
        f.number("std", 0.0, lo_open=scheme == "ct")
    if scheme == "ct" and norm.get("lower", 0) > norm.get("upper", 0):
        f.fail(f"{prefix}.lower", "is above upper")


def validate_model_sections(path: str | Path, meta: Any, outputs: int | None = None
                            ) -> dict[str, Any]:
    """`infer` and `plan` of a run manifest (or a sidecar): present and consistent."""
    f = _Fields(path, meta, "")
    infer = validate_infer(path, f.get("infer"), outputs)
    validate_plan(path, f.get("plan"), infer)
    return meta


def validate_sidecar(path: str | Path, meta: Any) -> dict[str, Any]:
    """A whole sidecar: format, input name, outputs, then infer and plan."""
    f = _Fields(path, meta, "")
    fmt = f.get("format")
    if fmt != SIDECAR_FORMAT:
        f.fail("format", f"is {_show(fmt)}; this nasdsl reads sidecar format "
                         f"{SIDECAR_FORMAT}")
    f.text("input_name")
    outputs = None
    if "outputs" in meta:
        names = f.strings("outputs", None)
        if not names:
            f.fail("outputs", "is empty")
        outputs = len(names)
    infer = validate_infer(path, f.get("infer"), outputs)
    if "main_output" in meta and meta["main_output"] != infer["main_output"]:
        f.fail("main_output", f"is {_show(meta['main_output'])}, but infer.main_output is "
                              f"{infer['main_output']}")
    validate_plan(path, f.get("plan"), infer)
    return meta


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.name + ".json")


def read_sidecar(onnx_path: Path) -> dict[str, Any]:
    """The sidecar beside `onnx_path`, admitted (a regular file in the model's folder, at
    most 64 MiB) and validated field by field. Torch-free: `infer` checks it first."""
    import os

    from nasdsl.data.admit import read_json

    path = sidecar_path(Path(onnx_path))
    if not os.path.lexists(path):
        raise UsageError(f"{printable(str(path))}: missing; `nasdsl export` writes it beside "
                         "the .onnx (inference needs its preprocessing)")
    return validate_sidecar(path, read_json(path, path.parent, "sidecar", nonfinite=True))


__all__ = ["SIDECAR_FORMAT", "read_sidecar", "sidecar_path", "SidecarError", "validate_infer",
           "validate_plan", "validate_sidecar", "validate_model_sections"]
