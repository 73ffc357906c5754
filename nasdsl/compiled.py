"""The compiled artifact: a checked spec's IR graph, decision table and decisions.

What `nasdsl.compiler.compile_spec` returns and every later stage (bounds, constraints,
search spaces, backends) reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from nasdsl.diagnostics import Diagnostic
from nasdsl.ir.decisions import DecisionTable
from nasdsl.ir.graph import Graph
from nasdsl.sema.values import show
from nasdsl.syntax import ast as A


@dataclass
class Compiled:
    """A checked spec: the IR graph, its decision table and what was decided."""
    path: str
    unit: A.Unit                    # the file itself (space, arch or genotype)
    space_unit: A.Unit              # the unit that was elaborated
    space_path: str
    graph: Graph
    table: DecisionTable
    params: dict[str, Any]
    search: dict[str, dict[str, Any]]   # engine -> its `search` block (spec order)
    decided: dict[str, Any]         # decision id -> label / tuple of labels
    input_size: tuple[int, ...] | None
    assigned: bool = False          # an engine's assignment decided the space
    size_override: tuple[int, ...] | None = None  # --input-size, kept for children
    warnings: list[Diagnostic] = field(default_factory=list)
    budgets: dict[str, float] = field(default_factory=dict)  # metric -> tightest N of
    # `constraint <metric> <= N` (nasdsl.constraints.budgets)

    @property
    def kind(self) -> str:
        return self.unit.kind

    @property
    def engine(self) -> str | None:
        """The spec's engine: the one its first `search` block names."""
        return next(iter(self.search), None)

    @property
    def input_paths(self) -> tuple[str, ...]:
        """Every spec file read for this result (outputs must not overwrite them)."""
        return (self.path,) if self.space_path == self.path else (self.path, self.space_path)

    @property
    def is_frozen(self) -> bool:
        return self.graph.is_frozen and (self.unit.kind != "space" or self.assigned
                                          or len(self.table) == 0)

    def genotype_hash(self) -> str:
        """Stable hash of (space text, parameters, decisions): names a derived net."""
        h = hashlib.sha256()
        h.update(self.space_unit.span.file.text.encode())
        h.update(repr(sorted((k, show(v)) for k, v in self.params.items())).encode())
        h.update(repr(sorted(self.decided.items())).encode())
        return h.hexdigest()[:12]
