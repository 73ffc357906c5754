"""Schemas of the JSON files in a run directory, checked before any field is used.

A run directory may come from someone else (#15 row 6): a manifest without `infer`, an
unknown engine, a string seed or a missing `decision_table` used to end in a KeyError or
TypeError (exit 3). `validate(value, schema, file)` checks a loaded JSON value against a
schema written with the small combinators below and raises a `ManifestError` (a
UsageError: exit 2) that names the file and the field:

    error: runs/a/manifest.json: field `infer.window`: must be a list of 2 to 3 integers
    in [1, 4096], found "big"

Only the fields nasdsl reads are described; other fields pass (records of provenance such
as `versions` or `command` are informational). Numbers must be finite: JSON from Python
may carry NaN/Infinity. A train manifest's `infer` and `plan` sections are checked by
nasdsl.sidecars, as an ONNX sidecar's are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from nasdsl.errors import UsageError

MAX_WINDOW = 4096          # voxels per axis of a requested training patch


class ManifestError(UsageError):
    """A run-directory file that does not match its schema (exit 2; names file and field).
    A UsageError like runs.RunError, not a subclass of it: runs.py imports this module."""

    def __init__(self, file: str, where: str, message: str, found: Any = None,
                 show_found: bool = True) -> None:
        self.file, self.where = file, where
        text = f"{file}: field `{where}`: {message}" if where else f"{file}: {message}"
        if show_found:
            text += f", found {describe(found)}"
        super().__init__(text)


def describe(value: Any) -> str:
    """A short, printable rendering of a JSON value (never a huge or escaped dump)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        shown = value[:40].encode("unicode_escape").decode("ascii")
        return f'"{shown}"' + ("..." if len(value) > 40 else "")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ---- the combinators: each returns None (fits) or the message "must be ..." -----------------
Check = Callable[[Any, str, str], None]   # (value, where, file) -> None or raises


def _fail(file: str, where: str, expected: str, value: Any) -> None:
    raise ManifestError(file, where, f"must be {expected}", value)


def Int(lo: int | None = None, hi: int | None = None) -> Check:
    def check(v: Any, where: str, file: str) -> None:
        if isinstance(v, bool) or not isinstance(v, int) or \
                (lo is not None and v < lo) or (hi is not None and v > hi):
            _fail(file, where, f"an integer{_range(lo, hi)}", v)
    check.expected = f"an integer{_range(lo, hi)}"  # type: ignore[attr-defined]
    return check


def Num(lo: float | None = None, hi: float | None = None, hi_open: bool = False,
        lo_open: bool = False) -> Check:
    expected = f"a finite number{_range(lo, hi, lo_open, hi_open)}"

    def check(v: Any, where: str, file: str) -> None:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            _fail(file, where, expected, v)
    check.expected = expected  # type: ignore[attr-defined]
    return check


def Str(choices: tuple[str, ...] = (), max_len: int = 4096) -> Check:
    expected = ("one of " + ", ".join(f'"{c}"' for c in choices)) if choices else "a string"

    def check(v: Any, where: str, file: str) -> None:
        if not isinstance(v, str) or len(v) > max_len or (choices and v not in choices) \
                or "\x00" in v:
            _fail(file, where, expected, v)
    check.expected = expected  # type: ignore[attr-defined]
    return check


def Bool() -> Check:
    def check(v: Any, where: str, file: str) -> None:
        if not isinstance(v, bool):
            _fail(file, where, "true or false", v)
    check.expected = "true or false"  # type: ignore[attr-defined]
    return check


def Null(inner: Check) -> Check:
    def check(v: Any, where: str, file: str) -> None:
        if v is not None:
            inner(v, where, file)
    check.expected = f"null or {getattr(inner, 'expected', 'a value')}"  # type: ignore
    return check


def List(item: Check, min_len: int = 0, max_len: int = 1_000_000) -> Check:
    inner = getattr(item, "expected", "values")
    count = f"{min_len} to {max_len}" if max_len < 1_000_000 else f"at least {min_len}"
    if min_len == max_len:
        count = str(min_len)
    expected = f"a list of {count} ({inner})"

    def check(v: Any, where: str, file: str) -> None:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            _fail(file, where, expected, v)
        for i, x in enumerate(v):
            item(x, f"{where}[{i}]", file)
    check.expected = expected  # type: ignore[attr-defined]
    return check


def Map(value: Check) -> Check:
    """An object with any string keys whose values all fit `value`."""
    def check(v: Any, where: str, file: str) -> None:
        if not isinstance(v, dict):
            _fail(file, where, "an object", v)
        for k, x in v.items():
            value(x, f"{where}.{k}" if where else k, file)
    check.expected = "an object"  # type: ignore[attr-defined]
    return check


@dataclass
class Obj:
    """An object with these fields (all required unless listed in `optional`)."""
    fields: dict[str, Check]
    optional: frozenset[str] = field(default_factory=frozenset)
    rules: tuple[Callable[[dict, str, str], None], ...] = ()   # cross-field checks
    expected = "an object"

    def __call__(self, v: Any, where: str, file: str) -> None:
        if not isinstance(v, dict):
            _fail(file, where, "an object", v)
        for name, check in self.fields.items():
            at = f"{where}.{name}" if where else name
            if name not in v:
                if name in self.optional:
                    continue
                raise ManifestError(file, at, "is missing", show_found=False)
            check(v[name], at, file)
        for rule in self.rules:
            rule(v, where, file)


