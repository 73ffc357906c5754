"""The relaxed elaboration of a space and the complete decision table.

`elaborate_relaxed` runs the space with undecided value/op choices lowered to mixed
nodes, restarting whenever a choice turns out structural (sema/choices.py).

`complete_table` makes the table list every decision reachable under any assignment:
each structural decision is varied one label at a time (the others at their defaults,
or at the assignment under which the decision was first met); a decision that appears
or disappears with the varied one's label gets the condition `parent in [labels]`.
Conditions compose along the chain of discovery. Labels that fail to elaborate are
marked unbuildable. NOTE: one-at-a-time variation finds every decision whose presence
depends on one choice at a time (loop bounds, `if`s, chains of them); a decision that
needs two unrelated choices at non-default labels at once is found only when one of them
is its discovery parent.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from nasdsl.analysis.resources import op_params
from nasdsl.caches import Lru
from nasdsl.diagnostics import Diagnostic, DiagnosticSink, InternalError, Note
from nasdsl.ir.decisions import Cond, DecisionPoint, DecisionTable, LabelInfo
from nasdsl.ir.graph import Graph
from nasdsl.ops import REGISTRY
from nasdsl.sema.choices import Structural
from nasdsl.sema.elaborate import Elaborator, Result
from nasdsl.syntax import ast as A

MAX_ELABORATIONS = 400
WORK = 100_000  # node-elaborations the exploration may spend (big specs vary fewer)
MAX_SUBSETS = 32


@dataclass
class Relaxed:
    elaborator: Elaborator
    result: Result
    structural: frozenset[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result.graph is not None and not any(
            d.severity == "error" for d in self.diagnostics)


def elaborate_relaxed(unit: A.Unit, overrides: dict[str, Any],
                      assignment: dict[str, Any] | None, input_size,
                      structural: frozenset[str] = frozenset(), relax: bool = True) -> Relaxed:
    """Elaborate; undecided choices become mixed nodes unless structural."""
    known = set(structural)
    for _ in range(10_000):
        sink = DiagnosticSink()
        el = Elaborator(unit, sink, overrides, assignment, input_size, relax=relax,
                        structural=frozenset(known))
        try:
            result = el.run()
        except Structural as s:
            if s.did in known:
                raise InternalError(f"choice `{s.did}` is structural but stayed open")
            known.add(s.did)
            continue
        return Relaxed(el, result, frozenset(known), list(sink.items))
    raise InternalError("relaxed elaboration did not settle")


class _Explorer:
    def __init__(self, unit: A.Unit, overrides: dict[str, Any], input_size,
                 base: Relaxed):
        self.unit, self.overrides, self.input_size = unit, overrides, input_size
        self.structural = set(base.structural)
        self.cache: dict[frozenset, Relaxed | None] = {frozenset(): base}
        nodes = len(base.result.graph.nodes) if base.result.graph else 1
        self.budget = max(16, min(MAX_ELABORATIONS, WORK // max(1, nodes)))
        self.exhausted = False

    def run(self, assignment: dict[str, Any]) -> Relaxed | None:
        key = frozenset(assignment.items())
        if key not in self.cache:
            if self.budget <= 0:
                self.exhausted = True
                return None
            self.budget -= 1
            r = elaborate_relaxed(self.unit, self.overrides, assignment, self.input_size,
                                  frozenset(self.structural))
            self.structural |= r.structural
            self.cache[key] = r if r.ok else None
        return self.cache[key]


def complete_table(unit: A.Unit, overrides: dict[str, Any], input_size, base: Relaxed,
                   sink: DiagnosticSink) -> tuple[DecisionTable, frozenset[str]]:
    ex = _Explorer(unit, overrides, input_size, base)
    points: dict[str, DecisionPoint] = {p.id: p for p in base.result.table}
    conds: dict[str, tuple[Cond, ...]] = {i: p.condition for i, p in points.items()}
    errors: dict[tuple[str, str], str] = {}
    queue: list[tuple[str, dict[str, Any]]] = [(i, {}) for i in points]
    done: set[str] = set()
    while queue:
        did, ctx = queue.pop(0)
        if did in done or not _is_structural(points[did], ex.structural):
            continue
        done.add(did)
        home = ex.run(ctx)
        if home is None:
            continue
        p = points[did]
        visible: dict[str, list[str]] = {}
        first_seen: dict[str, dict[str, Any]] = {}
        tried: list[str] = []
        for label in _variants(p):
            a = {**ctx, did: label}
            r = home if _is_default(p, label) else ex.run(a)
            if r is None:
                if not ctx and frozenset(a.items()) in ex.cache:  # failed, not skipped
                    errors[(did, _label_key(label))] = "does not build with the other " \
                        "choices at their defaults"
                continue
            tried.append(_label_key(label))
            for qp in r.result.table:
                qid = qp.id
                if qid in points and (points[qid].labels, points[qid].keep) != \
                        (qp.labels, qp.keep):
                    _domain_error(sink, points[qid], qp, did)
                    continue
                if qid not in points:
                    points[qid] = qp
                visible.setdefault(qid, []).append(_label_key(label))
                first_seen.setdefault(qid, a)
        if p.kind == "inputs":
            continue  # macro input choices gate tensors, not decisions (checked above)
        for qid, labs in visible.items():
            if qid == did or set(labs) >= set(tried):
                continue
            extra = Cond(did, tuple(lab for lab in p.labels if lab in labs))
            own = tuple(c for c in points[qid].condition if c.mode == "has")
            have = [c for c in conds.get(qid, ()) if c.mode != "has"]
            add = [c for c in conds.get(did, ()) if c not in have] + [extra]
            conds[qid] = tuple(have + add) + own
            queue.append((qid, first_seen[qid]))
        for qid in visible:
            if qid not in conds:
                conds[qid] = points[qid].condition
                queue.append((qid, first_seen[qid]))
    return _finish(points, conds, errors, ex, base), frozenset(ex.structural)


def _is_structural(p: DecisionPoint, structural: set[str]) -> bool:
    return p.id in structural or p.kind == "inputs" and p.role == "inputs"


def _variants(p: DecisionPoint) -> list[Any]:
    if p.kind != "inputs":
        return list(p.labels)
    out: list[Any] = []
    for k in range(p.keep[0], p.keep[1] + 1):
        out.extend(combinations(p.labels, k))
        if len(out) > MAX_SUBSETS:
            return out[:MAX_SUBSETS]
    return out


def _is_default(p: DecisionPoint, label: Any) -> bool:
    return label == p.default or (p.kind == "inputs" and tuple(label) == tuple(p.default))


def _label_key(label: Any) -> str:
    return label if isinstance(label, str) else "|".join(label)


def _domain_error(sink: DiagnosticSink, old: DecisionPoint, new: DecisionPoint,
                  parent: str) -> None:
    if any(d.code == "E0239" and d.span == new.span for d in sink.items):
        return  # one report per declaration
    sink.error("E0239", f"the values of choice `{old.id}` depend on choice `{parent}`",
               new.span, "give the choice a fixed list of values and make the dependent "
               "part an `if` on both choices",
               (Note(old.span, f"first met with the values {old.describe_domain()}, "
                     f"then with {new.describe_domain()} under another `{parent}`"),))


def _finish(points: dict[str, DecisionPoint], conds: dict[str, tuple[Cond, ...]],
            errors: dict[tuple[str, str], str], ex: _Explorer, base: Relaxed) -> DecisionTable:
    graphs = [r.result.graph for r in ex.cache.values() if r is not None and r.result.graph]
    free = _param_free_labels(graphs)
    out = []
    for p in points.values():
        info = tuple(_info(p, lab, errors, free) for lab in p.labels)
        out.append(dataclasses.replace(p, condition=conds.get(p.id, p.condition),
                                       structural=_is_structural(p, ex.structural),
                                       info=info))
    ordered = _parents_first(_source_order(out, {p.id for p in base.result.table}))
    return DecisionTable(tuple(dataclasses.replace(p, index=i) for i, p in enumerate(ordered)),
                         complete=not ex.exhausted)


def _info(p: DecisionPoint, label: str, errors: dict, free: dict) -> LabelInfo:
    old = p.label_info(label)
    tags = set(old.tags)
    op = old.op
    if p.kind == "op" and op is None:
        op = getattr(p.domain[p.labels.index(label)], "name", None)
        if op is not None and op in REGISTRY:
            tags |= set(REGISTRY[op].tags)
    if free.get((p.id, label)):
        tags.add("param_free")
    err = errors.get((p.id, label))
    return LabelInfo(label, op, old.role or p.role, frozenset(tags), err is None, err)


def _param_free_labels(graphs: list[Graph]) -> dict[tuple[str, str], bool]:
    """(decision, label) -> True when the label's candidates hold no parameters."""
    out: dict[tuple[str, str], bool] = {}
    for g in graphs:
        for n in g.nodes:
            if n.op != "mixed":
                continue
            ins = tuple(g.node(i).type for i in n.inputs)
            for alt in n.attr("alternatives"):
                key = (n.attr("decision"), alt.label)
                free = op_params(alt.op, dict(alt.attrs), ins, n.type) == 0
                out[key] = out.get(key, True) and free
    return out


