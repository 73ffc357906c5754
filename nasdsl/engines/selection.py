"""Choosing among sampled architectures with the shared weights, as the sampling engines'
papers do at the end of a search.

ENAS (and carpedm20/ENAS-pytorch) samples many architectures from the trained controller
and keeps the best by validation reward; random search with weight sharing (Li &
Talwalkar 2019) scores many uniform draws with the final shared weights and evaluates
the best of them further. Both score on a *fixed* validation subset — the same
`derive_batches` batches for every candidate and every call — so scores compare
architectures, not batches; random search then re-evaluates its best `rerank` on the
whole validation split (sliding-window Dice over every validation case, the same
`validate` that `nasdsl train` selects checkpoints with) and ranks by that.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from nasdsl.engines.archparams import assignment_labels

# validation batches of the fixed subset: step ids far from the ones the controller uses
FIXED_EPOCH = 0
FIXED_STEP = 2_000_000


def fixed_subset(val: Callable[[int, int], Any], batches: int) -> list[Any]:
    return [val(FIXED_EPOCH, FIXED_STEP + j) for j in range(batches)]


def unique(children: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for c in children:
        key = repr(sorted(assignment_labels(c).items()))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def score_all(children: Sequence[dict[str, Any]], score: Callable[[dict[str, Any]], float],
              cost: Callable[[dict[str, Any]], int]) -> list[dict[str, Any]]:
    """Entries {assignment, params, subset_dice}, best first (ties: drawing order)."""
    rows = [{"assignment": c, "params": cost(c), "subset_dice": score(c)} for c in children]
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["subset_dice"], i))
    return [rows[i] for i in order]


def best_within(rows: Sequence[dict[str, Any]], budget: float | None) -> dict[str, Any] | None:
    """The first row (rows are ranked) whose parameters fit the budget."""
    for r in rows:
        if budget is None or r["params"] <= budget:
            return r
    return None


def plain_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "assignment": assignment_labels(r["assignment"])} for r in rows]


def unplain_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "assignment": {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in r["assignment"].items()}} for r in rows]


def budget_message(rows: Sequence[dict[str, Any]], budget: float, what: str) -> str:
    smallest = min((r["params"] for r in rows), default=None)
    tail = (f" (the smallest has {smallest:,} parameters)" if smallest is not None else "")
    return (f"no architecture {what} fits params <= {budget:,.0f}{tail}; search again "
            f"with `constraint params <= {budget:,.0f}` in the spec")
