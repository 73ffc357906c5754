"""A search space: the one object that engines, the supernet and the genotype printer
use (docs/SEARCH_IR.md). It holds the compiled space and answers from it: the complete
decision table and each decision's kind as engines see it, validated assignments,
children, the relaxed graph and its choice nodes, label tags, per-architecture costs and
constraints, per-label costs for differentiable cost terms, the spec's budget, and the
genotype printer. Children and relaxed variants are kept in `nasdsl.caches.Lru`s (the
one cache policy). No torch here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from nasdsl.analysis.resources import flop_bounds, op_flops, op_params, param_bounds
from nasdsl.artifact import NetworkArtifact, compile_files
from nasdsl.caches import Lru
from nasdsl.compiled import Compiled
from nasdsl.compiler import check_architecture, compile_assignment, compile_spec
from nasdsl.constraints import ConstraintResult
from nasdsl.diagnostics import Diagnostic, DiagnosticSink, NasError
from nasdsl.enginespec import decision_kinds
from nasdsl.enginespec.diagnose import nothing_to_search
from nasdsl.errors import UsageError
from nasdsl.ir.decisions import DecisionPoint, DecisionTable, validate_assignment
from nasdsl.ir.genotype_print import print_genotype
from nasdsl.ir.graph import Graph, Node, live_nodes
from nasdsl.sema.explore import elaborate_relaxed
from nasdsl.sema.genotype import report_issues

CHILDREN_KEPT = 64   # elaborated children: a search revisits its recent ones
RELAXED_KEPT = 64    # relaxed graphs at fixed structural decisions


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int | None

    def __add__(self, other: "Cost") -> "Cost":
        flops = None if self.flops is None or other.flops is None else \
            self.flops + other.flops
        return Cost(self.params + other.params, flops)

    def metric(self, name: str) -> float:
        """`params` or `flops` (params when the input size, hence flops, is unknown)."""
        value = self.flops if name == "flops" else self.params
        return float(value if value is not None else self.params)


class SearchSpace:
    def __init__(self, compiled: Compiled, overrides: dict[str, Any] | None = None):
        if compiled.kind != "space":
            raise UsageError(f"{compiled.path}: `{compiled.unit.name}` is a "
                             f"{compiled.kind}, not a space")
        self.compiled = compiled
        self.path = compiled.path
        self.overrides = dict(overrides or {})   # the -D values (printed into genotypes)
        self.artifact: NetworkArtifact | None = None   # what a run records of it
        self.table: DecisionTable = compiled.table
        self._children: Lru[frozenset, Compiled] = Lru(CHILDREN_KEPT)
        self._relaxed: Lru[frozenset, tuple[Graph, tuple[int, ...] | None]] = \
            Lru(RELAXED_KEPT)

    @classmethod
    def load(cls, path: str, overrides: dict[str, Any]) -> "SearchSpace":
        """A space for a search: NasError (E0431, as `check --engine` says it) when the
        file is no space; what the engine cannot build is checked later, with the
        command line's settings known (engines.loop.pick_engine)."""
        return cls.from_artifact(compile_files(path, overrides))

    @classmethod
    def from_artifact(cls, artifact: NetworkArtifact) -> "SearchSpace":
        """The space a run recorded (nasdsl.artifact.NetworkArtifact), compiled once per
        process; NasError (E0431) when it holds no space."""
        compiled = artifact.compiled()
        if compiled.kind != "space":
            raise NasError([nothing_to_search(compiled)])
        space = cls(compiled, dict(artifact.overrides))
        space.artifact = artifact
        return space

    @property
    def dims(self) -> int:
        return self.compiled.graph.dims

    @property
    def graph(self) -> Graph:
        """The relaxed graph (structural decisions at their defaults)."""
        return self.compiled.graph

    @cached_property
    def kinds(self) -> dict[str, str]:
        """Each decision's kind as engines see it: op, inputs or structural."""
        return decision_kinds(self.table, self.compiled.graph)

    def point(self, did: str) -> DecisionPoint:
        p = self.table.get(did)
        assert p is not None, did
        return p

    # ---- provenance -----------------------------------------------------------------------
    def fingerprint(self) -> str:
        return str(self.table.fingerprint)

    def spec_hash(self) -> str:
        text = self.compiled.space_unit.span.file.text
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ---- assignments and children -------------------------------------------------------
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
        return self._children.get_or_make(
            _key(normal), lambda: compile_assignment(self.compiled, normal))

    def constraints(self, assignment: dict[str, Any]) -> ConstraintResult:
        return check_architecture(self.compiled, self.table.normalise(assignment))

    def legal(self, assignment: dict[str, Any]) -> bool:
        """Valid and within the spec's constraints."""
        try:
            return bool(self.constraints(assignment).ok)
        except NasError:
            return False

    def budget(self, metric: str = "params") -> float | None:
        """N of the spec's `constraint params <= N` (or `flops`), the tightest one; read
        when the spec was compiled (nasdsl.constraints.budgets)."""
        return self.compiled.budgets.get(metric)

    # ---- the relaxed graph ----------------------------------------------------------------
    def relaxed(self, fixed: dict[str, Any] | None = None) -> Graph:
        """The relaxed graph with structural decisions at `fixed` (else defaults)."""
        return self._relaxed_run(fixed)[0]

    def _relaxed_run(self, fixed: dict[str, Any] | None
                     ) -> tuple[Graph, tuple[int, ...] | None]:
        if not fixed:
            return self.compiled.graph, self.compiled.input_size
        normal = self.table.normalise(fixed)
        return self._relaxed.get_or_make(_key(normal), lambda: self._elaborate(normal))

    def _elaborate(self, fixed: dict[str, Any]) -> tuple[Graph, tuple[int, ...] | None]:
        run = elaborate_relaxed(self.compiled.space_unit, dict(self.compiled.params), fixed,
                                self.compiled.size_override,
                                frozenset(p.id for p in self.table if p.structural))
        if not run.ok or run.result.graph is None:
            raise NasError([d for d in run.diagnostics if d.severity == "error"])
        return live_nodes(run.result.graph), run.elaborator.input_size

    def mixed_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if n.op == "mixed"]

    def choose_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if n.op == "choose"]

    def relaxable(self) -> bool:
        return all(k != "structural" for k in self.kinds.values())

    def zero_labels(self, did: str) -> set[int]:
        """Indices of the zero op among a decision's labels (from the label tags)."""
        p = self.point(did)
        return {i for i, info in enumerate(p.info) if "zero" in info.tags}

    def edge_parent(self, p: DecisionPoint) -> tuple[str, str] | None:
        """(cell node decision, candidate) when `p` is the op of a cell edge."""
        return p.parent

    def edge_children(self, did: str) -> dict[str, DecisionPoint]:
        """Candidate label -> the op decision of that edge, for a cell node."""
        return {c.parent[1]: c for c in self.table.children(did)
                if c.parent is not None and c.parent[0] == did}

    # ---- costs --------------------------------------------------------------------------
    def child_cost(self, assignment: dict[str, Any]) -> Cost:
        """Exact cost of a child (constraints not applied: a budget search prices the
        children that break it)."""
        c = self.child(assignment)
        flops = flop_bounds(c.graph, c.input_size).lo if c.input_size else None
        return Cost(param_bounds(c.graph).lo, flops)

    def cost(self, assignment: dict[str, Any], metric: str = "params") -> int:
        """`child_cost` in one metric."""
        return int(self.child_cost(assignment).metric(metric))

    def label_cost_table(self, fixed: dict[str, Any] | None = None
                         ) -> dict[str, dict[str, Cost]]:
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

    def label_costs(self, metric: str = "params") -> dict[str, list[float]]:
        """`label_cost_table` in one metric, per decision in label order (0 for a label
        that adds nothing)."""
        out = {}
        for did, per in self.label_cost_table().items():
            out[did] = [per[lab].metric(metric) if lab in per else 0.0
                        for lab in self.point(did).labels]
        return out

    def base_cost_of(self, fixed: dict[str, Any] | None = None) -> Cost:
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

    def base_cost(self, metric: str = "params") -> float:
        """`base_cost_of` the default relaxed graph in one metric."""
        return self.base_cost_of().metric(metric)

    # ---- genotypes ----------------------------------------------------------------------
    def genotype_text(self, assignment: dict[str, Any], name: str = "Found",
                      path_from: str | Path | None = None,
                      params: dict[str, Any] | None = None) -> str:
        """A `.nas` genotype of this space; `path_from` = where it will be written (the
        space path is made relative to it)."""
        space = Path(self.compiled.space_path).resolve()
        where = Path(path_from).resolve().parent if path_from else space.parent
        rel = Path(os.path.relpath(space, where))
        return print_genotype(self.table, self.table.normalise(assignment), name,
                              rel.as_posix(), params)


def _key(assignment: dict[str, Any]) -> frozenset:
    return frozenset((k, tuple(v) if isinstance(v, list) else v)
                     for k, v in assignment.items())


def load_space(path: str, overrides: dict[str, Any] | None = None,
               input_size: tuple[int, ...] | None = None) -> SearchSpace:
    """Compile a space file; NasError on spec errors, UsageError if it is no space."""
    return SearchSpace(compile_spec(path, overrides, input_size), overrides)
