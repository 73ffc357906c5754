"""Architecture parameters: one logit vector per decision of the table, and the
derivation of a discrete assignment from per-label weights.

Decisions are per cell *type* (`DownSC.n[1].p0`), so every instance of a cell shares
its row, as DARTS's alphas_normal / alphas_reduce do.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn as nn

from nasdsl.engines.space import SearchSpace


class ArchParams(nn.Module):
    """alpha (op decisions) and beta (inputs decisions: one entry per candidate edge),
    initialised 1e-3 * N(0, 1) as in DARTS / PC-DARTS."""

    def __init__(self, space: SearchSpace, kinds: tuple[str, ...] = ("op", "inputs"),
                 generator: torch.Generator | None = None):
        super().__init__()
        self.ids: list[str] = [p.id for p in space.table if space.kinds[p.id] in kinds]
        self.index = {did: i for i, did in enumerate(self.ids)}
        self.values = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(len(space.point(did).labels), generator=generator))
            for did in self.ids)

    def __getitem__(self, did: str) -> nn.Parameter:
        return self.values[self.index[did]]

    def __contains__(self, did: str) -> bool:
        return did in self.index

    def probs(self) -> dict[str, list[float]]:
        return {did: torch.softmax(self[did].detach().float(), -1).tolist() for did in self.ids}

    def entropy(self) -> float:
        """Mean entropy (nats) of the decisions' softmax: falls as the search commits."""
        total = 0.0
        for did in self.ids:
            p = torch.softmax(self[did].detach().float(), -1)
            total += float(-(p * torch.log(p.clamp_min(1e-12))).sum())
        return total / max(1, len(self.ids))


def derive(space: SearchSpace, op_weight: Callable[[str], list[float]],
           edge_weight: Callable[[str, int], float] | None = None,
           top_k: int | None = None) -> dict[str, Any]:
    """A discrete assignment from per-label weights.

    Per cell node (inputs decision): an edge's score is its best non-zero op's weight
    (times `edge_weight`, PC-DARTS's softmax(beta)); the top-k edges are kept and each
    takes its best non-zero op. Op decisions outside a cell node take their argmax.
    """
    out: dict[str, Any] = {}
    for p in space.table:
        if p.parent is not None or space.kinds.get(p.id) == "structural":
            continue
        if p.kind == "inputs":
            out.update(_derive_node(space, p, op_weight, edge_weight, top_k))
        else:
            w = op_weight(p.id)
            out[p.id] = p.labels[max(range(len(w)), key=w.__getitem__)]
    return out


def _derive_node(space, p, op_weight, edge_weight, top_k) -> dict[str, Any]:
    kids = space.edge_children(p.id)
    scored = []
    for j, label in enumerate(p.labels):
        kid = kids.get(label)
        if kid is None:          # an edge without an op choice: scored by beta alone
            scored.append((edge_weight(p.id, j) if edge_weight else 1.0, j, None))
            continue
        best, best_o = _best_nonzero(space, kid.id, op_weight(kid.id))
        scale = edge_weight(p.id, j) if edge_weight else 1.0
        scored.append((best * scale, j, kid.labels[best_o]))
    k = min(max(p.keep[0], top_k if top_k is not None else p.keep[1]), p.keep[1])
    chosen = sorted(sorted(scored, key=lambda s: (-s[0], s[1]))[:k], key=lambda s: s[1])
    out: dict[str, Any] = {p.id: tuple(p.labels[j] for _, j, _ in chosen)}
    for _, j, op in chosen:
        if op is not None:
            out[kids[p.labels[j]].id] = op
    return out


def _best_nonzero(space: SearchSpace, did: str, w: list[float]) -> tuple[float, int]:
    zero = space.zero_labels(did)
    best, idx = -math.inf, 0
    for o, x in enumerate(w):
        if o not in zero and x > best:
            best, idx = x, o
    return best, idx


def assignment_labels(assignment: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly copy (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in assignment.items()}
