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

from nasdsl.space import SearchSpace


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


# How a cell node ranks its candidate edges (the engines' `derive` setting):
#   nas_unet  the NAS-Unet authors' GenoParser (util/genotype.py, `normalize_scale`): an
#             edge's best weight is scaled by |its op set| / |the node's largest op set|,
#             so a 6-op down edge or a 4-op up edge is not favoured over a 7-op normal
#             edge merely because its softmax spreads over fewer ops. Where every edge
#             of a node has the same number of ops (DARTS's and PC-DARTS's cells) the
#             scale is 1 and the rule is theirs exactly.
#   darts     DARTS's / PC-DARTS's genotype(): the unscaled best weight.
DERIVE_RULES = ("nas_unet", "darts")


def derive(space: SearchSpace, op_weight: Callable[[str], list[float]],
           edge_weight: Callable[[str, int], float] | None = None,
           top_k: int | None = None, rule: str = "nas_unet") -> dict[str, Any]:
    """A discrete assignment from per-label weights.

    Per cell node (inputs decision): an edge's score is its best non-zero op's weight
    (times `edge_weight`, PC-DARTS's softmax(beta)), scaled as `rule` says (above); the
    top-k edges are kept and each takes its best non-zero op. Op decisions outside a
    cell node take their argmax.
    """
    if rule not in DERIVE_RULES:
        raise ValueError(f"unknown derivation rule {rule!r}")
    out: dict[str, Any] = {}
    for p in space.table:
        if p.parent is not None or space.kinds.get(p.id) == "structural":
            continue
        if p.kind == "inputs":
            out.update(_derive_node(space, p, op_weight, edge_weight, top_k, rule))
        else:
            w = op_weight(p.id)
            out[p.id] = p.labels[max(range(len(w)), key=w.__getitem__)]
    return out


def _derive_node(space, p, op_weight, edge_weight, top_k, rule) -> dict[str, Any]:
    kids = space.edge_children(p.id)
    longest = max((len(k.labels) for k in kids.values()), default=1)
    scored = []
    for j, label in enumerate(p.labels):
        kid = kids.get(label)
        if kid is None:          # an edge without an op choice: scored by beta alone
            scored.append((edge_weight(p.id, j) if edge_weight else 1.0, j, None))
            continue
        best, best_o = _best_nonzero(space, kid.id, op_weight(kid.id))
        scale = edge_weight(p.id, j) if edge_weight else 1.0
        if rule == "nas_unet":
            scale *= len(kid.labels) / longest
        scored.append((best * scale, j, kid.labels[best_o]))
    k = min(max(p.keep[0], top_k if top_k is not None else p.keep[1]), p.keep[1])
    chosen = sorted(sorted(scored, key=lambda s: (-s[0], s[1]))[:k], key=lambda s: s[1])
    out: dict[str, Any] = {p.id: tuple(p.labels[j] for _, j, _ in chosen)}
    for _, j, op in chosen:
        if op is not None:
            out[kids[p.labels[j]].id] = op
    return out


def top_k_problem(space: SearchSpace, top_k: int) -> str | None:
    """Why `--top-k` cannot change this space's derivation (None: it can). It sets how
    many inputs a relaxed inputs decision keeps, within its `keep a..b` range; cell
    nodes (`nodes n[M] keep k`) always keep exactly k."""
    nodes = [p for p in space.table if p.kind == "inputs" and p.parent is None
             and space.kinds.get(p.id) != "structural"]
    if not nodes:
        return "the space has no relaxed inputs decision (cell node or input choice): " \
               "there are no edges for --top-k to select"
    ranged = [p for p in nodes if p.keep[0] != p.keep[1]]
    if not ranged:
        fixed = sorted({p.keep[0] for p in nodes})
        return (f"every cell node and input choice keeps a fixed number of edges (keep "
                f"{' / '.join(map(str, fixed))}): --top-k {top_k} cannot change the "
                "genotype; only an input choice with a range (`choice x from [...] keep "
                "a..b`) leaves the number to the derivation")
    if not any(p.keep[0] <= top_k <= p.keep[1] for p in ranged):
        spans = sorted({f"{p.keep[0]}..{p.keep[1]}" for p in ranged})
        return (f"--top-k {top_k} is outside every inputs decision's keep range "
                f"({', '.join(spans)})")
    return None


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
