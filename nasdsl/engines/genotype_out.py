"""Write a derived assignment as a `.nas` genotype file (checked by re-compiling it).

NOTE (adapter): issue 8 adds the canonical printer (ir/genotype_print.py); this one
prints the same syntax as specs/genotypes/*.nas — cell nodes as `op(input) + ...`,
input choices as `[a, b]`, values bare — plus the `-D` parameters of the search as
`param` lines and the engine, the run and the final probabilities as comments.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nasdsl.engines.space import SearchSpace
from nasdsl.sema.values import show

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def genotype_text(space: SearchSpace, assignment: dict[str, Any], out_path: Path,
                  name: str, comments: list[str]) -> str:
    rel = os.path.relpath(Path(space.path).resolve(), Path(out_path).resolve().parent)
    if '"' in rel or "\n" in rel or "\\" in rel:
        raise ValueError(f"cannot name the space path {rel!r} in a genotype file")
    if not _NAME.match(name):
        raise ValueError(f"bad genotype name {name!r}")
    head = [f"# {c}" for c in comments]
    lines = head + [f'genotype {name} of "{rel}" {{']
    for key, value in sorted(space.overrides.items()):
        lines.append(f"  param {key} = {show(value)}")
    for line in _decision_lines(space, assignment):
        lines.append("  " + line)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _decision_lines(space: SearchSpace, assignment: dict[str, Any]) -> list[str]:
    out = []
    for p in space.table:
        if p.id not in assignment or p.parent is not None:
            continue
        value = assignment[p.id]
        if p.kind == "inputs":
            kids = {c.parent[1]: c.id for c in space.table.children(p.id)}
            if kids:
                terms = [f"{assignment[kids[lab]]}({lab})" if lab in kids else lab
                         for lab in value]
                out.append(f"{p.id} = {' + '.join(terms)}")
            else:
                out.append(f"{p.id} = [{', '.join(value)}]")
        else:
            out.append(f"{p.id} = {value}")
    return out
