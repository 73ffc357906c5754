"""Parameter overrides: `-D NAME=VALUE` read from the command line, and checked (as a
genotype's `param` is) to keep the parameter's type.

A spec's default says what a parameter is: `param dims = 2` is an integer, so `-D
dims=3.0` is refused here, as a diagnostic, instead of failing deep in elaboration.
Integers may stand for numbers, and an integer and a tuple of integers are
interchangeable (a patch size is either); anything else must match in kind.
"""

from __future__ import annotations

import math
from typing import Any

from nasdsl.diagnostics import DiagnosticSink, Note
from nasdsl.errors import UsageError
from nasdsl.sema.exprs import MAX_INT, is_int
from nasdsl.sema.genotype import NotALiteral, literal
from nasdsl.sema.values import Symbol, kind_of, show
from nasdsl.source import Span
from nasdsl.syntax import ast as A


def check_override_kinds(unit: A.Unit, overrides: dict[str, Any],
                         spans: dict[str, Span], sink: DiagnosticSink) -> bool:
    """Report every override whose kind differs from its literal default; True if none."""
    ok = True
    for stmt in unit.body:
        if not isinstance(stmt, A.Param) or stmt.name not in overrides:
            continue
        try:
            default = literal(stmt.value)
        except NotALiteral:
            continue  # a computed default: its uses check the value
        if _has_name(default):
            continue  # `param w = base` names another value: its kind is not known here
        value = overrides[stmt.name]
        if not compatible(default, value):
            where = spans.get(stmt.name)
            given = "" if where is not None else f"-D {stmt.name}={show(value)}: "
            sink.error("E0417", f"{given}parameter `{stmt.name}` is {_kind(default)}, "
                       f"found {show(value)}", where,
                       f"give {_kind(default)}, like the default `{show(default)}`",
                       (Note(stmt.span, "the parameter is declared here"),))
            ok = False
    return ok


def compatible(default: Any, value: Any) -> bool:
    d, v = _category(default), _category(value)
    if d == v:
        if isinstance(default, tuple) and default and isinstance(value, tuple):
            return all(compatible(default[0], x) for x in value)
        return True
    if d == "number" and v == "integer":
        return True
    ints = {"integer", "integers"}
    return d in ints and v in ints and _ints(value)


def _has_name(v: Any) -> bool:
    if isinstance(v, tuple):
        return any(_has_name(x) for x in v)
    return isinstance(v, Symbol)


def _ints(value: Any) -> bool:
    items = value if isinstance(value, tuple) else (value,)
    return all(_category(x) == "integer" for x in items)


def _category(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, tuple):
        return "integers" if v and _ints(v) else "tuple"
    return type(v).__name__


def _kind(v: Any) -> str:
    if isinstance(v, tuple):
        return "a tuple of integers" if v and _ints(v) else "a tuple"
    return kind_of(v)


# ---- the command line's `-D NAME=VALUE` and `--input-size` ------------------------
def parse_override(text: str) -> tuple[str, Any]:
    """`-D NAME=VALUE`: VALUE is an integer, number, true/false, a name or a tuple."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise UsageError(f"-D {text}: write -D NAME=VALUE")
    return name, _parse_value(raw.strip(), text)


def _parse_value(raw: str, whole: str) -> Any:
    if raw.startswith("(") and raw.endswith(")"):
        inner = [x.strip() for x in raw[1:-1].split(",") if x.strip()]
        return tuple(_parse_value(x, whole) for x in inner)
    if "," in raw:
        return tuple(_parse_value(x.strip(), whole) for x in raw.split(",") if x.strip())
    if raw in ("true", "false"):
        return raw == "true"
    try:
        number: int | float = int(raw)
    except ValueError:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
    if is_int(number) or math.isfinite(number):
        if is_int(number) and abs(number) > MAX_INT:  # the limit of spec arithmetic
            raise UsageError(f"-D {whole}: `{raw}` is out of range (values in specs stay "
                             "below 2**53)")
        return number
    if raw.isidentifier():
        return Symbol(raw)
    raise UsageError(f"-D {whole}: cannot read the value `{raw}`")


def parse_size(text: str) -> tuple[int, ...]:
    """`--input-size 128x128x64` (or a single number for every axis)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        sizes = tuple(int(p) for p in parts if p)
    except ValueError:
        raise UsageError(f"--input-size {text}: write sizes like 128x128 or 96x96x64") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise UsageError(f"--input-size {text}: sizes must be positive")
    return sizes
