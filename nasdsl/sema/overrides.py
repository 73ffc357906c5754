"""Parameter overrides (`-D NAME=VALUE`, a genotype's `param`) keep the parameter's type.

A spec's default says what a parameter is: `param dims = 2` is an integer, so `-D
dims=3.0` is refused here, as a diagnostic, instead of failing deep in elaboration.
Integers may stand for numbers, and an integer and a tuple of integers are
interchangeable (a patch size is either); anything else must match in kind.
"""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import DiagnosticSink, Note
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
