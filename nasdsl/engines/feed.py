"""Data for a search: the data module's index, plan and split, giving training batches
(a pure function of seed, epoch and step: resumable, sharded over DDP ranks) and
validation batches for the architecture phase (patches of the validation cases, also a
pure function of seed, epoch and step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import torch

from nasdsl.data import (DataError, DataModule, check_channels, check_classes, fingerprint,
                         load_dataset, make_plan)


class Feed:
    def __init__(self, data_dir: str | Path, dims: int, patch: tuple[int, ...],
                 in_channels: int, classes: int, seed: int, val_fraction: float,
                 batch_size: int, steps_per_epoch: int, world: int = 1, rank: int = 0):
        index = load_dataset(data_dir)
        check_channels(index, in_channels)
        check_classes(index, classes)
        plan = make_plan(index, fingerprint(index), dims=dims, patch_size=list(patch))
        self.split = fraction_split(index, seed, val_fraction)
        if steps_per_epoch <= 0:
            steps_per_epoch = max(1, len(self.split["train"]) // (batch_size * world))
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.world, self.rank = world, rank
        common = dict(seed=seed, batch_size=batch_size, batches_per_epoch=steps_per_epoch,
                      augment=False)
        self.train = DataModule(index, plan, self.split, **common)
        self.val = DataModule(index, plan, {**self.split, "train": self.split["val"]},
                              **{**common, "seed": seed + 7919})

    def train_batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Any]]:
        return iter(self.train.train_loader(epoch, start_batch=start, rank=self.rank,
                                            world_size=self.world))

    def val_batch(self, epoch: int, step: int) -> dict[str, torch.Tensor]:
        """Validation patch batch number `step` of `epoch` (this rank's share)."""
        ds = self.val.train_dataset()
        ds.set_epoch(epoch)
        n = len(ds)
        base = (step * self.world + self.rank) * self.batch_size
        items = [ds[(base + i) % n] for i in range(self.batch_size)]
        return {"image": torch.stack([torch.as_tensor(it["image"]) for it in items]),
                "label": torch.stack([torch.as_tensor(it["label"]) for it in items])}

    def val_cases(self) -> list[Any]:
        """This rank's share of the whole preprocessed validation cases."""
        return self.train.val_cases()[self.rank::self.world]

    def describe(self) -> dict[str, Any]:
        return {"train": list(self.split["train"]), "val": list(self.split["val"]),
                "seed": self.split.get("seed"), "val_fraction": self.split["val_fraction"]}

    def describe_split(self) -> str:
        n_val, n = len(self.split["val"]), len(self.split["train"]) + len(self.split["val"])
        return (f"{n_val} of {n} cases, {n_val / n:.3f} for val_fraction "
                f"{self.split['val_fraction']}")


def fraction_split(index, seed: int, fraction: float) -> dict[str, Any]:
    """The cases split under `seed` with round(fraction * n) of them for validation (the
    nearest whole count, reported; k-fold rounding made 0.4 a half)."""
    import numpy as np

    ids = sorted(c.id for c in index.cases)
    n = len(ids)
    if n < 2:
        raise DataError(index.root, f"{n} case(s): a search needs at least 2 (train and "
                                    "validation)")
    n_val = min(n - 1, max(1, round(fraction * n)))
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(set(ids) - set(val))
    return {"train": train, "val": val, "seed": seed, "val_fraction": fraction}
