"""Lowering undecided value and op choices into `mixed` nodes of the relaxed graph.

While a space is elaborated for the supernet, an undecided `choice x in [...]` binds a
`Pending` value instead of its first value. A Pending may be bound, passed to ops and
cells, and used as the *single* choice-valued attribute of a built-in op (or called, for
an op-set choice): that op becomes a `mixed` node with one candidate per label, provided
every candidate gives the same output type. Any other use (arithmetic, `if`, a loop
bound, a tuple, an index, a shape-changing attribute) makes the choice *structural*:
`Structural` unwinds the elaboration, which restarts with that choice decided (at its
default, or the supernet's `fixed` value). The supernet re-elaborates structural
choices per child (docs/SEARCH_IR.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasdsl.ir.decisions import DecisionPoint
from nasdsl.ir.graph import Alternative
from nasdsl.ops import REGISTRY, OpError
from nasdsl.sema.context import Elaboration
from nasdsl.sema.values import OpRef, Tensor
from nasdsl.source import Span



@dataclass(frozen=True, slots=True)
class Pending:
    """An undecided choice's value in the relaxed graph."""
    point: DecisionPoint
    text: str            # the choice's target text without the cell prefix (`blk[2]`)


class Structural(Exception):
    """A Pending was used where only a decided value works; restart with it decided."""

    def __init__(self, did: str):
        super().__init__(did)
        self.did = did


def force(value: Any) -> Any:
    if isinstance(value, Pending):
        raise Structural(value.point.id)
    return value


def has_pending(values: Any) -> bool:
    if isinstance(values, Pending):
        return True
    if isinstance(values, (tuple, list)):
        return any(has_pending(v) for v in values)
    if isinstance(values, dict):
        return any(has_pending(v) for v in values.values())
    return False


def force_all(values: Any) -> None:
    if isinstance(values, Pending):
        force(values)
    elif isinstance(values, (tuple, list)):
        for v in values:
            force_all(v)
    elif isinstance(values, dict):
        for v in values.values():
            force_all(v)


def mixed_attr(el: Elaboration, op: OpRef, tensors: list[Tensor], attrs: dict[str, Any],
               span: Span) -> Tensor:
    """A built-in op whose attributes hold one undecided choice: one candidate per label.
    With several choices, the last is made structural (one restart each) until one is
    left, so that e.g. `pool(x, kind, stride, stride)` keeps `kind` relaxed."""
    force_all(dict(op.kwargs))
    for v in attrs.values():
        if not isinstance(v, Pending):
            force_all(v)  # a Pending inside a tuple: structural
    pend = {v.point.id: v for v in attrs.values() if isinstance(v, Pending)}
    if len(pend) > 1:
        force(list(pend.values())[-1])
    point = next(iter(pend.values())).point
    keys = [k for k, v in attrs.items() if isinstance(v, Pending)]
    alts = [_alternative(el, op, tensors, {**attrs, **{k: v for k in keys}}, label, point)
            for label, v in zip(point.labels, point.domain)]
    return _mixed_node(el, alts, tensors, point, "value", el.fresh_op_path(op.name), span)


def mixed_call(el: Elaboration, chooser: Pending, tensors: list[Tensor],
               attrs: dict[str, Any], span: Span) -> Tensor:
    """`b(h)` where `b` is an undecided op-set choice: one candidate per op."""
    point = chooser.point
    if has_pending(attrs):
        force_all(attrs)
    alts = []
    for label, op in zip(point.labels, point.domain):
        if not isinstance(op, OpRef) or op.composite is not None:
            raise Structural(point.id)  # composite ops expand to graphs: per child
        alts.append(_alternative(el, op, tensors, {**dict(op.kwargs), **attrs}, label,
                                 point))
    return _mixed_node(el, alts, tensors, point, "macro", el.fresh_op_path(chooser.text),
                       span)


def _alternative(el: Elaboration, op: OpRef, tensors: list[Tensor], attrs: dict[str, Any],
                 label: str, point: DecisionPoint) -> tuple[Alternative, Any]:
    opdef = REGISTRY[op.name]
    dims = el.need_dims(Span(point.span.file, point.span.start, point.span.end))
    if opdef.arity is not None and len(tensors) != opdef.arity or not tensors:
        raise Structural(point.id)
    try:
        norm = opdef.normalise(attrs, dims)
        out = opdef.infer(norm, tuple(t.type for t in tensors))
    except OpError:
        raise Structural(point.id) from None  # the label fails here: decide it per child
    return Alternative(label, op.name, tuple(sorted(norm.items()))), out


def _mixed_node(el: Elaboration, alts: list, tensors: list[Tensor], point: DecisionPoint,
                role: str, path: tuple[str, ...], span: Span) -> Tensor:
    types = {out for _, out in alts}
    if len(types) != 1:
        raise Structural(point.id)  # the label changes the output type: structural
    ttype = types.pop()
    nid = el.add_node("mixed", (("alternatives", tuple(a for a, _ in alts)),
                             ("decision", point.id), ("role", role)),
                   tuple(t.node for t in tensors), ttype, path, span)
    return Tensor(nid, ttype)
