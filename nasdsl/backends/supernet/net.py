"""The supernet: an interpreter over the space's relaxed graph with strategy hooks, and
the one-path forward of any architecture by re-elaborating it as a child; all modules
come from one weight bank (bank.py). See docs/SEARCH_IR.md."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from nasdsl.api import Compiled
from nasdsl.caches import Lru
from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.names import ModuleNamer
from nasdsl.ops import REGISTRY
from nasdsl.space import SearchSpace
from nasdsl.backends.supernet.bank import WeightBank, affine_fill
from nasdsl.backends.supernet.interp import Hooks, run_graph
from nasdsl.backends.supernet.strategy import Choose, Edge, OnePath, Strategy

CHILD_CACHE = 64


def _in_types(graph: Graph, node: Node) -> tuple:
    return tuple(graph.node(i).type for i in node.inputs)


def standalone_names(graph: Graph) -> dict[int, str]:
    """Node id -> attribute path in the emitted standalone module (as torch_src names
    them: same namer, same order)."""
    namer = ModuleNamer()
    out: dict[int, str] = {}
    for n in graph.nodes:
        if n.op not in ("input", "mixed", "choose") and REGISTRY[n.op].impl is not None:
            out[n.id] = namer.attr_path(n.path)
    return out


class _GraphHooks(Hooks):
    """Plain ops from a node -> module map; choice nodes go to the strategy."""

    def __init__(self, modules: dict[int, nn.Module | None], net: "Supernet | None"):
        self.modules, self.net = modules, net

    def module(self, node: Node):
        return self.modules.get(node.id)

    def run_mixed(self, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
        assert self.net is not None
        return self.net.strategy.run_edge(self.net.edge_of[node.id], *args)

    def choose_inputs(self, node: Node):
        if self.net is None:
            return None
        return self.net.strategy.choose_inputs(self.net.choose_of[node.id])

    def run_choose(self, node: Node, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        assert self.net is not None
        return self.net.strategy.run_choose(self.net.choose_of[node.id], inputs)


class ChildNet(nn.Module):
    """One architecture with the standalone module's attribute names; its submodules are
    the bank's modules (shared, not copied)."""

    def __init__(self, graph: Graph, modules: dict[int, nn.Module | None]):
        super().__init__()
        self.graph = graph
        self._hooks = _GraphHooks(modules, None)
        for nid, attr in standalone_names(graph).items():
            _set(self, attr, modules[nid])

    def forward(self, *xs: torch.Tensor) -> Any:
        return run_graph(self.graph, xs, self._hooks)

    @classmethod
    def from_graph(cls, graph: Graph) -> "ChildNet":
        """A frozen graph as a module with fresh weights, built through the registry
        (no generated code runs); its state dict has the standalone module's keys."""
        return cls(graph, fresh_modules(graph))


def fresh_modules(graph: Graph) -> dict[int, nn.Module | None]:
    """New modules for a frozen graph's ops, created in node order (as the emitted
    module's __init__ creates them)."""
    bank = WeightBank(graph.dims)
    return {n.id: bank.fetch(n.op, dict(n.attrs), _in_types(graph, n), n.type, n.path)
            for n in graph.nodes if n.op not in ("input", "mixed", "choose")}


def _set(root: nn.Module, dotted: str, module: nn.Module | None) -> None:
    parent = root
    *heads, last = dotted.split(".")
    for h in heads:
        if h not in parent._modules:
            parent.add_module(h, nn.Module())
        parent = parent._modules[h]  # type: ignore[assignment]
    parent.add_module(last, module)


def edge_decisions(graph: Graph) -> dict[tuple[str, ...], str]:
    """Path of each mixed node of a relaxed graph -> its decision: a child's op at that
    path implements the label the child's assignment gives that decision."""
    return {n.path: n.attr("decision") for n in graph.nodes if n.op == "mixed"}


