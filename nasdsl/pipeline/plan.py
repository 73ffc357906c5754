"""Budgets of a pipeline run: the quick default (a 2-core CPU in ~10 minutes) and `--full`.

The quick budgets shrink the space (-D overrides) and every loop so that the whole flow
runs end to end on a laptop; `--full` keeps the spec's own configuration and `search`
block and trains as the seeds did. Nothing here is tuned to a result.
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
    # Stage-specific -D under the user's: the search may run a smaller instance of the
    # space than the trained network (NAS-Unet searched at C=16 and trained at C=32);
    # decisions are keyed by cell type, so the genotype fits both.
    search_defines: list[str] = field(default_factory=list)
    train_defines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Quick mode shrinks the widths and depth of spaces that have these parameters
# (nas_unet, thrifty_nas, unet-like specs); a parameter the spec lacks is left out.
QUICK_SEARCH = {"C": 4, "depth": 2, "patch": 64, "base": 4}
QUICK_TRAIN = {"C": 16, "depth": 3, "base": 8}


def quick_plan(space: str, out: str, data: str | None, engine: str | None,
               defines: list[str], seed: int, device: str | None) -> RunPlan:
    """~10 minutes on 2 CPU cores: small slices, a tiny search, a short training."""
    return RunPlan(
        space, out, data, engine, list(defines),
        DataBudget(cases=20, tests=4, resolution=2.0, dims=2),
        SearchBudget({"epochs": 3, "steps_per_epoch": 10, "batch_size": 2,
                      "warmup_epochs": 1, "patience": 0,
                      # PC-DARTS at the quick C=4: k=2 leaves 2 channels per edge, which
                      # every candidate builds (k=4 leaves 1: no FactorizedReduce)
                      "k": 2,
                      "children_per_episode": 4, "child_epochs": 1, "samples": 4,
                      "seed": seed}),
        TrainBudget(epochs=10, steps_per_epoch=40, batch_size=4, time_budget=180.0),
        seed, device,
        search_defines=[f"{k}={v}" for k, v in QUICK_SEARCH.items()],
        train_defines=[f"{k}={v}" for k, v in QUICK_TRAIN.items()])


def full_plan(space: str, out: str, data: str | None, engine: str | None,
              defines: list[str], seed: int, device: str | None) -> RunPlan:
    """The spec's own configuration and search block; nnU-Net-like training."""
    return RunPlan(
        space, out, data, engine, list(defines),
        DataBudget(cases=40, tests=10, resolution=1.5, dims=2),
        SearchBudget({"seed": seed}),
        TrainBudget(epochs=100, steps_per_epoch=250, batch_size=8, time_budget=None),
        seed, device, full=True)
