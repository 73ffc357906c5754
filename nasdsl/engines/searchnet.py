"""The relaxed supernet: an interpreter over the space graph with strategy hooks.

The fixed nodes (stems, preprocess, heads) are built and named exactly as the standalone
emitter names them (ModuleNamer), so their weights hand over. A strategy decides how a
mixed edge is built (`build_edge`: which candidates, at which width) and run
(`run_edge`: weighted sum, partial channels, gated paths), and how a cell node sums its
candidate edges (`run_choose`); `skip_edge` lets it leave unsampled edges uncomputed.
Tensors are freed after their last use.

NOTE (adapter): issue 8's supernet interpreter (backends/supernet) offers the same
hooks; until it lands, this one serves the relaxed engines (DARTS, PC-DARTS,
ProxylessNAS) over cell-edge (`mixed`) and cell-node (`choose`) decisions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from nasdsl.backends.supernet import build_op
from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.names import ModuleNamer
from nasdsl.ops import REGISTRY


class Strategy:
    """How mixed edges and cell nodes are built and run; engines subclass it."""

    def build_edge(self, graph: Graph, node: Node, path: str) -> nn.Module:
        raise NotImplementedError

    def run_edge(self, node: Node, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run_choose(self, node: Node, args: list[torch.Tensor | None]) -> torch.Tensor:
        """Default: the sum of the computed candidate edges."""
        present = [a for a in args if a is not None]
        total = present[0]
        for a in present[1:]:
            total = total + a
        return total

    def skip_edge(self, node: Node) -> bool:
        return False


def candidate_ops(graph: Graph, node: Node, in_type=None, out_type=None) -> nn.ModuleDict:
    """All candidates of a mixed edge (identity-like labels hold no module)."""
    in_types = (in_type,) if in_type is not None else tuple(
        graph.node(i).type for i in node.inputs)
    out = out_type or node.type
    ops = nn.ModuleDict()
    for alt in node.attr("alternatives"):
        if REGISTRY[alt.op].impl is not None:
            ops[alt.label] = build_op(graph.dims, alt.op, dict(alt.attrs), in_types, out)
    return ops


class SearchNet(nn.Module):
    def __init__(self, graph: Graph, strategy: Strategy):
        super().__init__()
        self.graph = graph
        self.strategy = strategy
        self.paths: dict[int, str] = {}
        self.fixed = nn.ModuleDict()   # flat, keyed by the dotted path with '.' -> '/'
        self.edges = nn.ModuleDict()
        namer = ModuleNamer()
        for n in graph.nodes:
            if n.op == "mixed":
                path = namer.attr_path(n.path)
                self.paths[n.id] = path
                self.edges[_key(path)] = strategy.build_edge(graph, n, path)
            elif n.op not in ("input", "choose") and REGISTRY[n.op].impl is not None:
                path = namer.attr_path(n.path)
                self.paths[n.id] = path
                in_types = tuple(graph.node(i).type for i in n.inputs)
                self.fixed[_key(path)] = build_op(graph.dims, n.op, dict(n.attrs), in_types,
                                                  n.type)
        self._last_use = _last_uses(graph)

    def forward(self, x: torch.Tensor) -> Any:
        values: dict[int, torch.Tensor | None] = {}
        keep = {nid for _, nid in self.graph.outputs}
        for idx, n in enumerate(self.graph.nodes):
            values[n.id] = self._run(n, values, x)
            for i in n.inputs:  # free what no later node reads
                if self._last_use.get(i) == idx and i not in keep:
                    values.pop(i, None)
        outs = [values[nid] for _, nid in self.graph.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _run(self, n: Node, values: dict, x: torch.Tensor) -> torch.Tensor | None:
        if n.op == "input":
            return x
        if n.op == "mixed":
            if self.strategy.skip_edge(n):
                return None
            return self.strategy.run_edge(n, self.edges[_key(self.paths[n.id])],
                                          values[n.inputs[0]])
        args = [values.get(i) for i in n.inputs]
        if n.op == "choose":
            return self.strategy.run_choose(n, args)
        if n.op == "add":
            total = args[0]
            for a in args[1:]:
                total = total + a
            return total
        if n.op == "concat":
            return torch.cat(args, dim=1)
        return self.fixed[_key(self.paths[n.id])](*args)

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    def standalone_state(self) -> dict[str, torch.Tensor]:
        """Supernet-form state dict: fixed modules at their standalone paths, candidate
        `label` of an edge at `<edge>.ops.<label>` (as backends.supernet names them)."""
        out: dict[str, torch.Tensor] = {}
        for key, mod in self.fixed.items():
            for name, t in mod.state_dict().items():
                out[f"{_path(key)}.{name}"] = t
        for key, mod in self.edges.items():
            ops = getattr(mod, "ops", mod)
            for name, t in ops.state_dict().items():
                out[f"{_path(key)}.ops.{name}"] = t
        return out


def _key(path: str) -> str:
    return path.replace(".", "/")


def _path(key: str) -> str:
    return key.replace("/", ".")


def _last_uses(graph: Graph) -> dict[int, int]:
    last: dict[int, int] = {}
    for idx, n in enumerate(graph.nodes):
        for i in n.inputs:
            last[i] = idx
    return last