def child_labels(edges: dict[tuple[str, ...], str], space: SearchSpace,
                 assignment: dict[str, Any]) -> dict[tuple[str, ...], str]:
    """Path -> candidate label for the ops of a child that sit on a relaxed edge.

    NOTE: an edge that exists only under a non-default structural decision is not in
    the default relaxed graph; its op is keyed without a label, which is still unique
    per op and attributes (the signature), and no relaxed candidate shares its path."""
    normal = space.table.normalise(assignment)
    return {path: str(normal[did]) for path, did in edges.items() if did in normal}


class Supernet(nn.Module):
    def __init__(self, space: SearchSpace | Compiled, strategy: Strategy | None = None,
                 fixed: dict[str, Any] | None = None):
        super().__init__()
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        self.graph = self.space.relaxed(fixed)
        self.bank = WeightBank(self.graph.dims)
        self._strategy: Strategy = strategy or OnePath()
        self._edge_decisions = edge_decisions(self.graph)
        self._modules_of = self._plain_modules(self.graph, search=True)
        self.edges: list[Edge] = []
        self.chooses: list[Choose] = []
        self.edge_of: dict[int, Edge] = {}
        self.choose_of: dict[int, Choose] = {}
        self._children: Lru[frozenset, ChildNet] = Lru(CHILD_CACHE)
        self._build_choices()

    # ---- building -----------------------------------------------------------------------
    def _plain_modules(self, graph: Graph, labels: dict[tuple[str, ...], str] | None = None,
                       search: bool = False) -> dict[int, nn.Module | None]:
        """Bank modules of a graph's plain ops. `search`: the relaxed graph, whose ops
        inside cells (the cells' preprocessing) take the strategy's affine flag, as the
        DARTS and NAS-Unet authors' search cells do."""
        labels = labels or {}
        affine = None if self._strategy.affine else False
        return {n.id: self.bank.fetch(n.op, dict(n.attrs), _in_types(graph, n), n.type,
                                      n.path, labels.get(n.path),
                                      affine if search and n.cell is not None else None)
                for n in graph.nodes if n.op not in ("input", "mixed", "choose")}

    def _build_choices(self) -> None:
        table = self.space.table
        self.edges, self.chooses = [], []
        users = self.graph.users()
        outputs = {nid for _, nid in self.graph.outputs}
        for n in self.graph.nodes:
            if n.op == "mixed":
                point = table.get(n.attr("decision"))
                alts = n.attr("alternatives")
                joined = n.id not in outputs and bool(users[n.id]) and all(
                    self.graph.node(u).op == "choose" for u in users[n.id])
                edge = Edge(n, n.attr("decision"), tuple(a.label for a in alts),
                            n.attr("role"), alts, _in_types(self.graph, n),
                            point.info if point is not None else (), joined=joined)
                edge.candidates = self._strategy.build_edge(edge, self._maker(edge))
                self.edges.append(edge)
                self.edge_of[n.id] = edge
            elif n.op == "choose":
                ch = Choose(n, n.attr("decision"), n.attr("labels"), n.attr("keep"))
                self.chooses.append(ch)
                self.choose_of[n.id] = ch
        self._adopt_search_modules()

    def _maker(self, edge: Edge):
        alts = {a.label: a for a in edge.alternatives}

        def make(label: str, channels: int | None = None) -> nn.Module | None:
            alt = alts[label]
            ins, out = edge.in_types, edge.out_type
            if channels is not None:
                if any(t.channels != out.channels for t in ins):
                    raise ValueError(f"edge `{'.'.join(edge.path)}` changes the channel "
                                     "count: it cannot run on a channel subset")
                ins = tuple(t.with_channels(channels) for t in ins)
                out = out.with_channels(channels)
            return self.bank.fetch(alt.op, dict(alt.attrs), ins, out, edge.path, label,
                                   None if self._strategy.affine else False)
        return make

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    @strategy.setter
    def strategy(self, strategy: Strategy) -> None:
        # NOTE: kept out of the module tree: arch parameters are not weights
        self._strategy = strategy
        self._build_choices()

    def _adopt_search_modules(self) -> None:
        """The strategy's own search-time modules (PC-DARTS's pool BatchNorms) join the
        module tree: train()/eval(), to() and state_dict() reach them."""
        extra = self._strategy.search_modules()
        if extra is None:
            if "search_extra" in self._modules:
                del self._modules["search_extra"]
        else:
            self.search_extra = extra

    def new_parameters(self) -> list[nn.Parameter]:
        return self.bank.new_parameters()

    # ---- running ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, assignment: dict[str, Any] | None = None) -> Any:
        if assignment is None:
            return run_graph(self.graph, (x,), _GraphHooks(self._modules_of, self))
        return self.child_module(assignment)(x)

    def child_graph(self, assignment: dict[str, Any]) -> Graph:
        return self.space.child(assignment).graph

    def child_module(self, assignment: dict[str, Any]) -> ChildNet:
        """The architecture as a module sharing the bank's weights (NasError if the
        assignment does not validate: never a silent default)."""
        key = frozenset((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in self.space.table.normalise(assignment).items())
        def make() -> ChildNet:
            graph = self.child_graph(assignment)
            labels = child_labels(self._edge_decisions, self.space, assignment)
            return ChildNet(graph, self._plain_modules(graph, labels))
        return self._children.get_or_make(key, make)

    def materialize(self, assignments: list[dict[str, Any]]) -> list[nn.Parameter]:
        """Create the bank modules of these children now (before wrapping the supernet in
        DDP or building an optimizer); returns the parameters that were new."""
        for a in assignments:
            self.child_module(a)
        return self.new_parameters()

    def child_state_dict(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The child's weights under the standalone module's keys (load strict=True);
        norms searched without affine hand over scale 1 and shift 0 (bank.py)."""
        child = self.child_module(assignment)
        state = child.state_dict()
        graph = child.graph
        for nid, attr in standalone_names(graph).items():
            n = graph.node(nid)
            head = attr + "."
            have = {k[len(head):] for k in state if k.startswith(head)}
            for rest, t in affine_fill(n.op, dict(n.attrs), _in_types(graph, n), n.type,
                                       graph.dims, have).items():
                state[head + rest] = t.to(self.bank.anchor.device)
        return state

    # NOTE: children are cached outside the module tree (`_children` is an Lru):
    # their modules are the bank's, so state_dict() holds each weight once.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_children", "_strategy", "strategy", "space", "edges", "chooses", "edge_of",
                    "choose_of", "_modules_of", "graph", "_edge_decisions"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def restrict_state_dict(state: dict[str, torch.Tensor], space: SearchSpace,
                        assignment: dict[str, Any], prefix: str = "bank.entries."
                        ) -> dict[str, torch.Tensor]:
    """A saved supernet state dict restricted to one architecture, under standalone keys
    (for a checkpoint loaded with weights_only=True, without building the supernet)."""
    graph = space.child(assignment).graph
    labels = child_labels(edge_decisions(space.relaxed()), space, assignment)
    bank = WeightBank(graph.dims)
    out: dict[str, torch.Tensor] = {}
    for nid, attr in standalone_names(graph).items():
        n = graph.node(nid)
        ins = _in_types(graph, n)
        key = bank.key(n.op, dict(n.attrs), ins, n.type, n.path, labels.get(n.path))
        head = prefix + f"{key}."
        found = {k[len(head):]: v for k, v in state.items() if k.startswith(head)}
        for rest, tensor in found.items():  # (a stateless module has none)
            out[f"{attr}.{rest}"] = tensor
        # norms searched without affine: scale 1, shift 0 (bank.py)
        for rest, tensor in affine_fill(n.op, dict(n.attrs), ins, n.type, graph.dims,
                                        set(found)).items():
            out[f"{attr}.{rest}"] = tensor
    return out
