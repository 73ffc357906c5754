"""Binding a genotype's decisions to the decision points a space declares.

A genotype is written in spec syntax (`act = elu`, `skip[2] = [m[1], m[3]]`,
`DownSC.n[0] = down_conv(p1) + down_dep_conv(p0)`); engines hand over the same thing as a
plain assignment {id: label | tuple of labels}. Both are resolved *while* the space is
elaborated, because which decisions exist can depend on earlier ones (a skip point that
is not kept has no op to decide). Every genotype entry must be consumed and every active
decision point must be answered; both are checked after elaboration.
"""

from __future__ import annotations

from typing import Any, Callable

from nasdsl.diagnostics import DiagnosticSink, Note, suggest
from nasdsl.ir.decisions import DecisionPoint
from nasdsl.sema.values import OpRef, Symbol, value_key
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr


class _Bad(Exception):
    def __init__(self, message: str, span, hint: str | None = None):
        self.message, self.span, self.hint = message, span, hint


class GenotypeBinder:
    """Answers decision points from a genotype's `Decision` statements."""

    def __init__(self, decisions: list[A.Decision], sink: DiagnosticSink):
        self.sink = sink
        self.entries: dict[str, A.Decision] = {}
        self.used: set[str] = set()
        self.asked: dict[str, DecisionPoint] = {}
        self._cache: dict[str, Any] = {}
        for d in decisions:
            did = A.path_text(d.path)
            if did in self.entries:
                sink.error("E0410", f"decision `{did}` is given twice", d.span,
                           notes=(Note(self.entries[did].span, "first given here"),))
                continue
            self.entries[did] = d

    # ---- value / op / inputs points ---------------------------------------------------
    def resolve(self, point: DecisionPoint) -> Any:
        """The chosen label (value, op) or tuple of labels (inputs); None when absent."""
        self.asked.setdefault(point.id, point)
        if point.id in self._cache:
            return self._cache[point.id]
        entry = self.entries.get(point.id)
        if entry is None:
            return None
        self.used.add(point.id)
        try:
            if point.kind == "inputs":
                result: Any = _inputs(point, entry.value)
            else:
                result = _value(point, entry.value)
        except _Bad as bad:
            self.sink.error("E0412", bad.message, bad.span, bad.hint,
                            (Note(point.span, "the choice is declared here"),))
            result = None
        self._cache[point.id] = result
        return result

    def resolve_node(self, inputs: DecisionPoint,
                     edges: dict[str, DecisionPoint]) -> tuple[tuple[str, ...], dict] | None:
        """A cell node written as `op(src) + op(src)`: its inputs and the edge ops."""
        self.asked.setdefault(inputs.id, inputs)
        key = inputs.id + "#node"
        if key in self._cache:
            return self._cache[key]
        entry = self.entries.get(inputs.id)
        if entry is None:
            for p in edges.values():
                self.asked.setdefault(p.id, p)
            return None
        self.used.add(inputs.id)
        try:
            result: Any = _node(inputs, edges, entry.value)
        except _Bad as bad:
            self.sink.error("E0412", bad.message, bad.span, bad.hint,
                            (Note(inputs.span, "the node is declared here"),))
            result = None
        self._cache[key] = result
        return result

    # ---- after elaboration ------------------------------------------------------------
    def report(self, active_ids: set[str], head,
               unsure: Callable[[str], bool] = lambda did: False) -> None:
        """Unknown entries and undecided active points, all in one run. `unsure(id)`:
        the space failed where that decision would be declared, so it is not unknown."""
        known = set(self.asked)
        for did, entry in self.entries.items():
            if did not in self.used and not unsure(did):
                hint = suggest(did, known) or ("this space has no choices" if not known
                                              else "run `nasdsl check` on the space to "
                                              "list its choices")
                self.sink.error("E0411", f"unknown decision `{did}`", entry.span, hint)
        missing = [p for did, p in self.asked.items()
                   if did in active_ids and did not in self.used and not _covered(did, self)]
        for p in missing:
            self.sink.error("E0413", f"choice `{p.id}` is not decided", head,
                            f"add `{p.id} = ...` with one of {p.describe_domain()}",
                            (Note(p.span, "the choice is declared here"),))


