"""Supernet backend: a torch module interpreting a space graph, every candidate held.

Modules are named exactly as in the emitted standalone code (ir/names.ModuleNamer), with
a mixed edge's candidates at `<edge>.ops.<label>`. So a supernet state_dict restricted
to a genotype (`restrict_state_dict`) loads into the standalone module with
`strict=True`: searched weights are deployable without retraining (RONASMIS).

The forward here runs one architecture (an assignment of labels), which is what ENAS-
style sampling and weight handover need; the relaxed forward of PC-DARTS/ProxylessNAS
(weighted sums, partial channels, binary gates) is the engines' to add on this module.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from nasdsl.diagnostics import InternalError
from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.names import SUPERNET_OPS, ModuleNamer, supernet_key_to_standalone
from nasdsl.ops import REGISTRY
from nasdsl.ops import torch_impl


def build_op(dims: int, op: str, attrs: dict, in_types: tuple, out_type) -> nn.Module:
    opdef = REGISTRY[op]
    return getattr(torch_impl, opdef.impl)(dims, **opdef.ctor(attrs, in_types, out_type))


def _set(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent = root
    *heads, last = dotted.split(".")
    for h in heads:
        if not hasattr(parent, h):
            setattr(parent, h, nn.Module())
        parent = getattr(parent, h)
    setattr(parent, last, module)


class Supernet(nn.Module):
    def __init__(self, graph: Graph):
        super().__init__()
        self.graph = graph
        self.paths: dict[int, str] = {}
        namer = ModuleNamer()
        for n in graph.nodes:
            in_types = tuple(graph.node(i).type for i in n.inputs)
            if n.op == "mixed":
                edge = namer.attr_path(n.path)
                self.paths[n.id] = edge
                for alt in n.attr("alternatives"):
                    if REGISTRY[alt.op].impl is None:
                        continue  # identity: nothing to hold
                    _set(self, f"{edge}.{SUPERNET_OPS}.{alt.label}",
                         build_op(graph.dims, alt.op, dict(alt.attrs), in_types, n.type))
            elif n.op not in ("input", "choose") and REGISTRY[n.op].impl is not None:
                self.paths[n.id] = namer.attr_path(n.path)
                _set(self, self.paths[n.id],
                     build_op(graph.dims, n.op, dict(n.attrs), in_types, n.type))

    def forward(self, x: torch.Tensor, choice: dict[str, Any]) -> Any:
        """Run the architecture `choice` (decision id -> label / tuple of labels)."""
        values: dict[int, torch.Tensor] = {}
        dropped = _dropped_edges(self.graph, choice)
        for n in self.graph.nodes:
            if n.id in dropped:
                continue  # an edge its node does not keep: not computed at all
            args = [values[i] for i in n.inputs if i not in dropped]
            if n.op == "input":
                values[n.id] = x
            elif n.op == "mixed":
                label = choice[n.attr("decision")]
                alt = next(a for a in n.attr("alternatives") if a.label == label)
                if REGISTRY[alt.op].impl is None:
                    values[n.id] = args[0]
                else:
                    ops = getattr(self.get_submodule(self.paths[n.id]), SUPERNET_OPS)
                    values[n.id] = getattr(ops, label)(args[0])
            elif n.op == "choose":
                picked = args
                values[n.id] = picked[0] if len(picked) == 1 else torch.stack(picked).sum(0)
            elif n.op == "add":
                total = args[0]
                for a in args[1:]:
                    total = total + a
                values[n.id] = total
            elif n.op == "concat":
                values[n.id] = torch.cat(args, dim=1)
            else:
                values[n.id] = self.get_submodule(self.paths[n.id])(*args)
        outs = [values[nid] for _, nid in self.graph.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def _dropped_edges(graph: Graph, choice: dict[str, Any]) -> set[int]:
    """Mixed edges whose node does not keep them under `choice`."""
    dropped: set[int] = set()
    for n in graph.nodes:
        if n.op == "choose":
            keep = choice[n.attr("decision")]
            dropped |= {i for i, lab in zip(n.inputs, n.attr("labels")) if lab not in keep}
    return dropped


def edge_choices(graph: Graph, choice: dict[str, Any]) -> dict[str, str]:
    """Standalone edge path -> chosen op label, for the mixed edges a genotype keeps."""
    namer = ModuleNamer()
    out: dict[str, str] = {}
    dropped = _dropped_edges(graph, choice)
    for n in graph.nodes:
        if n.op == "mixed":
            # an edge the node does not keep maps to no label: all its weights drop
            out[namer.attr_path(n.path)] = ("" if n.id in dropped
                                            else choice[n.attr("decision")])
        elif n.op not in ("input", "choose") and REGISTRY[n.op].impl is not None:
            namer.attr_path(n.path)
    return out


def restrict_state_dict(state: dict[str, torch.Tensor], graph: Graph,
                        choice: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The part of a supernet checkpoint that a genotype uses, under standalone keys."""
    chosen = edge_choices(graph, choice)
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        mapped = supernet_key_to_standalone(key, chosen)
        if mapped is not None:
            if mapped in out:
                raise InternalError(f"two supernet weights map to `{mapped}`")
            out[mapped] = tensor
    return out