def _range(lo: float | None, hi: float | None, lo_open: bool = False,
           hi_open: bool = False) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {hi}"
    return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def validate(value: Any, schema: Check, file: str, where: str = "") -> Any:
    schema(value, where, file)
    return value


# ---- the schemas -----------------------------------------------------------------------------
def _model_sections(v: dict, where: str, file: str) -> None:
    """`infer` and `plan`: the checks an ONNX sidecar gets (nasdsl.sidecars), so a
    run and its export are held to one standard."""
    from nasdsl.sidecars import validate_model_sections

    validate_model_sections(file, v)


SPEC_RECORD = Obj({"path": Str(), "space_path": Str(), "file_hash": Str(max_len=64),
                   "space_hash": Str(max_len=64), "defines": List(Str(max_len=4096)),
                   "genotype_hash": Str(max_len=64)})

TRAIN_CONFIG = Obj({
    "epochs": Int(0, 10 ** 6), "steps_per_epoch": Int(1, 10 ** 7),
    "batch_size": Int(1, 65536), "optimizer": Str(), "lr": Num(0, lo_open=True),
    "weight_decay": Num(0), "schedule": Str(), "clip_grad": Null(Num(0, lo_open=True)),
    "seed": Int(), "workers": Int(0, 256), "checkpoint_every": Int(0),
    "val_every": Int(1), "time_budget": Null(Num(0, lo_open=True)), "progress": Bool(),
}, optional=frozenset({"optimizer", "lr", "weight_decay", "schedule", "clip_grad", "seed",
                       "workers", "checkpoint_every", "val_every", "time_budget",
                       "progress"}))

TRAIN_REQUEST = Obj({
    "spec": Str(), "data": Str(), "out": Str(), "defines": List(Str()),
    "config": TRAIN_CONFIG, "patch": Null(List(Int(1, MAX_WINDOW), 2, 3)),
    "dims": Null(Int(2, 3)), "fold": Int(0), "folds": Int(1, 1000), "augment": Bool(),
    "mode": Str(("sliding", "whole")), "overlap": Num(0, 1, hi_open=True),
    "precision": Str(("auto", "fp32", "bf16")), "device": Null(Str()),
    "init_from": Null(Str()), "cache": Bool(),
}, optional=frozenset({"defines", "patch", "dims", "fold", "folds", "augment", "mode",
                       "overlap", "precision", "device", "init_from", "cache"}))

SPLIT = Obj({"train": List(Str(max_len=1024)), "val": List(Str(max_len=1024))})

# where the run's network is (nasdsl.artifact): absent in runs made before it existed
NETWORK_RECORD = Obj({"file": Str(("network.json",)), "fingerprint": Str(max_len=64)})

TRAIN_MANIFEST = Obj({
    "kind": Str(("train",)), "seed": Int(), "request": TRAIN_REQUEST,
    "spec": SPEC_RECORD, "data": Obj({"root": Str()}), "split": SPLIT,
    "network": NETWORK_RECORD,
}, optional=frozenset({"network"}), rules=(_model_sections,))


def _engine_name(v: Any, where: str, file: str) -> None:
    from nasdsl.enginespec import ENGINES

    if not isinstance(v, str) or v not in ENGINES:
        _fail(file, where, "one of " + ", ".join(ENGINES), v)


def _settings_fit_engine(v: dict, where: str, file: str) -> None:
    """Every recorded setting is one the engine has, of its type and in its range."""
    from nasdsl.enginespec import check_block

    problems = check_block(v["engine"], v["settings"])
    if problems:
        p = problems[0]
        at = f"settings.{p.setting}" if p.setting else "settings"
        raise ManifestError(file, at, p.message, show_found=False)


SEARCH_MANIFEST = Obj({
    "engine": _engine_name, "seed": Int(), "spec": Str(), "spec_hash": Str(max_len=64),
    "decision_table": Str(max_len=64), "data": Str(),
    "overrides": Map(Str(max_len=4096)), "settings": Obj({"seed": Int()}),
    "network": NETWORK_RECORD,
}, optional=frozenset({"network"}), rules=(_settings_fit_engine,))


def validate_manifest(manifest: Any, file: str) -> dict[str, Any]:
    """A manifest of either kind: `kind: train`, else a search run (it names an engine)."""
    if not isinstance(manifest, dict):
        raise ManifestError(file, "", "must hold a JSON object", manifest)
    if manifest.get("kind") == "train":
        return validate(manifest, TRAIN_MANIFEST, file)
    if "engine" in manifest:
        return validate(manifest, SEARCH_MANIFEST, file)
    raise ManifestError(file, "kind", 'must be "train", or the manifest must name the '
                        "`engine` of a search run", manifest.get("kind"))


__all__ = ["ManifestError", "validate", "validate_manifest", "describe", "Obj", "Int", "Num",
           "Str", "Bool", "Null", "List", "Map", "TRAIN_MANIFEST", "SEARCH_MANIFEST",
           "MAX_WINDOW"]
