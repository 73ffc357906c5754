"""What an engine knows of a space, on top of `nasdsl.space` (docs/SEARCH_IR.md): the
decision table with each decision's kind as engines see it, the relaxed graph's choice
nodes, label tags, costs (per architecture and per label), the spec's budget, and
children elaborated from assignments. No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nasdsl.diagnostics import DiagnosticSink, NasError
from nasdsl.ir.decisions import DecisionPoint
from nasdsl.ir.graph import Graph, Node
from nasdsl.space import SearchSpace as IrSpace
from nasdsl.syntax import ast as A


@dataclass
class SearchSpace:
    path: str
    overrides: dict[str, Any]
    ir: IrSpace
    kinds: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str, overrides: dict[str, Any]) -> "SearchSpace":
        from nasdsl.api import compile_spec
        from nasdsl.enginespec import decision_kinds
        from nasdsl.enginespec.diagnose import nothing_to_search

        # what the engine cannot build is checked with --set known (pick_engine)
        compiled = compile_spec(path, overrides, engine_checks=False)
        if compiled.kind != "space":   # as `check --engine` says it (E0431, exit 1)
            raise NasError([nothing_to_search(compiled)])
        ir = IrSpace(compiled)
        space = cls(path, dict(overrides), ir)
        space.kinds = decision_kinds(ir.table, ir.compiled.graph)
        return space

    @property
    def compiled(self):
        return self.ir.compiled

    @property
    def table(self):
        return self.ir.table

    @property
    def graph(self) -> Graph:
        """The relaxed graph (structural decisions at their defaults)."""
        return self.ir.compiled.graph

    def point(self, did: str) -> DecisionPoint:
        p = self.table.get(did)
        assert p is not None, did
        return p

    # ---- provenance ---------------------------------------------------------------------
    def fingerprint(self) -> str:
        return str(self.table.fingerprint)

    def spec_hash(self) -> str:
        import hashlib

        text = self.compiled.space_unit.span.file.text
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ---- the relaxed graph's choice nodes -----------------------------------------------
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

    # ---- costs ----------------------------------------------------------------------------
    def label_costs(self, metric: str) -> dict[str, list[float]]:
        """Per relaxed decision, per label (in label order): what the label adds, summed
        over the cell instances / uses sharing the decision."""
        out = {}
        for did, per in self.ir.label_costs().items():
            labels = self.point(did).labels
            out[did] = [float(_metric(per[lab], metric)) if lab in per else 0.0
                        for lab in labels]
        return out

    def base_cost(self, metric: str) -> float:
        return float(_metric(self.ir.base_cost(), metric))

    def child(self, assignment: dict[str, Any]):
        return self.ir.child(assignment)

    def cost(self, assignment: dict[str, Any], metric: str = "params") -> int:
        """Exact cost of a child (constraints not applied: a budget search prices the
        children that break it)."""
        return int(_metric(self.ir.cost(assignment), metric))

    def legal(self, assignment: dict[str, Any]) -> bool:
        """Valid and within the spec's constraints."""
        try:
            return bool(self.ir.constraints(assignment).ok)
        except NasError:
            return False

    def budget(self, metric: str = "params") -> float | None:
        """N of the spec's `constraint params <= N` (or `flops`), the tightest one; read
        when the spec was compiled (nasdsl.constraints.budgets)."""
        return self.compiled.budgets.get(metric)


def _metric(cost: Any, metric: str) -> float:
    value = cost.flops if metric == "flops" else cost.params
    return float(value if value is not None else cost.params)
