"""Continuous relaxations: DARTS (every candidate, softmax(alpha)-weighted) and PC-DARTS
(partial channels, channel shuffle, edge normalisation).

PC-DARTS on resolution-changing edges (NAS-Unet's down and up edges, Thrifty's DN/UP):
the (K-1)/K bypassed channels are resampled to the edge's output size — max pooling by
the integer factor on down edges (as PC-DARTS's reduction edges do) and nearest
upsampling on up edges (PC-DARTS defines none; nearest is parameter-free and keeps the
bypass an identity in value). Pool candidates are followed by BatchNorm(affine=False)
at search time, as in PC-DARTS; the derived network has no such norm.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from nasdsl.engines.archparams import ArchParams
from nasdsl.engines.searchnet import Strategy, candidate_ops
from nasdsl.engines.space import SearchSpace
from nasdsl.ir.graph import Graph, Node


class MixedEdge(nn.Module):
    def __init__(self, ops: nn.ModuleDict):
        super().__init__()
        self.ops = ops


class DartsStrategy(Strategy):
    """First-order DARTS: node = sum of its edges, edge = sum_o softmax(alpha)_o o(x)."""

    def __init__(self, space: SearchSpace, arch: ArchParams):
        self.space = space
        self.arch = arch
        self._zero = {n.attr("decision"): {i.label for i in space.labels_of(n) if i.zero}
                      for n in space.mixed_nodes()}

    def build_edge(self, graph: Graph, node: Node, path: str) -> nn.Module:
        return MixedEdge(candidate_ops(graph, node))

    def run_edge(self, node: Node, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        did = node.attr("decision")
        return self._weighted(did, module.ops, x, torch.softmax(self.arch[did], -1))

    def _weighted(self, did: str, ops: nn.ModuleDict, x: torch.Tensor,
                  w: torch.Tensor) -> torch.Tensor:
        total = None
        zero = self._zero[did]
        for o, label in enumerate(self.space.point(did).labels):
            if label in zero:
                continue  # contributes w * 0
            y = ops[label](x) if label in ops else x
            term = w[o] * y
            total = term if total is None else total + term
        return total if total is not None else x * 0.0


class PcDartsStrategy(DartsStrategy):
    """Partial channels: 1/K of the channels through the mixed op, the rest bypassed,
    then channel shuffle; nodes weigh their edges by softmax(beta) of that node."""

    def __init__(self, space: SearchSpace, arch: ArchParams, k: int):
        super().__init__(space, arch)
        self.k = k

    def build_edge(self, graph: Graph, node: Node, path: str) -> nn.Module:
        in_t = graph.node(node.inputs[0]).type
        part_in = dataclasses.replace(in_t, channels=in_t.channels // self.k)
        part_out = dataclasses.replace(node.type, channels=node.type.channels // self.k)
        ops = candidate_ops(graph, node, part_in, part_out)
        for info in self.space.labels_of(node):
            if info.pool and info.label in ops:
                ops[info.label] = nn.Sequential(ops[info.label],
                                                _batch_norm(graph.dims, part_out.channels))
        return MixedEdge(ops)

    def run_edge(self, node: Node, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        did = node.attr("decision")
        part = x.shape[1] // self.k
        xs, xt = x[:, :part], x[:, part:]
        mixed = self._weighted(did, module.ops, xs, torch.softmax(self.arch[did], -1))
        bypass = _resample(xt, tuple(mixed.shape[2:]))
        return channel_shuffle(torch.cat([mixed, bypass], dim=1), self.k)

    def run_choose(self, node: Node, args: list[torch.Tensor | None]) -> torch.Tensor:
        did = node.attr("decision")
        w = torch.softmax(self.arch[did], -1)
        total = None
        for j, a in enumerate(args):
            if a is not None:
                term = w[j] * a
                total = term if total is None else total + term
        return total


def _batch_norm(dims: int, channels: int) -> nn.Module:
    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    return cls(channels, affine=False)


def _resample(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Down by an integer factor with max pooling, up with nearest neighbours."""
    here = tuple(x.shape[2:])
    if here == size:
        return x
    if all(h >= s for h, s in zip(here, size)):
        factors = tuple(max(1, h // s) for h, s in zip(here, size))
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[len(size)]
        x = pool(x, factors, factors, ceil_mode=True)
        if tuple(x.shape[2:]) == size:
            return x
    return F.interpolate(x, size=size, mode="nearest")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, g*c, ...) -> (N, c*g, ...) interleaved: the next edge sees other channels."""
    n, c = x.shape[:2]
    rest = x.shape[2:]
    return x.view(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)
