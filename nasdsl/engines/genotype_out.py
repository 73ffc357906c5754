"""A derived assignment as a `.nas` genotype file: issue 8's printer (canonical text that
`nasdsl check` accepts and that round-trips), the search's `-D` parameters as `param`
lines, and the engine, the run and the final probabilities as leading comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasdsl.space import SearchSpace


def genotype_text(space: SearchSpace, assignment: dict[str, Any], out_path: Path,
                  name: str, comments: list[str]) -> str:
    body = space.genotype_text(assignment, name=name, path_from=out_path,
                               params=dict(sorted(space.overrides.items())) or None)
    head = "".join(f"# {' '.join(c.split())}\n" for c in comments)
    return head + body
