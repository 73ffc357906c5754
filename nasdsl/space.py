"""A search space as engines see it (docs/SEARCH_IR.md): the complete decision table,
validated assignments, children, per-architecture costs and constraints, per-label costs
for differentiable cost terms, and the genotype printer. No torch here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasdsl.analysis.resources import op_flops, op_params, flop_bounds, param_bounds
from nasdsl.compiled import Compiled
from nasdsl.compiler import check_architecture, compile_assignment, compile_spec
from nasdsl.constraints import ConstraintResult
from nasdsl.errors import UsageError
from nasdsl.diagnostics import Diagnostic, DiagnosticSink
from nasdsl.ir.decisions import DecisionTable, validate_assignment
from nasdsl.ir.graph import Graph, live_nodes
from nasdsl.ir.genotype_print import print_genotype
from nasdsl.sema.explore import elaborate_relaxed
from nasdsl.sema.genotype import report_issues


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int | None

    def __add__(self, other: "Cost") -> "Cost":
        flops = None if self.flops is None or other.flops is None else \
            self.flops + other.flops
        return Cost(self.params + other.params, flops)


class SearchSpace:
    def __init__(self, compiled: Compiled):
        if compiled.kind != "space":
            raise UsageError(f"{compiled.path}: `{compiled.unit.name}` is a "
                             f"{compiled.kind}, not a space")
        self.compiled = compiled
        self.table: DecisionTable = compiled.table
        self._children: dict[frozenset, Compiled] = {}
        self._relaxed: dict[frozenset, tuple[Graph, tuple[int, ...] | None]] = {}

    @property
    def dims(self) -> int:
        return self.compiled.graph.dims

    def validate(self, assignment: dict[str, Any]) -> list[Diagnostic]:
        """Every problem of an assignment (E0411/E0412/E0413/E0416); [] = valid."""
        normal = self.table.normalise(assignment)
        valid = {k: v for k, v in normal.items()
                 if (p := self.table.get(k)) is not None and p.accepts(v)}
        run = elaborate_relaxed(self.compiled.space_unit, dict(self.compiled.params),
                                valid, self.compiled.size_override, relax=False)
        visited = {p.id for p in run.result.table}
        sink = DiagnosticSink()
        report_issues(validate_assignment(self.table, normal, visited), self.table, {},
                      None, sink)
        return sink.errors

    def child(self, assignment: dict[str, Any]) -> Compiled:
        """The architecture of an assignment (frozen IR); NasError if it is not valid."""
        normal = self.table.normalise(assignment)
        key = _key(normal)
        if key not in self._children:
            if len(self._children) > 64:
                self._children.pop(next(iter(self._children)))
            self._children[key] = compile_assignment(self.compiled, normal)
        return self._children[key]

    def relaxed(self, fixed: dict[str, Any] | None = None) -> Graph:
        """The relaxed graph with structural decisions at `fixed` (else defaults)."""
        return self._relaxed_run(fixed)[0]

    def _relaxed_run(self, fixed: dict[str, Any] | None
                     ) -> tuple[Graph, tuple[int, ...] | None]:
        if not fixed:
            return self.compiled.graph, self.compiled.input_size
        key = _key(self.table.normalise(fixed))
        if key not in self._relaxed:
            run = elaborate_relaxed(self.compiled.space_unit, dict(self.compiled.params),
                                    self.table.normalise(fixed), self.compiled.size_override,
                                    frozenset(p.id for p in self.table if p.structural))
            if not run.ok or run.result.graph is None:
                from nasdsl.diagnostics import NasError

                raise NasError([d for d in run.diagnostics if d.severity == "error"])
            self._relaxed[key] = (live_nodes(run.result.graph),
                                  run.elaborator.input_size)
        return self._relaxed[key]

    # ---- costs --------------------------------------------------------------------------
    def cost(self, assignment: dict[str, Any]) -> Cost:
        c = self.child(assignment)
        flops = flop_bounds(c.graph, c.input_size).lo if c.input_size else None
        return Cost(param_bounds(c.graph).lo, flops)

    def constraints(self, assignment: dict[str, Any]) -> ConstraintResult:
        return check_architecture(self.compiled, self.table.normalise(assignment))

    def label_costs(self, fixed: dict[str, Any] | None = None) -> dict[str, dict[str, Cost]]:
        """Per relaxed decision and label: what the label adds, summed over every mixed
        node sharing the decision (ProxylessNAS's expected cost)."""
        graph, size = self._relaxed_run(fixed)
        out: dict[str, dict[str, Cost]] = {}
        for n in graph.nodes:
            if n.op != "mixed":
                continue
            ins = tuple(graph.node(i).type for i in n.inputs)
            per = out.setdefault(n.attr("decision"), {})
            for a in n.attr("alternatives"):
                attrs = dict(a.attrs)
                flops = op_flops(a.op, attrs, ins, n.type, size) if size else None
                cost = Cost(op_params(a.op, attrs, ins, n.type), flops)
                per[a.label] = per[a.label] + cost if a.label in per else cost
        return out

    def base_cost(self, fixed: dict[str, Any] | None = None) -> Cost:
        """The relaxed graph without its mixed nodes."""
        graph, size = self._relaxed_run(fixed)
        params, flops = 0, 0
        for n in graph.nodes:
            if n.op in ("mixed", "choose", "input"):
                continue
            ins = tuple(graph.node(i).type for i in n.inputs)
            params += op_params(n.op, dict(n.attrs), ins, n.type)
            if size:
                flops += op_flops(n.op, dict(n.attrs), ins, n.type, size)
        return Cost(params, flops if size else None)

    # ---- genotypes ----------------------------------------------------------------------
    def genotype_text(self, assignment: dict[str, Any], name: str = "Found",
                      path_from: str | Path | None = None,
                      params: dict[str, Any] | None = None) -> str:
        """A `.nas` genotype of this space; `path_from` = where it will be written (the
        space path is made relative to it)."""
        space = Path(self.compiled.space_path).resolve()
        where = Path(path_from).resolve().parent if path_from else space.parent
        rel = Path(_relpath(space, where))
        return print_genotype(self.table, self.table.normalise(assignment), name,
                              rel.as_posix(), params)


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


def _key(assignment: dict[str, Any]) -> frozenset:
    return frozenset((k, tuple(v) if isinstance(v, list) else v)
                     for k, v in assignment.items())


def load_space(path: str, overrides: dict[str, Any] | None = None,
               input_size: tuple[int, ...] | None = None) -> SearchSpace:
    """Compile a space file; NasError on spec errors, UsageError if it is no space."""
    return SearchSpace(compile_spec(path, overrides, input_size))