def _source_order(points: list[DecisionPoint], base: set[str]) -> list[DecisionPoint]:
    """The default network's points in elaboration order; each point met only under
    other assignments right after the last point declared at or before it."""
    out = [p for p in points if p.id in base]
    for p in points:
        if p.id in base:
            continue
        at = max((i for i, q in enumerate(out) if q.span.start <= p.span.start),
                 default=len(out) - 1)
        out.insert(at + 1, p)
    return out


def _parents_first(pending: list[DecisionPoint]) -> list[DecisionPoint]:
    placed: set[str] = set()
    out: list[DecisionPoint] = []
    while pending:
        rest = []
        for p in pending:
            if all(c.decision in placed for c in p.condition):
                out.append(p)
                placed.add(p.id)
            else:
                rest.append(p)
        if len(rest) == len(pending):  # a parent outside the table: keep source order
            out.extend(rest)
            break
        pending = rest
    return out


# ---- cache: genotype checks and engines ask for the same table often ------------------------
_CACHE: Lru[str, tuple[DecisionTable, frozenset[str], list[Diagnostic]]] = Lru(32)


def cache_key(unit: A.Unit, overrides: dict[str, Any], input_size) -> str:
    h = hashlib.sha256(unit.span.file.text.encode())
    h.update(repr(sorted((k, repr(v)) for k, v in overrides.items())).encode())
    h.update(repr(input_size).encode())
    return h.hexdigest()


def cached_table(unit: A.Unit, overrides: dict[str, Any], input_size, base: Relaxed,
                 sink: DiagnosticSink) -> tuple[DecisionTable, frozenset[str]]:
    key = cache_key(unit, overrides, input_size)
    hit = _CACHE.get(key)
    if hit is None:
        local = DiagnosticSink()
        table, structural = complete_table(unit, overrides, input_size, base, local)
        hit = _CACHE.put(key, (table, structural, list(local.items)))
    sink.extend(hit[2])
    return hit[0], hit[1]


def known_structural(unit: A.Unit, overrides: dict[str, Any], input_size) -> frozenset[str]:
    """The structural choices found when this space was last explored (saves restarts)."""
    hit = _CACHE.get(cache_key(unit, overrides, input_size))
    return hit[1] if hit is not None else frozenset()
