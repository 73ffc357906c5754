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
    """First-order DARTS: node = sum of its edges, edge = sum_o softmax(alpha)_o o(x).
    Candidates and the cells' own norms run without affine (DARTS appendix A.1.1, the
    NAS-Unet authors' search cells): a weighted sum must not be rescaled by them."""
    affine = False

    def __init__(self, arch: ArchParams):
        self.arch = arch
        self.extra = nn.ModuleDict()   # search-time modules outside the weight bank

    def search_modules(self) -> nn.Module | None:
        return self.extra if len(self.extra) else None

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


class _Parts:
    """A PC-DARTS edge into a cell node, before its β weight: the candidates on the
    first C/K channels with their softmax(α) weights, and the bypassed rest."""
    __slots__ = ("edge", "xs", "w", "xt")

    def __init__(self, edge: Edge, xs: torch.Tensor, w: torch.Tensor, xt: torch.Tensor):
        self.edge, self.xs, self.w, self.xt = edge, xs, w, xt

    def size(self) -> tuple[int, ...]:
        """The edge's output size (from the types: all candidates agree on it)."""
        ratio = [a / b for a, b in zip(self.edge.in_type.stride, self.edge.out_type.stride)]
        return tuple(int(n * r) for n, r in zip(self.xs.shape[2:], ratio))


class PcDartsStrategy(DartsStrategy):
    """Partial channels: 1/K of the channels through the mixed op, the rest bypassed,
    then channel shuffle; nodes weigh their edges by softmax(beta) of that node.

    Memory (issue 14, finding 9): the reference computes node = Σ_j β_j shuffle(cat(
    mixed_j, bypass_j)) and so keeps every edge's full-width output for β's gradient.
    Shuffle and concat are linear channel permutations, so here
        node = shuffle(cat(Σ_j Σ_o β_j α_jo o_jo(xs_j), Σ_j β_j resample(xt_j)))
    — the same value; the candidates' outputs that autograd saves for α's gradient serve
    β's too (the coefficient β_j α_jo is one scalar), and the bypass sum is recomputed
    in backward (torch.utils.checkpoint) instead of keeping the resampled (K-1)/K
    channels of every down/up edge."""

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

    def run_edge(self, edge: Edge, x: torch.Tensor):
        part = x.shape[1] // self.k
        xs, xt = x[:, :part], x[:, part:]
        w = torch.softmax(self.arch[edge.decision], -1)
        if edge.joined:   # the cell node weighs it by β: see the class docstring
            return _Parts(edge, xs, w, xt)
        mixed = self.weighted(edge, xs, w)
        bypass = resample_to(xt, tuple(mixed.shape[2:]))
        return channel_shuffle(torch.cat([mixed, bypass], dim=1), self.k)

    def run_choose(self, node: Choose, inputs: dict) -> torch.Tensor:
        beta = torch.softmax(self.arch[node.decision], -1)
        parts = [(beta[j], inputs[label]) for j, label in enumerate(node.labels)
                 if label in inputs]
        if not all(isinstance(p, _Parts) for _, p in parts):   # not from run_edge above
            return _sum(b * t for b, t in parts)
        mixed = _sum((b * p.w[o]) * self.run_candidate(p.edge, label, p.xs)
                     for b, p in parts for o, label in enumerate(p.edge.labels)
                     if "zero" not in p.edge.tags(label))
        if mixed is None:   # every candidate is the zero op
            first = parts[0][1]
            mixed = first.xs.new_zeros(first.xs.shape[:2] + first.size())
        size = tuple(mixed.shape[2:])
        bs = torch.stack([b for b, _ in parts])
        bypass = _checkpoint(_bypass_sum, size, bs, *[p.xt for _, p in parts])
        return channel_shuffle(torch.cat([mixed, bypass], dim=1), self.k)


def _sum(terms):
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def _bypass_sum(size: tuple[int, ...], bs: torch.Tensor, *xts: torch.Tensor) -> torch.Tensor:
    return _sum(bs[j] * resample_to(xt, size) for j, xt in enumerate(xts))


def _checkpoint(fn, size, *args):
    if not torch.is_grad_enabled() or not any(a.requires_grad for a in args):
        return fn(size, *args)
    from torch.utils.checkpoint import checkpoint

    return checkpoint(fn, size, *args, use_reentrant=False)


def _bn_key(edge: Edge, label: str) -> str:
    # ModuleDict keys may not hold "."
    return ("/".join(edge.path) + "~" + label).replace(".", "_")


def _batch_norm(dims: int, channels: int) -> nn.Module:
    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    return cls(channels, affine=False)


def resample_to(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
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
