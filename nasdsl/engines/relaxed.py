"""Continuous relaxations as supernet strategies: DARTS (every candidate, weighted by
softmax(alpha)) and PC-DARTS (partial channels, channel shuffle, edge normalisation).

PC-DARTS on resolution-changing edges (NAS-Unet's down and up edges, Thrifty's DN/UP):
the (K-1)/K bypassed channels are resampled to the edge's output size — max pooling by
the integer factor on down edges (as PC-DARTS's reduction edges do) and nearest
upsampling on up edges (PC-DARTS defines none; nearest is parameter-free and keeps the
bypass an identity in value). Pool candidates are followed by BatchNorm(affine=False)
at search time, as in PC-DARTS; the derived network has no such norm. Both read the
label tags (`zero`, `pool`), never op names.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from nasdsl.backends.supernet import Choose, Edge, Strategy
from nasdsl.engines.archparams import ArchParams


class DartsStrategy(Strategy):
    """First-order DARTS: node = sum of its edges, edge = sum_o softmax(alpha)_o o(x)."""

    def __init__(self, arch: ArchParams):
        self.arch = arch
        self.extra = nn.ModuleDict()   # search-time modules outside the weight bank

    def run_edge(self, edge: Edge, x: torch.Tensor) -> torch.Tensor:
        return self.weighted(edge, x, torch.softmax(self.arch[edge.decision], -1))

    def weighted(self, edge: Edge, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        total = None
        for o, label in enumerate(edge.labels):
            if "zero" in edge.tags(label):
                continue  # contributes w * 0
            term = w[o] * self.run_candidate(edge, label, x)
            total = term if total is None else total + term
        return total if total is not None else x * 0.0

    def run_candidate(self, edge: Edge, label: str, x: torch.Tensor) -> torch.Tensor:
        return edge.run(label, x)


class PcDartsStrategy(DartsStrategy):
    """Partial channels: 1/K of the channels through the mixed op, the rest bypassed,
    then channel shuffle; nodes weigh their edges by softmax(beta) of that node."""

    def __init__(self, arch: ArchParams, k: int, dims: int):
        super().__init__(arch)
        self.k = k
        self.dims = dims

    def build_edge(self, edge: Edge, make):
        part = edge.channels // self.k
        mods = {label: make(label, channels=part) for label in edge.labels}
        for label in edge.labels:
            if "pool" in edge.tags(label):
                self.extra[_bn_key(edge, label)] = _batch_norm(self.dims, part)
        return mods

    def run_candidate(self, edge: Edge, label: str, x: torch.Tensor) -> torch.Tensor:
        y = edge.run(label, x)
        bn = self.extra[_bn_key(edge, label)] if "pool" in edge.tags(label) else None
        return y if bn is None else bn(y)

    def run_edge(self, edge: Edge, x: torch.Tensor) -> torch.Tensor:
        part = x.shape[1] // self.k
        xs, xt = x[:, :part], x[:, part:]
        mixed = self.weighted(edge, xs, torch.softmax(self.arch[edge.decision], -1))
        bypass = _resample(xt, tuple(mixed.shape[2:]))
        return channel_shuffle(torch.cat([mixed, bypass], dim=1), self.k)

    def run_choose(self, node: Choose, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        w = torch.softmax(self.arch[node.decision], -1)
        total = None
        for j, label in enumerate(node.labels):
            if label in inputs:
                term = w[j] * inputs[label]
                total = term if total is None else total + term
        return total


def _bn_key(edge: Edge, label: str) -> str:
    return "/".join(edge.path) + "~" + label


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
