"""How engines end a search, without training a supernet: the gradient engines' move into
a parameter budget (engines/budget.py) and the sampling engines' choice among scored
architectures (engines/selection.py). The search runs that use them are in
test_engines.py and test_engines_published.py."""

from __future__ import annotations

import math
import random

import pytest

from conftest import SPECS
from nasdsl.engines.budget import BudgetError, fit_budget
from nasdsl.engines.selection import (best_within, budget_message, plain_rows, score_all,
                                      unique, unplain_rows)
from nasdsl.space import load_space


@pytest.fixture(scope="module")
def space():
    return load_space(str(SPECS / "nas_unet.nas"), {"C": 8, "depth": 1})


@pytest.fixture(scope="module")
def drawn(space):
    return space.compiled.table.sample(random.Random(0))


def _uniform(space):
    return lambda did: [1.0 / len(space.point(did).labels)] * len(space.point(did).labels)


def _changed(a: dict, b: dict) -> set[str]:
    return {k for k in a if a[k] != b[k]}


def test_fit_budget_moves_an_architecture_into_the_budget_by_op_swaps(space, drawn):
    before = space.cost(drawn)
    budget = before - 0.3 * (before - space.base_cost())
    fitted = fit_budget(space, drawn, _uniform(space), budget)
    assert space.cost(fitted) <= budget < before
    assert space.legal(fitted)
    changed = _changed(drawn, fitted)
    assert changed and all(space.kinds[d] == "op" for d in changed)   # inputs stay
    costs = space.label_costs()
    for d in changed:                  # every swap is to a cheaper op of that edge
        labels = space.point(d).labels
        assert costs[d][labels.index(fitted[d])] < costs[d][labels.index(drawn[d])]
    assert fit_budget(space, drawn, _uniform(space), before) == drawn   # fits: unchanged


def test_fit_budget_swaps_where_the_search_was_least_sure(space, drawn):
    """Sure of every edge but one: a budget one swap away changes only that one, though
    another swap would save more (which is what uniform weights pick)."""
    costs = space.label_costs()
    saving = {d: costs[d][space.point(d).labels.index(drawn[d])] - min(costs[d])
              for d in costs if isinstance(drawn.get(d), str)}
    unsure = min((d for d in saving if saving[d] > 0), key=saving.get)
    by_saving = fit_budget(space, drawn, _uniform(space), space.cost(drawn) - 1)
    assert _changed(drawn, by_saving) != {unsure}

    def weight(did):
        labels = space.point(did).labels
        if did == unsure:
            return [1.0 / len(labels)] * len(labels)
        return [0.999 if label == drawn[did] else 0.001 for label in labels]

    fitted = fit_budget(space, drawn, weight, space.cost(drawn) - 1)
    assert _changed(drawn, fitted) == {unsure}


def test_fit_budget_says_when_no_swap_reaches_the_budget(space, drawn):
    with pytest.raises(BudgetError, match="no architecture of this space found within "
                                          "params <= 100 \\(the cheapest reachable has"):
        fit_budget(space, drawn, _uniform(space), 100)


# ---- selection among sampled architectures --------------------------------------------
def test_score_all_ranks_best_first_and_keeps_drawing_order_on_ties():
    children = [{"a": "x"}, {"a": "y"}, {"a": "z"}, {"a": "w"}]
    dice = {"x": 0.5, "y": 0.7, "z": 0.5, "w": 0.1}
    rows = score_all(children, lambda c: dice[c["a"]], lambda c: len(c["a"]) * 10)
    assert [r["assignment"]["a"] for r in rows] == ["y", "x", "z", "w"]
    assert rows[0] == {"assignment": {"a": "y"}, "params": 10, "subset_dice": 0.7}


def test_best_within_takes_the_best_that_fits_and_the_message_names_the_smallest():
    rows = [{"params": 500, "subset_dice": 0.9}, {"params": 200, "subset_dice": 0.8},
            {"params": 100, "subset_dice": 0.1}]
    assert best_within(rows, None) is rows[0]
    assert best_within(rows, 300) is rows[1]
    assert best_within(rows, 50) is None
    message = budget_message(rows, 50, "sampled")
    assert "no architecture sampled fits params <= 50" in message
    assert "the smallest has 100 parameters" in message
    assert "constraint params <= 50" in message


def test_unique_drops_repeated_draws_and_rows_round_trip_through_json():
    draws = [{"e": ("p0", "p1"), "o": "conv"}, {"e": ("p0", "p1"), "o": "conv"},
             {"e": ("p1", "p0"), "o": "conv"}]
    assert unique(draws) == [draws[0], draws[2]]
    rows = [{"assignment": draws[0], "params": 3, "subset_dice": math.pi}]
    plain = plain_rows(rows)
    assert plain[0]["assignment"] == {"e": ["p0", "p1"], "o": "conv"}   # JSON has no tuple
    assert unplain_rows(plain) == rows
