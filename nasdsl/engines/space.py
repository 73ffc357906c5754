"""What an engine knows of a space: the decision table, the supernet graph, per-label
tags and costs, the constraints, and children elaborated from assignments.

NOTE (adapter): label tags (zero / pool / parameter-free) are read from the op registry's
`OpDef.tags` when the table does not carry them (issue 8 adds them to the table); the
fallback reads the op's implementation class, never its name in a spec.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nasdsl.analysis.resources import _op_flops, _op_params, param_bounds, flop_bounds
from nasdsl.api import Compiled, compile_spec
from nasdsl.diagnostics import DiagnosticSink, NasError
from nasdsl.ir.decisions import DecisionPoint
from nasdsl.ir.graph import Graph, Node
from nasdsl.ops import REGISTRY
from nasdsl.syntax import ast as A


@dataclass(frozen=True)
class LabelInfo:
    label: str
    op: str
    zero: bool
    pool: bool
    param_free: bool


def label_info(alt: Any) -> LabelInfo:
    opdef = REGISTRY[alt.op]
    tags = set(getattr(alt, "tags", ()) or ()) | set(opdef.tags)
    impl = opdef.impl or ""
    zero = "zero" in tags or impl == "Zero"
    pool = "pool" in tags or "Pool" in impl
    return LabelInfo(alt.label, alt.op, zero, pool, "param_free" in tags or zero or pool
                     or opdef.impl is None)


@dataclass
class SearchSpace:
    """A checked space, as the engines consume it (no torch here)."""
    path: str
    overrides: dict[str, Any]
    compiled: Compiled
    kinds: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str, overrides: dict[str, Any]) -> "SearchSpace":
        from nasdsl.engines.registry import decision_kinds

        compiled = compile_spec(path, overrides)
        space = cls(path, dict(overrides), compiled)
        space.kinds = decision_kinds(compiled.table, compiled.graph)
        return space

    @property
    def table(self):
        return self.compiled.table

    @property
    def graph(self) -> Graph:
        return self.compiled.graph

    def point(self, did: str) -> DecisionPoint:
        p = self.table.get(did)
        assert p is not None, did
        return p

    # ---- provenance ---------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Hash of the table (ids, kinds, domains, keep, parents): checkpoints carry it."""
        fp = getattr(self.table, "fingerprint", None)
        if callable(fp):
            return str(fp())
        if isinstance(fp, str):
            return fp
        rows = [(p.id, p.kind, list(p.labels), list(p.keep), p.parent) for p in self.table]
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]

    def spec_hash(self) -> str:
        text = self.compiled.space_unit.span.file.text
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ---- the supernet's choice nodes --------------------------------------------------
    def mixed_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if n.op == "mixed"]

    def choose_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if n.op == "choose"]

    def labels_of(self, node: Node) -> list[LabelInfo]:
        return [label_info(a) for a in node.attr("alternatives")]

    def relaxable(self) -> bool:
        return all(k != "structural" for k in self.kinds.values())

    # ---- costs ----------------------------------------------------------------------------
    def edge_costs(self, node: Node, metric: str) -> list[float]:
        """Parameters (or FLOPs) of each candidate of one mixed edge."""
        ins = tuple(self.graph.node(i).type for i in node.inputs)
        out = []
        for a in node.attr("alternatives"):
            if metric == "flops" and self.compiled.input_size is not None:
                out.append(float(_op_flops(a.op, dict(a.attrs), ins, node.type,
                                           self.compiled.input_size)))
            else:
                out.append(float(_op_params(a.op, dict(a.attrs), ins, node.type)))
        return out

    def fixed_cost(self, metric: str) -> float:
        """Cost of everything outside the mixed edges (stems, preprocess, heads)."""
        total = 0.0
        size = self.compiled.input_size
        for n in self.graph.nodes:
            if n.op in ("input", "mixed", "choose"):
                continue
            ins = tuple(self.graph.node(i).type for i in n.inputs)
            if metric == "flops" and size is not None:
                total += _op_flops(n.op, dict(n.attrs), ins, n.type, size)
            else:
                total += _op_params(n.op, dict(n.attrs), ins, n.type)
        return total

    # ---- children ----------------------------------------------------------------------
    def child(self, assignment: dict[str, Any]) -> Compiled:
        """The frozen network of an assignment; NasError when it is illegal (a stride the
        patch does not allow) or breaks a constraint."""
        return compile_spec(self.path, self.overrides, assignment=assignment)

    def cost(self, assignment: dict[str, Any], metric: str = "params") -> int:
        """Exact parameters (or FLOPs) of a child, constraints not applied (a budget
        search must price the children that break it)."""
        graph = self._elaborate(assignment)
        if graph is None:
            self.child(assignment)   # raises NasError with the diagnostics
            raise ValueError("illegal architecture")
        size = graph.input_size or self.compiled.input_size
        if metric == "flops" and size is not None:
            return flop_bounds(graph, size).lo
        return param_bounds(graph).lo

    def _elaborate(self, assignment: dict[str, Any]) -> Graph | None:
        from nasdsl.ir.graph import live_nodes
        from nasdsl.sema.elaborate import Elaborator

        sink = DiagnosticSink()
        result = Elaborator(self.compiled.space_unit, sink, dict(self.compiled.params),
                            assignment).run()
        if sink.has_errors or result.graph is None:
            return None
        return live_nodes(result.graph)

    def legal(self, assignment: dict[str, Any]) -> bool:
        try:
            self.child(assignment)
        except NasError:
            return False
        return True

    def budget(self, metric: str = "params") -> float | None:
        """N of the spec's `constraint params <= N` (or `flops`), the tightest one."""
        found = []
        for s in self.compiled.space_unit.body:
            if isinstance(s, A.Constraint) and isinstance(s.expr, A.BinOp) \
                    and s.expr.op in ("<=", "<") and isinstance(s.expr.left, A.Name) \
                    and s.expr.left.id == metric:
                value = self._evaluate(s.expr.right)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.append(float(value))
        return min(found) if found else None

    def _evaluate(self, expr: A.Expr) -> Any:
        from nasdsl.sema.elaborate import Elaborator

        el = Elaborator(self.compiled.space_unit, DiagnosticSink(), dict(self.compiled.params))
        el.run()
        try:
            return el.eval(expr, el.root_env)
        except Exception:  # noqa: BLE001 - a budget we cannot read is no budget
            return None
