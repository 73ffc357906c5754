"""Static resources of a graph: exact parameter counts and FLOPs from the op registry.

A frozen graph has one count. A space graph (with `mixed`/`choose` nodes) has bounds:
each `choose` node keeps its k cheapest (or dearest) candidate edges, each `mixed` edge
takes its cheapest (dearest) op. Cell edges are independent, so these bounds are exact
for the cell part of a space; value choices are handled by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY


@dataclass(frozen=True)
class Bounds:
    lo: int
    hi: int

    def __add__(self, other: "Bounds") -> "Bounds":
        return Bounds(self.lo + other.lo, self.hi + other.hi)


def op_params(op: str, attrs: dict, in_types: tuple[TensorType, ...], out: TensorType) -> int:
    return REGISTRY[op].params(attrs, in_types, out)


def op_flops(op: str, attrs: dict, in_types: tuple[TensorType, ...], out: TensorType,
              input_size: tuple[int, ...]) -> int:
    in_sizes = tuple(t.size(input_size) for t in in_types)
    return REGISTRY[op].flops(attrs, in_types, out, in_sizes, out.size(input_size))


def _in_types(graph: Graph, node: Node) -> tuple[TensorType, ...]:
    return tuple(graph.node(i).type for i in node.inputs)


def node_params(graph: Graph, node: Node) -> int:
    """Parameters of one plain (non-choice) node."""
    if node.op == "input":
        return 0
    return op_params(node.op, dict(node.attrs), _in_types(graph, node), node.type)


def param_bounds(graph: Graph) -> Bounds:
    """Exact count for a frozen graph; cell-edge bounds for a space graph."""
    return _fold(graph, lambda n: node_params(graph, n),
                 lambda n, a: op_params(a.op, dict(a.attrs), _in_types(graph, n), n.type))


def flop_bounds(graph: Graph, input_size: tuple[int, ...]) -> Bounds:
    def plain(n: Node) -> int:
        if n.op == "input":
            return 0
        return op_flops(n.op, dict(n.attrs), _in_types(graph, n), n.type, input_size)

    def alt(n: Node, a) -> int:
        return op_flops(a.op, dict(a.attrs), _in_types(graph, n), n.type, input_size)

    return _fold(graph, plain, alt)


def supernet_params(graph: Graph) -> int:
    """All candidate ops at once: what a one-shot supernet holds."""
    total = 0
    for n in graph.nodes:
        if n.op == "mixed":
            total += sum(op_params(a.op, dict(a.attrs), _in_types(graph, n), n.type)
                         for a in n.attr("alternatives"))
        elif n.op != "choose":
            total += node_params(graph, n)
    return total


def _fold(graph: Graph, plain, alt) -> Bounds:
    edge: dict[int, Bounds] = {}
    total = Bounds(0, 0)
    for n in graph.nodes:
        if n.op == "mixed":
            costs = [alt(n, a) for a in n.attr("alternatives")]
            edge[n.id] = Bounds(min(costs), max(costs))
        elif n.op == "choose":
            k = n.attr("keep")
            cands = [edge.pop(i) for i in n.inputs]
            lo = sorted(b.lo for b in cands)[:k]
            hi = sorted((b.hi for b in cands), reverse=True)[:k]
            # the node's own `add` of k edges: elementwise, no parameters
            total += Bounds(sum(lo), sum(hi))
        else:
            cost = plain(n)
            total += Bounds(cost, cost)
    for b in edge.values():  # mixed edges outside a choose node
        total += b
    return total
