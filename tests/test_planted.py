"""Engines that learn: on a planted-signal space (tests/planted.py: label = image > 0,
one candidate passes the signal through unchanged) every engine, run for seconds with
its real strategy, must put the highest probability on (gradient engines) or select
(ENAS, random) the planted candidate — the op on the signal edge, the input edge of the
cell node, and (PC-DARTS, ProxylessNAS) beta. A search that does not learn fails here.

The settings are the engines' own except the budget (seconds, not hours) and larger
learning rates, so that a few dozen steps move the architecture measurably.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from planted import NODE, PLANTED, SIGNAL_EDGE, SPEC, make_planted_dataset  # noqa: E402
from nasdsl.engines.loop import SearchOptions, load_engine_from_run, search  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

BUDGET = {"epochs": 4, "steps_per_epoch": 10, "batch_size": 4}
SETTINGS = {
    # DARTS at the NAS-Unet weight settings (SGD 0.025, no momentum) does not fit the
    # weights in this budget: on seed 2 the supernet predicts background everywhere
    # (Dice 0 with identity forced) and alpha follows noise. A warm-up and PC-DARTS's
    # weight settings fit them first, as the published warm-ups intend
    "darts": {"epochs": 6, "warmup_epochs": 2, "patience": 0, "arch_lr": 0.01,
              "weight_lr": 0.1, "weight_momentum": 0.9},
    "pc_darts": {"warmup_epochs": 0, "k": 2, "arch_lr": 0.01},
    "proxyless": {"epochs": 6, "warmup_epochs": 2, "arch_every": 1, "arch_lr": 0.05},
    # the shared weights see 8 children: more steps than the relaxed supernet needs.
    # ENAS at Adam 1e-2 or below fails seeds 0 and 2: the weights learn too slowly, every
    # child scores the same all-foreground Dice, and the controller drifts to `s1` and
    # stops training `s0` (a real ENAS failure mode, not a flaky test)
    "enas": {"steps_per_epoch": 25, "controller_steps": 10, "children_per_episode": 5,
             "child_epochs": 1, "derive_samples": 20, "controller_lr": 0.01,
             "weight_lr": 0.03, "first_child_max": False},
    "random": {"steps_per_epoch": 25, "samples": 16, "rerank": 4, "weight_lr": 0.01},
}
SEED = int(os.environ.get("NASDSL_PLANTED_SEED", "0"))   # other seeds: a manual check


@pytest.fixture(scope="module")
def planted_data(tmp_path_factory) -> str:
    return str(make_planted_dataset(tmp_path_factory.mktemp("planted") / "data"))


def run(engine: str, data: str, out: Path) -> dict:
    settings = {**BUDGET, "seed": SEED, **SETTINGS[engine]}
    return search(SearchOptions(str(SPEC), data, str(out), engine, {}, settings,
                                progress=False))


def derived(result: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in result["assignment"].items()}


def argmax_label(engine, did: str) -> str:
    probs = engine.probabilities()[did]
    point = engine.space.point(did)
    return point.labels[max(range(len(probs)), key=probs.__getitem__)]


@pytest.mark.parametrize("name", ["darts", "pc_darts", "proxyless"])
def test_gradient_engines_put_the_most_probability_on_the_planted_candidate(
        name, planted_data, tmp_path):
    result = run(name, planted_data, tmp_path)
    _, before, _, _ = load_engine_from_run(tmp_path, restore=False)
    _, after, _, _ = load_engine_from_run(tmp_path)
    assert argmax_label(after, SIGNAL_EDGE) == "identity", after.probabilities()
    p0, p1 = before.probabilities()[SIGNAL_EDGE], after.probabilities()[SIGNAL_EDGE]
    assert p1[0] - p0[0] > 0.02, "identity's probability barely moved"
    if NODE in after.probabilities():          # beta (PC-DARTS, ProxylessNAS)
        assert argmax_label(after, NODE) == "s0", after.probabilities()
        b0, b1 = before.probabilities()[NODE], after.probabilities()[NODE]
        assert b1[0] - b0[0] > 0.02, "beta barely moved"
    assert derived(result) == PLANTED


def controller_picks(engine, n: int = 300) -> float:
    """Share of the controller's samples that are the planted architecture."""
    gen = torch.Generator().manual_seed(123)
    hits = 0
    with torch.no_grad():
        for _ in range(n):
            child, _, _ = engine.controller.sample(gen)
            hits += all(child.get(k) == v for k, v in PLANTED.items())
    return hits / n


def test_enas_learns_and_selects_the_planted_architecture(planted_data, tmp_path):
    result = run("enas", planted_data, tmp_path)
    _, before, _, _ = load_engine_from_run(tmp_path, restore=False)
    _, after, _, _ = load_engine_from_run(tmp_path)
    # 1 of 8 distinct architectures: the untrained controller draws it about 1/8 of
    # the time; the trained one most of the time
    assert controller_picks(before) < 0.3
    assert controller_picks(after) > 0.6
    assert derived(result) == PLANTED
    ranking = json.loads((tmp_path / "ranking.json").read_text())
    assert ranking["candidates"][0]["subset_dice"] > 0.9


def test_random_search_selects_the_planted_architecture(planted_data, tmp_path):
    result = run("random", planted_data, tmp_path)
    assert derived(result) == PLANTED
    ranking = json.loads((tmp_path / "ranking.json").read_text())
    best, rest = ranking["candidates"][0], ranking["candidates"][1:]
    assert best["val_dice"] > max(r.get("val_dice", r["subset_dice"]) for r in rest)
