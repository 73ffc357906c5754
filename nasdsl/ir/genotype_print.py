"""Assignment -> canonical `.nas` genotype text that `nasdsl check` accepts and that
reads back to the same assignment (tests/test_search_ir.py round-trips it).

Labels are spec syntax already (the table made them from the space's own text), so they
are written as they are; the genotype name and the space path are checked here because
they come from the caller.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from nasdsl.ir.decisions import DecisionPoint, DecisionTable

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PATH = re.compile(r'^[^"\\\n]{1,400}$')


def print_genotype(table: DecisionTable, assignment: Mapping[str, Any], name: str,
                   space_path: str, params: Mapping[str, Any] | None = None) -> str:
    if not _NAME.match(name):
        raise ValueError(f"genotype name {name!r} is not an identifier")
    if not _PATH.match(space_path):
        raise ValueError(f"space path {space_path!r} cannot be written in a genotype")
    lines = [f'genotype {name} of "{space_path}" {{']
    for key, value in (params or {}).items():
        if not _NAME.match(key):
            raise ValueError(f"parameter name {key!r} is not an identifier")
        lines.append(f"  param {key} = {_literal(value)}")
    for p in table:
        if p.id not in assignment or _is_edge(p, table):
            continue
        lines.append(f"  {p.id} = {_decision(p, assignment, table)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _is_edge(p: DecisionPoint, table: DecisionTable) -> bool:
    """Cell edge ops are written inside their node's line."""
    parent = table.get(p.parent[0]) if p.parent else None
    return parent is not None and parent.role == "node"


def _decision(p: DecisionPoint, assignment: Mapping[str, Any], table: DecisionTable) -> str:
    chosen = assignment[p.id]
    if p.kind == "inputs" and p.role == "node":
        kept = [lab for lab in p.labels if lab in chosen]
        return " + ".join(f"{assignment[f'{p.id}.{lab}']}({lab})" for lab in kept)
    if p.kind == "inputs":
        return "[" + ", ".join(lab for lab in p.labels if lab in chosen) + "]"
    return str(chosen)


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(_literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    name = getattr(v, "name", None)
    if isinstance(name, str) and _NAME.match(name):
        return name
    raise ValueError(f"cannot write parameter value {v!r} in a genotype")
