"""The training loop: epochs of `train_step`, validation, checkpoints, resume, DDP.

`fit` takes a model *factory* (any nn.Module: a compiled genotype, MONAI's BasicUNet, a
search engine's supernet wrapper) and a dataset with `item(index, seed)` (or a plain
map-style dataset); everything stochastic is a function of (seed, epoch, step), so a run
resumed from `checkpoints/last.pt` ends with the same weights as one never interrupted.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nasdsl.errors import InputError
from nasdsl.runs import RunDir, rng_state, seed_everything, set_rng_state
from nasdsl.train import distributed as dist
from nasdsl.train.batches import BatchSource, shard
from nasdsl.train.optim import make_optimizer, make_schedule
from nasdsl.train.step import LossFn, NonFiniteLoss, Precision, train_step
from nasdsl.train.validate import InferShape, validate

CHECKPOINT_FORMAT = 1


@dataclass
class TrainConfig:
    epochs: int = 50
    steps_per_epoch: int = 250
    batch_size: int = 2                  # global batch (split over DDP ranks)
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 3e-5
    schedule: str = "poly"
    clip_grad: float | None = 12.0
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 0            # steps between mid-epoch checkpoints (0: none)
    val_every: int = 1                   # epochs
    time_budget: float | None = None     # seconds of training (validation excluded)
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Position:
    epoch: int = 0
    step: int = 0              # steps done in `epoch`
    global_step: int = 0
    best: float = -math.inf    # best validation Dice so far
    elapsed: float = 0.0       # training seconds so far (for --time-budget)

    @property
    def plain(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    model: nn.Module                     # unwrapped, trained (last) weights
    position: Position
    stopped: str                         # "epochs" | "time_budget"
    history: list[dict[str, Any]] = field(default_factory=list)


class TrainingStopped(InputError):
    """Training stopped on a non-finite loss (exit 1: the data or the settings diverge);
    the message says what was kept."""


@dataclass
class _Parts:
    model: nn.Module
    ddp: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LambdaLR


def fit(model_factory: Callable[[], nn.Module], loss_fn: LossFn, batches: BatchSource,
        val_cases: Sequence[dict[str, Any]], config: TrainConfig, run: RunDir,
        precision: Precision, shape: InferShape, resume: bool = False,
        init_state: dict[str, torch.Tensor] | None = None) -> FitResult:
    """Train from scratch (or `init_state`), or continue `run` with resume=True."""
    seed_everything(config.seed)
    parts = _build(model_factory, config, precision, shape.dims, init_state)
    pos = _restore(run, parts, resume) if resume else Position()
    stopped = "epochs"
    history: list[dict[str, Any]] = []
    while pos.epoch < config.epochs:
        try:
            out_of_time = _train_epoch(parts, loss_fn, batches, config, run, precision,
                                       pos)
        except NonFiniteLoss as err:
            raise _nonfinite(err, run, pos) from None
        record = _end_epoch(parts, val_cases, config, run, precision, shape, pos,
                            last=out_of_time or pos.epoch + 1 == config.epochs)
        history.append(record)
        if out_of_time:
            stopped = "time_budget"
            break
    run.log({"event": "done", "stopped": stopped, **pos.plain})
    return FitResult(parts.model, pos, stopped, history)


def _build(factory: Callable[[], nn.Module], config: TrainConfig, precision: Precision,
           dims: int, init_state: dict[str, torch.Tensor] | None) -> _Parts:
    model = factory()
    if init_state is not None:
        model.load_state_dict(init_state, strict=True)
    model = precision.prepare_model(model, dims)
    ddp: nn.Module = model
    if dist.active():
        ids = [precision.device] if precision.device.type == "cuda" else None
        ddp = DistributedDataParallel(model, device_ids=ids)
    optimizer = make_optimizer(model, config.optimizer, config.lr, config.weight_decay)
    schedule = make_schedule(optimizer, config.schedule, config.epochs * config.steps_per_epoch)
    return _Parts(model, ddp, optimizer, schedule)


def checkpoint_state(parts: _Parts, pos: Position) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, "model": parts.model.state_dict(),
            "optimizer": parts.optimizer.state_dict(), "scheduler": parts.schedule.state_dict(),
            "rng": rng_state(), "position": pos.plain}


def _restore(run: RunDir, parts: _Parts, resume: bool) -> Position:
    if not run.has_checkpoint("last"):
        return Position()  # killed before the first checkpoint: start over
    state = run.load("last")
    parts.model.load_state_dict(state["model"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.schedule.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    pos = Position(**state["position"])
    run.log({"event": "resume", **pos.plain})
    return pos


def _train_epoch(parts: _Parts, loss_fn: LossFn, batches: BatchSource, config: TrainConfig,
                 run: RunDir, precision: Precision, pos: Position) -> bool:
    """Steps from pos.step to the end of the epoch; True if the time budget ran out."""
    # NOTE: making a DataLoader iterator draws a seed from the global RNG; fork_rng keeps
    # that draw from shifting a resumed run's RNG stream against an uninterrupted one
    with torch.random.fork_rng(devices=[]):
        iterator = iter(batches.loader(pos.epoch, pos.step))
    bar = _progress(config, run, config.steps_per_epoch - pos.step, pos.epoch)
    try:
        for batch in iterator:
            if _one_step(parts, loss_fn, batch, config, run, precision, pos, bar):
                return True
    finally:
        if bar is not None:
            bar.close()
    return False


def _one_step(parts: _Parts, loss_fn: LossFn, batch: dict[str, Any], config: TrainConfig,
              run: RunDir, precision: Precision, pos: Position, bar: Any) -> bool:
    """One logged, checkpointed step; True when the time budget has run out."""
    started = time.perf_counter()
    try:
        result = train_step(parts.ddp, batch, loss_fn, parts.optimizer, precision,
                            clip_grad=config.clip_grad)
    except NonFiniteLoss as err:
        err.step = pos.global_step
        raise
    parts.schedule.step()
    took = time.perf_counter() - started
    pos.step += 1
    pos.global_step += 1
    pos.elapsed += took
    run.log({"epoch": pos.epoch, "step": pos.global_step, "loss": result.loss,
             "lr": parts.optimizer.param_groups[0]["lr"], "time": round(time.time(), 4),
             "step_s": round(took, 5)})
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{result.loss:.4f}")
    if config.checkpoint_every and pos.global_step % config.checkpoint_every == 0:
        run.save(checkpoint_state(parts, pos))
    return _out_of_time(config, pos)


def _out_of_time(config: TrainConfig, pos: Position) -> bool:
    over = config.time_budget is not None and pos.elapsed >= config.time_budget
    return dist.any_true(over)  # every rank stops at the same step


def _end_epoch(parts: _Parts, val_cases: Sequence[dict[str, Any]], config: TrainConfig,
               run: RunDir, precision: Precision, shape: InferShape, pos: Position,
               last: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": pos.epoch, "step": pos.global_step}
    if val_cases and ((pos.epoch + 1) % config.val_every == 0 or last):
        info = dist.from_env()
        dice = validate(parts.model, shard(val_cases, info.world, info.rank), precision,
                        shape)
        record.update(val_dice=dice.mean, val_dice_per_class=dice.per_class)
        if dice.mean > pos.best or not math.isfinite(pos.best):
            pos.best = dice.mean
            record["best"] = True
    pos.epoch += 1
    pos.step = 0
    state = checkpoint_state(parts, pos)
    if record.get("best"):
        run.save(state, "best")
    run.save(state)
    run.log({"event": "epoch", **record})
    _announce(config, run, record)
    dist.barrier()
    return record


def _announce(config: TrainConfig, run: RunDir, record: dict[str, Any]) -> None:
    """One persistent line per epoch on stderr, under the (transient) progress bars;
    `--no-progress` drops the bars, not these lines (the validation Dice per epoch)."""
    if not run.writer:
        return
    import sys

    from tqdm import tqdm

    dice = record.get("val_dice")
    shown = "" if dice is None else f", validation Dice {dice:.4f}" + (
        " (best)" if record.get("best") else "")
    tqdm.write(f"epoch {record['epoch'] + 1}/{config.epochs}: step {record['step']}{shown}",
               file=sys.stderr)


def _nonfinite(err: NonFiniteLoss, run: RunDir, pos: Position) -> TrainingStopped:
    run.log({"event": "nonfinite_loss", "value": str(err.value), **pos.plain})
    kept = run.checkpoint_path("last")
    if run.has_checkpoint("last"):
        done = run.load("last")["position"]
        what = (f"kept the last good checkpoint {kept} (epoch {done['epoch']}, "
                f"step {done['global_step']})")
    else:
        what = "no checkpoint had been written yet"
    return TrainingStopped(f"training stopped: the loss became {err.value} at step "
                           f"{pos.global_step + 1} (epoch {pos.epoch}); {what}. Try a "
                           "lower --lr or check the data's intensities")


# ---- progress --------------------------------------------------------------------------
def _progress(config: TrainConfig, run: RunDir, total: int, epoch: int) -> Any:
    if not (config.progress and run.writer):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                leave=False, dynamic_ncols=True)


__all__ = ["fit", "TrainConfig", "Position", "FitResult", "TrainingStopped",
           "checkpoint_state"]
