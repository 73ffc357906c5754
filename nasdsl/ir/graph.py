"""The dataflow graph IR: immutable nodes in topological order.

A *space* graph may hold two choice forms used by the supernet backend:
`mixed` (one edge, all candidate ops of an op set) and `choose` (a cell node summing k
of its candidate edges). A frozen architecture holds neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nasdsl.ir.types import TensorType
from nasdsl.source import Span

CHOICE_OPS = ("mixed", "choose")


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    op: str                              # registry op name, "input", "mixed" or "choose"
    attrs: tuple[tuple[str, Any], ...]   # normalised attribute values
    inputs: tuple[int, ...]
    type: TensorType
    path: tuple[str, ...]                # module path from the spec, e.g. ("enc[1]", "n[0]", "p1")
    span: Span = field(compare=False)
    cell: str | None = None              # cell type name when inside a cell instance
    call: int | None = None              # id of the innermost call that made it (Graph.calls)

    def attr(self, name: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == name:
                return v
        return default


@dataclass(frozen=True, slots=True)
class Alternative:
    """One candidate op of a mixed edge."""
    label: str
    op: str
    attrs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class CellInstance:
    path: str          # the instance's path component, e.g. "enc[1]"
    cell: str          # cell type
    inputs: tuple[int, ...]
    output: int
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """One application of a cell or a composite op. The nodes it made carry its id in
    `Node.call`; its module path prefixes theirs. Emitters outline each call as one
    module instance; the interpreter and the supernet ignore calls."""
    id: int
    kind: str                               # "cell" | "op"
    name: str                               # the cell's or op's name in the spec
    path: tuple[str, ...]                   # e.g. ("enc[2]",) or ("enc[2]", "p0")
    parent: int | None                      # the enclosing call, None at top level
    formals: tuple[tuple[str, int], ...]    # tensor arguments: (formal name, node id)
    span: Span = field(compare=False)       # the call expression
    defn: Span = field(compare=False)       # the cell's or op's definition


@dataclass(frozen=True)
class Graph:
    name: str
    kind: str                          # space | arch | genotype
    dims: int
    nodes: tuple[Node, ...]
    inputs: tuple[int, ...]
    outputs: tuple[tuple[str, int], ...]
    input_size: tuple[int, ...] | None
    cells: tuple[CellInstance, ...] = ()
    calls: tuple[Call, ...] = ()

    def node(self, nid: int) -> Node:
        return self.nodes[self._index[nid]]

    @property
    def _index(self) -> dict[int, int]:
        cache = self.__dict__.get("_index_cache")
        if cache is None:
            cache = {n.id: i for i, n in enumerate(self.nodes)}
            self.__dict__["_index_cache"] = cache
        return cache

    @property
    def is_frozen(self) -> bool:
        return not any(n.op in CHOICE_OPS for n in self.nodes)

    def users(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.id)
        return out


def live_nodes(graph: Graph) -> Graph:
    """Drop nodes no output depends on (unchosen candidates of an input choice)."""
    needed: set[int] = set(graph.inputs)
    stack = [nid for _, nid in graph.outputs]
    while stack:
        nid = stack.pop()
        if nid in needed and nid not in graph.inputs:
            continue
        needed.add(nid)
        stack.extend(graph.node(nid).inputs)
    nodes = tuple(n for n in graph.nodes if n.id in needed)
    cells = tuple(c for c in graph.cells if c.output in needed)
    return Graph(graph.name, graph.kind, graph.dims, nodes, graph.inputs, graph.outputs,
                 graph.input_size, cells, graph.calls)
