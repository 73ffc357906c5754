"""Parameter and FLOP figures of a compiled spec; for a space, bounds over its choices."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Callable

from nasdsl.analysis.resources import Bounds, flop_bounds, param_bounds, supernet_params
from nasdsl.compiled import Compiled
from nasdsl.diagnostics import InternalError
from nasdsl.ir.graph import Graph, live_nodes
from nasdsl.sema.exprs import EvalError
from nasdsl.sema.explore import elaborate_relaxed


@dataclass
class Summary:
    params: Bounds
    flops: Bounds | None
    supernet_params: int | None
    log10_size: float
    exact: bool


def summarize(c: Compiled) -> Summary:
    """Parameter/FLOP figures; for a space, bounds over its choices."""
    size = c.input_size
    if c.is_frozen:
        p = param_bounds(c.graph)
        f = flop_bounds(c.graph, size) if size else None
        return Summary(p, f, None, 0.0, True)
    lo_hi = _space_bounds(c)
    return Summary(lo_hi[0], lo_hi[1], supernet_params(c.graph), c.table.log10_size(), False)


def _space_bounds(c: Compiled) -> tuple[Bounds, Bounds | None]:
    """Bounds over value choices by coordinate search, cell edges analytically.

    NOTE: value choices can change the structure (widths, depth), so their effect is
    found by re-elaborating the space: first each choice alone, then the cheapest and
    the dearest combination. The result is attained by real architectures; it is the
    exact range when the choices' effects add up, as they do in the shipped spaces.
    """
    base = c.graph
    size = c.input_size
    points = [p for p in c.table if p.structural and not p.condition and p.size <= 32]
    measures = [lambda g: param_bounds(g)]
    if size is not None:
        measures.append(lambda g: flop_bounds(g, _graph_size(c, g)))
    variant = _variants(c)
    picks = [_extremes(c, points, m, variant) for m in measures]
    out: list[Bounds | None] = []
    for measure, (lo_pick, hi_pick) in zip(measures, picks):
        g_lo = (variant(lo_pick) if lo_pick else base) or base
        g_hi = (variant(hi_pick) if hi_pick else base) or base
        out.append(Bounds(measure(g_lo).lo, measure(g_hi).hi))
    return out[0], (out[1] if len(out) > 1 else None)  # type: ignore[return-value]


def _extremes(c: Compiled, points, measure, variant) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per structural choice, the label giving the lowest and the highest figure."""
    b0 = measure(c.graph)
    lo_pick: dict[str, Any] = {}
    hi_pick: dict[str, Any] = {}
    for p in points:
        best_lo, best_hi = (b0.lo, None), (b0.hi, None)
        for label in _labels(p):
            if label == p.default:
                continue
            g = variant({p.id: label})
            if g is None:
                continue
            b = measure(g)
            if b.lo < best_lo[0]:
                best_lo = (b.lo, label)
            if b.hi > best_hi[0]:
                best_hi = (b.hi, label)
        if best_lo[1] is not None:
            lo_pick[p.id] = best_lo[1]
        if best_hi[1] is not None:
            hi_pick[p.id] = best_hi[1]
    return lo_pick, hi_pick


def _graph_size(c: Compiled, g: Graph) -> tuple[int, ...]:
    """The input size of a re-elaborated graph (a patch-size choice changes it)."""
    return g.input_size or c.input_size  # type: ignore[return-value]


def _labels(p) -> list[Any]:
    if p.kind != "inputs":
        return list(p.labels)
    out = []
    for k in range(p.keep[0], p.keep[1] + 1):
        out.extend(combinations(p.labels, k))
    return out


def _variants(c: Compiled) -> Callable[[dict[str, Any]], Graph | None]:
    """The relaxed graph with some structural choices decided (None: does not build),
    memoised for one bounds computation, which asks for each variant twice (a memo, not
    a cache: it dies with the computation, nasdsl/caches.py)."""
    memo: dict[frozenset, Graph | None] = {}

    def variant(assignment: dict[str, Any]) -> Graph | None:
        key = frozenset(assignment.items())
        if key not in memo:
            memo[key] = _elaborate_variant(c, assignment)
        return memo[key]
    return variant


def _elaborate_variant(c: Compiled, assignment: dict[str, Any]) -> Graph | None:
    try:
        run = elaborate_relaxed(c.space_unit, dict(c.params), assignment, c.size_override,
                                frozenset(p.id for p in c.table if p.structural))
    except (EvalError, InternalError):
        return None
    if not run.ok or run.result.graph is None:
        return None  # that choice is illegal at this configuration (e.g. a stride)
    return live_nodes(run.result.graph)
