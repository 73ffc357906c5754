"""`nasdsl run`'s budgets and reports: the time budget's split, the thread choice under
load, the search's steps and entropy, and the warning when training stopped early
(issue #18 items 5 and 6; issue #14 'the first command's search moves')."""

from __future__ import annotations

import json

import pytest

from nasdsl.pipeline.machine import choose_threads
from nasdsl.pipeline.plan import (SEARCH_SHARE, TRAIN_SHARE, TrainBudget, parse_duration,
                                  quick_plan)
from nasdsl.pipeline.progress import convergence_note, search_progress


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("90s", 90), ("1.5h", 5400),
                                           ("600", 600), ("2 min", 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-3m", "10s", "40d"])
def test_bad_durations_say_what_is_accepted(text):
    with pytest.raises(ValueError, match="time budget"):
        parse_duration(text)


def test_time_budget_splits_between_search_and_training():
    quick = quick_plan("s.nas", "o", None, None, [], 0, None)
    plan = quick_plan("s.nas", "o", None, None, [], 0, None, time_budget=1800)
    assert plan.search.time_budget == SEARCH_SHARE * 1800
    assert plan.train.time_budget == TRAIN_SHARE * 1800
    assert SEARCH_SHARE + TRAIN_SHARE < 1  # the rest: data, compile, export, inference
    # the loops scale with the time, so the schedules are planned for what can run
    assert plan.search.settings["epochs"] > quick.search.settings["epochs"]
    assert plan.train.epochs > quick.train.epochs
    assert quick.search.time_budget is None and quick.train.time_budget == 180


def test_threads_follow_the_load():
    assert choose_threads(None, 2, 0.1, None) == (2, choose_threads(None, 2, 0.1, None)[1])
    assert choose_threads(None, 2, 5.0, None)[0] == 1   # issue #18.6: load 5 on 2 cores
    assert choose_threads(None, 16, 4.2, None)[0] == 12
    assert choose_threads(3, 2, 5.0, "1") == (3, "--threads")
    assert choose_threads(None, 8, 0.0, "2") == (2, "OMP_NUM_THREADS")


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_search_progress_counts_steps_and_reads_the_entropy(tmp_path):
    m = _jsonl(tmp_path / "m.jsonl", [
        {"event": "start", "entropy": 1.8},
        {"epoch": 0, "step": 1, "loss": 1.0},
        {"epoch": 0, "step": 2, "loss": 0.9, "arch_loss": 0.8},
        {"event": "epoch", "epoch": 0, "entropy": 1.7},
        {"epoch": 1, "step": 3, "loss": 0.8, "arch_loss": 0.7},
        {"event": "epoch", "epoch": 1, "entropy": 1.5}])
    p = search_progress(m)
    assert (p["search_steps"], p["search_arch_steps"], p["search_epochs"]) == (3, 2, 2)
    assert p["entropy_start"] == 1.8 and p["entropy_end"] == 1.5
    assert p["entropy_change"] == pytest.approx(-0.3)


def test_convergence_warning_when_dice_still_rises(tmp_path):
    budget = TrainBudget(epochs=10, steps_per_epoch=40, batch_size=4, time_budget=180)
    rising = [{"event": "epoch", "epoch": e, "val_dice": d}
              for e, d in enumerate([0.3, 0.5, 0.6, 0.7, 0.74, 0.8])]
    note = convergence_note(_jsonl(tmp_path / "a.jsonl", rising + [
        {"event": "done", "stopped": "time_budget", "epoch": 6, "global_step": 240}]), budget)
    assert "still rising" in note and "6 epochs / 240 steps" in note
    assert "180 s time budget ran out" in note and "few epochs" not in note
    flat = [{"event": "epoch", "epoch": e, "val_dice": d}
            for e, d in enumerate([0.3, 0.8, 0.9, 0.905, 0.903, 0.904, 0.905])]
    assert convergence_note(_jsonl(tmp_path / "b.jsonl", flat + [
        {"event": "done", "stopped": "epochs", "epoch": 7, "global_step": 280}]),
        budget) is None

