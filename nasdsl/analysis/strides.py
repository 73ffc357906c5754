"""The input sizes a frozen network accepts: each axis a multiple of its total stride.

A node at stride p/q (in lowest terms) of an input has size n*q/p, which is exact only
when p divides n; the network needs every node exact (pooling an odd size floors it and
the skip connections stop matching), so an input axis must be a multiple of the least
common multiple of the numerators of every node's stride on that axis.
"""

from __future__ import annotations

import math

from nasdsl.ir.graph import Graph
from nasdsl.ops import REGISTRY


def size_multiple(graph: Graph, input_id: int | None = None) -> tuple[int, ...]:
    """Per axis, the multiple that the size of input `input_id` (default: the first)
    must be, relative to that input's own stride."""
    nid = graph.inputs[0] if input_id is None else input_id
    base = graph.node(nid).type.stride
    if any(n.op in REGISTRY and "any_size" in REGISTRY[n.op].tags for n in graph.nodes):
        # NOTE: `resize_add` nodes realign sizes, as NAS-Unet's own code does, so the
        # network takes any size (the authors' function, `-D up=authors`)
        return (1,) * len(base)
    multiple = [1] * len(base)
    for node in graph.nodes:
        for axis, (s, b) in enumerate(zip(node.type.stride, base)):
            multiple[axis] = math.lcm(multiple[axis], (s / b).numerator)
    return tuple(multiple)
