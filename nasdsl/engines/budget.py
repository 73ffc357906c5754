"""Derivation under a budget: move the derived architecture into `params <= N`.

The derived assignment's exact cost comes from elaborating it (static analysis). While
it is over budget, the op swap that saves the most cost per unit of log-probability
lost is applied (the zero op is never chosen for a cell edge); each swap is checked
exactly. No swap left and still over budget: BudgetError.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from nasdsl.space import SearchSpace
from nasdsl.errors import UsageError


class BudgetError(UsageError):
    """No architecture reachable by op swaps fits the budget."""


def fit_budget(space: SearchSpace, assignment: dict[str, Any],
               op_weight: Callable[[str], list[float]], budget: float,
               metric: str = "params") -> dict[str, Any]:
    current = dict(assignment)
    cost = space.cost(current, metric)
    static = _static_costs(space, metric)
    while cost > budget:
        move = _best_swap(space, current, op_weight, static)
        if move is None:
            raise BudgetError(f"no architecture of this space found within {metric} <= "
                              f"{budget:,.0f} (the cheapest reachable has {cost:,})")
        did, label = move
        current[did] = label
        cost = space.cost(current, metric)
    return current


def _static_costs(space: SearchSpace, metric: str) -> dict[str, list[float]]:
    """Per decision, per label: its cost summed over the cell instances sharing it."""
    return space.label_costs(metric)


def _best_swap(space, current, op_weight, static) -> tuple[str, str] | None:
    best, move = 0.0, None
    for did, label in current.items():
        if did not in static or isinstance(label, tuple):
            continue
        p = space.point(did)
        w = op_weight(did)
        now = p.labels.index(label)
        banned = space.zero_labels(did) if p.parent is not None else set()
        for o, other in enumerate(p.labels):
            saved = static[did][now] - static[did][o]
            if o == now or o in banned or saved <= 0:
                continue
            lost = math.log(max(w[now], 1e-12)) - math.log(max(w[o], 1e-12))
            score = saved / (max(lost, 0.0) + 1e-3)
            if score > best:
                best, move = score, (did, other)
    return move
