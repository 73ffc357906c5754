"""Running a graph IR node by node (in the spirit of torch.fx.Interpreter).

The caller says how a plain op runs (its module), how a `mixed` node runs and which
inputs of a `choose` node to compute and how to combine them; everything else is here.
Only the nodes the outputs need are computed, and each value is freed after its last
use.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from nasdsl.ir.graph import Graph, Node
from nasdsl.ops import combinators
from nasdsl.ops.combinators import COMBINATORS


class Hooks:
    """What a graph run needs from its owner; see Supernet and ChildNet."""

    def module(self, node: Node) -> Callable[..., torch.Tensor] | None:
        raise NotImplementedError

    def run_mixed(self, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def choose_inputs(self, node: Node) -> tuple[str, ...] | None:
        return None

    def run_choose(self, node: Node, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


def _selected(node: Node, hooks: Hooks) -> list[int]:
    keep = hooks.choose_inputs(node)
    if keep is None:
        return list(node.inputs)
    return [i for i, lab in zip(node.inputs, node.attr("labels")) if lab in keep]


def _needed(graph: Graph, hooks: Hooks) -> tuple[set[int], dict[int, list[int]]]:
    """Nodes the outputs depend on, and each needed node's needed inputs."""
    needed: set[int] = set()
    ins: dict[int, list[int]] = {}
    stack = [nid for _, nid in graph.outputs]
    while stack:
        nid = stack.pop()
        if nid in needed:
            continue
        needed.add(nid)
        node = graph.node(nid)
        ins[nid] = _selected(node, hooks) if node.op == "choose" else list(node.inputs)
        stack.extend(ins[nid])
    return needed, ins


def run_graph(graph: Graph, xs: tuple[torch.Tensor, ...], hooks: Hooks) -> Any:
    needed, ins = _needed(graph, hooks)
    uses: dict[int, int] = {}
    for nid in needed:
        for i in ins[nid]:
            uses[i] = uses.get(i, 0) + 1
    outputs = {nid for _, nid in graph.outputs}
    values: dict[int, torch.Tensor] = {}
    for node in graph.nodes:
        if node.id not in needed:
            continue
        values[node.id] = _run_node(graph, node, [values[i] for i in ins[node.id]], xs,
                                    hooks)
        for i in set(ins[node.id]):
            uses[i] -= 1
            if uses[i] == 0 and i not in outputs:
                del values[i]  # freed after its last use
    outs = [values[nid] for _, nid in graph.outputs]
    return outs[0] if len(outs) == 1 else tuple(outs)


def _run_node(graph: Graph, node: Node, args: list[torch.Tensor],
              xs: tuple[torch.Tensor, ...], hooks: Hooks) -> torch.Tensor:
    if node.op == "input":
        return xs[graph.inputs.index(node.id)] if len(xs) > 1 else xs[0]
    if node.op == "mixed":
        return hooks.run_mixed(node, args)
    if node.op == "choose":
        labels = dict(zip(node.inputs, node.attr("labels")))
        keep = hooks.choose_inputs(node)
        chosen = [i for i in node.inputs if keep is None or labels[i] in keep]
        return hooks.run_choose(node, {labels[i]: a for i, a in zip(chosen, args)})
    if node.op in COMBINATORS:
        return combinators.run(node.op, args)
    module = hooks.module(node)
    if module is None:
        return args[0]  # identity
    return module(*args)