def _covered(did: str, binder: GenotypeBinder) -> bool:
    """Edge op points are answered by their node's entry (`n[0] = op(src) + ...`)."""
    for node_id in binder.used:
        if did.startswith(node_id + "."):
            return True
    return False


def literal(e: A.Expr) -> Any:
    if isinstance(e, (A.IntLit, A.FloatLit, A.StrLit, A.BoolLit)):
        return e.value
    if isinstance(e, A.Name):
        return Symbol(e.id)
    if isinstance(e, (A.TupleLit, A.ListLit)):
        return tuple(literal(i) for i in e.items)
    if isinstance(e, A.UnaryOp) and e.op == "-":
        v = literal(e.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
    raise _Bad("a decision is a value (number, name, tuple), a list of inputs, or a "
               "sum of edge ops", e.span)


def _value(point: DecisionPoint, e: A.Expr) -> str:
    v = literal(e)
    if point.kind == "op" or any(isinstance(d, OpRef) for d in point.domain):
        # op sets are chosen by label (`conv`), which need not be the op's name
        name = v.name if isinstance(v, Symbol) else None
        if name in point.labels:
            return name  # type: ignore[return-value]
    else:
        keys = [value_key(d) for d in point.domain]
        k = value_key(v)
        if k in keys:
            return point.labels[keys.index(k)]
    raise _Bad(f"`{fmt_expr(e)}` is not a value of choice `{point.id}`", e.span,
               _near(fmt_expr(e), point))


def _near(text: str, point: DecisionPoint) -> str:
    close = suggest(text, point.labels)
    return close or f"choose one of {point.describe_domain()}"


def _inputs(point: DecisionPoint, e: A.Expr) -> tuple[str, ...]:
    items = e.items if isinstance(e, (A.ListLit, A.TupleLit)) else (e,)
    chosen = []
    for item in items:
        text = fmt_expr(item)
        if text not in point.labels:
            raise _Bad(f"`{text}` is not a candidate of `{point.id}`", item.span,
                       suggest(text, point.labels) or
                       f"candidates: {', '.join(point.labels)}")
        if text in chosen:
            raise _Bad(f"`{text}` is chosen twice", item.span)
        chosen.append(text)
    _check_keep(point, len(chosen), e)
    return tuple(lab for lab in point.labels if lab in chosen)


def _check_keep(point: DecisionPoint, n: int, e: A.Expr) -> None:
    lo, hi = point.keep
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise _Bad(f"`{point.id}` keeps {want} input(s), the genotype gives {n}", e.span)


def _terms(e: A.Expr) -> list[A.Expr]:
    if isinstance(e, A.BinOp) and e.op == "+":
        return _terms(e.left) + _terms(e.right)
    return [e]


def _node(inputs: DecisionPoint, edges: dict[str, DecisionPoint],
          e: A.Expr) -> tuple[tuple[str, ...], dict[str, str]]:
    ops: dict[str, str] = {}
    for term in _terms(e):
        if not (isinstance(term, A.Call) and isinstance(term.func, A.Name)
                and len(term.args) == 1 and not term.kwargs):
            raise _Bad(f"write node `{inputs.id}` as a sum of edges, e.g. "
                       f"`{_example(inputs, edges)}`", term.span)
        src = fmt_expr(term.args[0])
        if src not in inputs.labels:
            raise _Bad(f"`{src}` is not an input of `{inputs.id}`", term.args[0].span,
                       suggest(src, inputs.labels) or
                       f"inputs: {', '.join(inputs.labels)}")
        if src in ops:
            raise _Bad(f"edge from `{src}` is given twice", term.span)
        edge = edges[src]
        op = term.func.id
        if op not in edge.labels:
            raise _Bad(f"`{op}` is not an op of the edge from `{src}`", term.func.span,
                       suggest(op, edge.labels) or
                       f"ops: {', '.join(edge.labels)}")
        ops[src] = op
    _check_keep(inputs, len(ops), e)
    return tuple(lab for lab in inputs.labels if lab in ops), ops


def _example(inputs: DecisionPoint, edges: dict[str, DecisionPoint]) -> str:
    parts = []
    for lab in inputs.labels[: inputs.keep[1]]:
        parts.append(f"{edges[lab].labels[0]}({lab})")
    return " + ".join(parts)
