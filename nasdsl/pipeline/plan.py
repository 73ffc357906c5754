"""Budgets of a pipeline run: the quick default (a 2-core CPU in ~6 minutes), a time
budget (`--time-budget 30m`) and `--full`.

The quick budgets shrink the space (-D overrides) and every loop so that the whole flow
runs end to end on a laptop; a time budget scales the quick loops to the time given and
splits it between the search and the training; `--full` keeps the spec's own
configuration and `search` block and trains as the seeds did. Nothing here is tuned to a
result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DataBudget:
    cases: int
    tests: int
    resolution: float      # mm in-plane
    dims: int              # 2: one slice per case


@dataclass
class SearchBudget:
    settings: dict[str, Any]         # engine settings (override the spec's search block)
    time_budget: float | None = None  # seconds: the search stops after the epoch it ends in


@dataclass
class TrainBudget:
    epochs: int
    steps_per_epoch: int
    batch_size: int
    time_budget: float | None        # seconds of training


@dataclass
class RunPlan:
    space: str
    out: str
    data: str | None                  # None: the built-in MNI task, made in RUN/data
    engine: str | None                # None: the spec's `search` block
    defines: list[str]                # -D for every stage (the user's)
    data_budget: DataBudget
    search: SearchBudget
    train: TrainBudget
    seed: int = 0
    device: str | None = None
    full: bool = False
    progress: bool = True
    threads: int | None = None        # None: chosen from the cores and the load
    time_budget: float | None = None  # seconds for the whole run (None: the fixed budgets)
    # Stage-specific -D under the user's: the search may run a smaller instance of the
    # space than the trained network (NAS-Unet searched at C=16 and trained at C=32);
    # decisions are keyed by cell type, so the genotype fits both.
    search_defines: list[str] = field(default_factory=list)
    train_defines: list[str] = field(default_factory=list)
    # -D of both stages when the space is searched (a genotype keeps its own: RONASMIS's
    # patch candidates must include the patch size it decided)
    shape_defines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Quick mode shrinks the widths and depth of spaces that have these parameters
# (nas_unet, thrifty_nas, unet-like specs, ronasmis); a parameter the spec lacks is left
# out. QUICK_SHAPE holds for both stages: RONASMIS's patch candidates are values of the
# genotype, so the trained network must declare the same ones the search chose from.
QUICK_SEARCH = {"C": 4, "depth": 2, "patch": 64, "base": 4}
QUICK_TRAIN = {"C": 16, "depth": 3, "base": 8}
QUICK_SHAPE = {"patch_hw_max": 64, "patch_hw_n": 2, "patch_d_max": 32, "patch_d_n": 1}
# Engine settings of the quick search (each engine takes the ones it knows):
# - arch_lr 0.02: the quick search takes ~20 architecture steps; at the papers' rates
#   (3e-4 DARTS, 6e-4 PC-DARTS) Adam moves each alpha by < 0.01 in 20 steps, the
#   entropy by ~1e-5, and the derivation is a draw from the initial noise (issue #14);
# - k 2: PC-DARTS sends C/k channels through each mixed op; at the quick width C = 4 the
#   authors' k = 4 leaves 1 channel, and a FactorizedReduce of 1 channel has 0 per half;
# - controller_steps 5, derive_samples 16, rerank 4: ENAS's 50 x 20 controller updates
#   per epoch and the sampling engines' 100 end-of-search samples outlast a quick search.
QUICK_ENGINE = {"epochs": 3, "steps_per_epoch": 10, "batch_size": 2,
                "warmup_epochs": 1, "patience": 0, "arch_lr": 0.02, "k": 2,
                "children_per_episode": 4, "child_epochs": 1, "samples": 4,
                "controller_steps": 5, "derive_samples": 16, "rerank": 4}
QUICK_TRAIN_BUDGET = {"epochs": 10, "steps_per_epoch": 40, "batch_size": 4,
                      "time_budget": 180.0}
QUICK_SECONDS = 360.0   # the quick run's wall time on an idle 2-core CPU (README)
# a time budget's shares: the rest covers data, compile, export, inference and figures
SEARCH_SHARE, TRAIN_SHARE = 0.3, 0.5


def quick_plan(space: str, out: str, data: str | None, engine: str | None,
               defines: list[str], seed: int, device: str | None,
               time_budget: float | None = None) -> RunPlan:
    """~6 minutes on 2 idle CPU cores: small slices, a tiny search, a short training.
    With `time_budget` (seconds) the loops scale with the time given: the search gets
    SEARCH_SHARE of it and the training TRAIN_SHARE, each as its epochs (so the
    learning-rate schedules are planned for them) and as a wall-clock cap."""
    search = dict(QUICK_ENGINE, seed=seed)
    train = dict(QUICK_TRAIN_BUDGET)
    search_seconds = None
    if time_budget is not None:
        scale = max(1.0, time_budget / QUICK_SECONDS)
        search["epochs"] = max(search["epochs"], round(search["epochs"] * scale))
        train["epochs"] = max(train["epochs"], round(train["epochs"] * scale))
        search_seconds = SEARCH_SHARE * time_budget
        train["time_budget"] = TRAIN_SHARE * time_budget
    return RunPlan(
        space, out, data, engine, list(defines),
        DataBudget(cases=20, tests=4, resolution=2.0, dims=2),
        SearchBudget(search, search_seconds),
        TrainBudget(**train),
        seed, device, time_budget=time_budget,
        search_defines=[f"{k}={v}" for k, v in QUICK_SEARCH.items()],
        train_defines=[f"{k}={v}" for k, v in QUICK_TRAIN.items()],
        shape_defines=[f"{k}={v}" for k, v in QUICK_SHAPE.items()])


def full_plan(space: str, out: str, data: str | None, engine: str | None,
              defines: list[str], seed: int, device: str | None,
              time_budget: float | None = None) -> RunPlan:
    """The spec's own configuration and search block; nnU-Net-like training (a time
    budget caps the search and the training at their shares)."""
    search_seconds = None if time_budget is None else SEARCH_SHARE * time_budget
    train_seconds = None if time_budget is None else TRAIN_SHARE * time_budget
    return RunPlan(
        space, out, data, engine, list(defines),
        DataBudget(cases=40, tests=10, resolution=1.5, dims=2),
        SearchBudget({"seed": seed}, search_seconds),
        TrainBudget(epochs=100, steps_per_epoch=250, batch_size=8, time_budget=train_seconds),
        seed, device, full=True, time_budget=time_budget)


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `1.5h` -> seconds; ValueError with what is accepted."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*", text or "")
    if not m:
        raise ValueError(f"time budget {text!r}: expected a number of seconds or a "
                         "duration such as 90s, 30m, 1.5h")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or ""]
    if not 60.0 <= seconds <= 30 * 24 * 3600.0:
        raise ValueError(f"time budget {text!r}: must be between 1 minute and 30 days")
    return seconds
