"""Deterministic batches: which items, with which per-item random seed, on which rank.

The training stream is a pure function of (seed, epoch, step): the item order is a
seeded permutation per epoch and every item carries its own seed for patch sampling and
augmentation. So
  * resuming at (epoch, step) replays exactly what an uninterrupted run would see, in
    any number of DataLoader workers (no RNG state lives in a worker), and
  * DDP rank r of W takes its slice of the same global batch that one process would
    take whole: W processes and one process see the same samples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

ItemKey = tuple[int, int]          # (dataset index, item seed)


class SeededItems(Protocol):
    """What the training stream needs from a dataset: an item for (index, seed)."""

    def __len__(self) -> int: ...

    def item(self, index: int, seed: int) -> dict[str, Any]: ...


def item_seed(seed: int, epoch: int, position: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{epoch}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


@dataclass(frozen=True)
class BatchPlan:
    items: int            # dataset length
    global_batch: int
    steps: int            # steps per epoch
    seed: int
    world: int = 1
    rank: int = 0

    def __post_init__(self) -> None:
        if self.items <= 0:
            raise ValueError("the training set is empty")
        if self.global_batch % self.world:
            raise ValueError(f"the global batch ({self.global_batch}) must be divisible by "
                             f"the number of processes ({self.world})")

    @property
    def local_batch(self) -> int:
        return self.global_batch // self.world

    def order(self, epoch: int) -> np.ndarray:
        """Item indices of one epoch: seeded permutations, repeated as needed."""
        need = self.steps * self.global_batch
        g = torch.Generator().manual_seed(item_seed(self.seed, epoch, -1))
        reps = -(-need // self.items)
        perms = [torch.randperm(self.items, generator=g) for _ in range(reps)]
        return torch.cat(perms)[:need].numpy()

    def batch(self, epoch: int, step: int, order: np.ndarray | None = None) -> list[ItemKey]:
        """This rank's keys of global batch `step` of `epoch`."""
        order = self.order(epoch) if order is None else order
        lo = step * self.global_batch + self.rank * self.local_batch
        return [(int(order[p]), item_seed(self.seed, epoch, p))
                for p in range(lo, lo + self.local_batch)]


class EpochSampler(Sampler[list[ItemKey]]):
    """Batch sampler over one epoch from `start` (a resumed run's position)."""

    def __init__(self, plan: BatchPlan, epoch: int, start: int = 0):
        self.plan, self.epoch, self.start = plan, epoch, start
        self._order = plan.order(epoch)

    def __len__(self) -> int:
        return max(0, self.plan.steps - self.start)

    def __iter__(self) -> Iterator[list[ItemKey]]:
        for step in range(self.start, self.plan.steps):
            yield self.plan.batch(self.epoch, step, self._order)


class KeyedDataset(Dataset):
    """Adapts a dataset to (index, seed) keys.

    A dataset with `item(index, seed)` is called with the seed. A plain map-style
    dataset (tensors in memory, no randomness) is indexed and the seed ignored."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: ItemKey) -> dict[str, Any]:
        index, seed = key
        if hasattr(self.dataset, "item"):
            return self.dataset.item(index, seed)
        return self.dataset[index]


def loader(dataset: Any, plan: BatchPlan, epoch: int, start: int = 0,
           workers: int = 0, pin_memory: bool = False,
           generator: torch.Generator | None = None) -> torch.utils.data.DataLoader:
    # NOTE: a generator of its own, so that making a loader (it draws a base seed)
    # never advances the global RNG that the model's dropout etc. use
    return torch.utils.data.DataLoader(
        KeyedDataset(dataset), batch_sampler=EpochSampler(plan, epoch, start),
        num_workers=workers, pin_memory=pin_memory, generator=generator,
        persistent_workers=False, multiprocessing_context="fork" if workers else None)


class BatchSource(Protocol):
    """What `fit` draws training batches from: this rank's share of the global batches
    of `epoch`, from global batch `start` on (a resumed run's position)."""

    def loader(self, epoch: int, start: int) -> Iterable[dict[str, Any]]: ...


class PlannedBatches:
    """A BatchSource over an in-memory or `item(index, seed)` dataset (BatchPlan order)."""

    def __init__(self, dataset: Any, global_batch: int, steps: int, seed: int,
                 workers: int = 0, world: int = 1, rank: int = 0):
        self.dataset = dataset
        self.plan = BatchPlan(len(dataset), global_batch, steps, seed, world, rank)
        self.workers = workers

    def loader(self, epoch: int, start: int) -> Iterable[dict[str, Any]]:
        gen = torch.Generator().manual_seed(item_seed(self.plan.seed, epoch, -2))
        return loader(self.dataset, self.plan, epoch, start, self.workers,
                      pin_memory=torch.cuda.is_available(), generator=gen)


def shard(items: Sequence[Any], world: int, rank: int) -> list[Any]:
    """Rank r's share of validation cases (r, r + W, ...)."""
    return list(items)[rank::world]


__all__ = ["BatchSource", "PlannedBatches", "BatchPlan", "EpochSampler", "KeyedDataset",
           "SeededItems", "item_seed", "loader", "shard"]
