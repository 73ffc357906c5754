"""Reading a genotype's decisions as an assignment over the space's decision table.

A genotype is written in spec syntax (`act = elu`, `skip[2] = [m[1], m[3]]`,
`DownSC.n[0] = down_conv(p1) + down_dep_conv(p0)`); engines hand over the same thing as a
plain assignment {id: label | tuple of labels}. Both are checked by one function,
`ir.decisions.validate_assignment`, against the space's complete table, with the same
codes (E0411 unknown, E0412 out of domain, E0413 missing, E0416 inactive); here the
genotype's entries become labels, and the issues get the entries' spans.
"""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import DiagnosticSink, Note, suggest
from nasdsl.ir.decisions import DecisionPoint, DecisionTable, Issue
from nasdsl.sema.values import OpRef, Symbol, value_key
from nasdsl.source import Span
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr


class NotALiteral(Exception):
    def __init__(self, message: str, span, hint: str | None = None):
        self.message, self.span, self.hint = message, span, hint


def read_genotype(decisions: list[A.Decision], table: DecisionTable,
                  sink: DiagnosticSink) -> tuple[dict[str, Any], dict[str, Span]]:
    """The genotype's entries as an assignment, and the span of each id's entry.
    Unknown ids pass through (validate_assignment reports them); entries that do not
    parse as a value of their choice are reported here (E0412) and left out."""
    assignment: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    for d in decisions:
        did = A.path_text(d.path)
        if did in spans:
            sink.error("E0410", f"decision `{did}` is given twice", d.span,
                       notes=(Note(spans[did], "first given here"),))
            continue
        spans[did] = d.span
        point = table.get(did)
        try:
            if point is None:
                assignment[did] = fmt_expr(d.value)
            elif point.kind == "inputs" and point.role == "node":
                edges = {lab: table.get(f"{did}.{lab}") for lab in point.labels}
                chosen, ops = _node(point, edges, d.value)  # type: ignore[arg-type]
                assignment[did] = chosen
                for lab, op in ops.items():
                    assignment[f"{did}.{lab}"] = op
                    spans.setdefault(f"{did}.{lab}", d.span)
            elif point.kind == "inputs":
                assignment[did] = _inputs(point, d.value)
            else:
                assignment[did] = _value(point, d.value)
        except NotALiteral as bad:
            sink.error("E0412", bad.message, bad.span, bad.hint,
                       (Note(point.span, "the choice is declared here"),))  # type: ignore[union-attr]
    return assignment, spans


def report_issues(issues: list[Issue], table: DecisionTable, spans: dict[str, Span],
                  head: Span | None, sink: DiagnosticSink) -> None:
    """Issues as diagnostics: at the genotype entry when there is one, else at `head`
    (engine assignments: None), with the choice's declaration as a note."""
    for issue in issues:
        point = table.get(issue.decision)
        notes = () if point is None or issue.code == "E0411" else \
            (Note(point.span, "the choice is declared here"),)
        span = spans.get(issue.decision, head)
        if span is None and point is not None and issue.code != "E0413":
            span, notes = point.span, ()
        sink.error(issue.code, issue.message, span, issue.hint, notes)


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
    raise NotALiteral("a decision is a value (number, name, tuple), a list of inputs, or a "
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
    raise NotALiteral(f"`{fmt_expr(e)}` is not a value of choice `{point.id}`", e.span,
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
            raise NotALiteral(f"`{text}` is not a candidate of `{point.id}`", item.span,
                       suggest(text, point.labels) or
                       f"candidates: {', '.join(point.labels)}")
        if text in chosen:
            raise NotALiteral(f"`{text}` is chosen twice", item.span)
        chosen.append(text)
    _check_keep(point, len(chosen), e)
    return tuple(lab for lab in point.labels if lab in chosen)


def _check_keep(point: DecisionPoint, n: int, e: A.Expr) -> None:
    lo, hi = point.keep
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise NotALiteral(f"`{point.id}` keeps {want} input(s), the genotype gives {n}", e.span)


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
            raise NotALiteral(f"write node `{inputs.id}` as a sum of edges, e.g. "
                       f"`{_example(inputs, edges)}`", term.span)
        src = fmt_expr(term.args[0])
        if src not in inputs.labels:
            raise NotALiteral(f"`{src}` is not an input of `{inputs.id}`", term.args[0].span,
                       suggest(src, inputs.labels) or
                       f"inputs: {', '.join(inputs.labels)}")
        if src in ops:
            raise NotALiteral(f"edge from `{src}` is given twice", term.span)
        edge = edges[src]
        op = term.func.id
        if op not in edge.labels:
            raise NotALiteral(f"`{op}` is not an op of the edge from `{src}`", term.func.span,
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
