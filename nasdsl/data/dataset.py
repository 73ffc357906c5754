"""The torch side: a patch Dataset whose sample i depends only on (seed, epoch, i), so
training is reproducible, resumable mid-epoch (skip the batches done) and shards over DDP
ranks without changing what a global batch holds; and a DataModule tying index, plan,
split, preprocessing and loaders together for `train` and the search engines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from nasdsl.data.augment import AugmentConfig, apply_augment, build_augment
from nasdsl.data.index import DatasetIndex, load_case
from nasdsl.data.preprocess import Plan, Preprocessed, Preprocessor
from nasdsl.data.sampling import class_locations, sample_patch


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


class PatchDataset(Dataset):
    """`samples_per_epoch` random patches over `cases`; call set_epoch(e) before each epoch.
    Items: {"image": float32 C x patch, "label": int64 1 x patch, "case": id}."""

    def __init__(self, cases: Sequence[Preprocessed], plan: Plan, samples_per_epoch: int,
                 seed: int = 0, augment: bool = True,
                 augment_config: AugmentConfig = AugmentConfig()) -> None:
        if not cases:
            raise ValueError("PatchDataset needs at least one case")
        self.cases = list(cases)
        self.plan = plan
        self.samples_per_epoch = samples_per_epoch
        self.seed = seed
        self.epoch = 0
        self.patch = tuple(plan.patch_size)
        self.locations = [class_locations(c.label, plan.num_classes, _stable_int(c.id) ^ seed)
                          for c in self.cases]
        spacing = plan.target_spacing or []
        aniso = len(spacing) == 3 and max(spacing) > 3 * min(spacing)
        self.augment = build_augment(plan.dims, augment_config, aniso) if augment else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        k = int(rng.integers(len(self.cases)))
        case = self.cases[k]
        assert case.label is not None
        force_fg = bool(rng.random() < self.plan.oversample_foreground)
        image, label = sample_patch(case.image, case.label, self.locations[k], self.patch,
                                    rng, force_fg, self.plan.slices2d)
        if self.augment is not None:
            img_t, lab_t = apply_augment(self.augment, image, label, int(rng.integers(2 ** 32)))
        else:
            img_t, lab_t = torch.from_numpy(image).float(), torch.from_numpy(label).long()
        return {"image": img_t, "label": lab_t, "case": case.id}


class ShardSampler(Sampler[int]):
    """Indices of this rank's part of each global batch, from batch `start_batch` on:
    global batch b holds items b*G .. b*G+G-1 (G = batch_size * world_size), rank r the
    r-th slice of it, so W ranks see exactly what one process with batch G sees."""

    def __init__(self, length: int, batch_size: int, rank: int = 0, world_size: int = 1,
                 start_batch: int = 0) -> None:
        self.length, self.bs, self.rank, self.world = length, batch_size, rank, world_size
        self.start = start_batch

    def __iter__(self) -> Iterator[int]:
        g = self.bs * self.world
        for b in range(self.start, self.length // g):
            base = b * g + self.rank * self.bs
            yield from range(base, base + self.bs)

    def __len__(self) -> int:
        return max(0, self.length // (self.bs * self.world) - self.start) * self.bs


class DataModule:
    """Index + plan + split -> preprocessed cases, training loaders, validation volumes.

    batches_per_epoch counts global batches (nnU-Net: 250). Preprocessed cases are kept in
    memory and, with cache_dir, saved as .npz keyed by the plan and the source files.
    """

    def __init__(self, index: DatasetIndex, plan: Plan, split: dict[str, Any], *,
                 seed: int = 0, batch_size: int = 2, batches_per_epoch: int = 250,
                 augment: bool = True, augment_config: AugmentConfig = AugmentConfig(),
                 num_workers: int = 0, cache_dir: str | Path | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> None:
        self.index, self.plan, self.split = index, plan, split
        self.seed, self.batch_size = seed, batch_size
        self.batches_per_epoch = batches_per_epoch
        self.augment, self.augment_config = augment, augment_config
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.progress = progress
        self.preprocessor = Preprocessor(plan)
        self._cases: dict[str, Preprocessed] = {}
        self._train: PatchDataset | None = None

    def preprocessed(self, ids: Sequence[str]) -> list[Preprocessed]:
        out = []
        for n, case_id in enumerate(ids):
            if case_id not in self._cases:
                self._cases[case_id] = self._load(case_id)
            out.append(self._cases[case_id])
            if self.progress:
                self.progress("preprocess", n + 1, len(ids))
        return out

    def _load(self, case_id: str) -> Preprocessed:
        case = self.index.case(case_id)
        cached = self._cache_path(case_id)
        # a cache file that is a link (a run directory from elsewhere) is not followed
        if cached is not None and cached.is_file() and not cached.is_symlink():
            with np.load(cached, allow_pickle=False) as z:
                props = json.loads(str(z["props"]))
                label = z["label"] if z["label"].size else None
                return Preprocessed(case_id, z["image"], label, props)
        pre = self.preprocessor(load_case(self.index, case), case.images[0])
        if cached is not None:
            self._save(cached, pre)
        return pre

    def _cache_path(self, case_id: str) -> Path | None:
        if self.cache_dir is None:
            return None
        case = self.index.case(case_id)
        files = [case.images, (case.label,) if case.label else ()]
        stamp = [(str(p), p.stat().st_mtime_ns) for group in files for p in group]
        key = json.dumps([self.plan.to_dict(), stamp], sort_keys=True, default=str)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.cache_dir / f"{case_id}.{digest}.npz"

    @staticmethod
    def _save(path: Path, pre: Preprocessed) -> None:
        import os
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            label = pre.label if pre.label is not None else np.zeros(0, np.int64)
            np.savez(f, image=pre.image, label=label, props=json.dumps(pre.props))
        os.replace(tmp, path)

    def train_dataset(self) -> PatchDataset:
        if self._train is None:
            n = self.batches_per_epoch * self.batch_size   # train_loader resizes per world
            self._train = PatchDataset(self.preprocessed(self.split["train"]), self.plan, n,
                                       self.seed, self.augment, self.augment_config)
        return self._train

    def train_loader(self, epoch: int, *, start_batch: int = 0, rank: int = 0,
                     world_size: int = 1) -> DataLoader:
        """Batches of epoch `epoch` from global batch `start_batch` on (resume), this rank's
        share (batch_size per rank; a global batch = batch_size * world_size samples)."""
        ds = self.train_dataset()
        ds.samples_per_epoch = self.batches_per_epoch * self.batch_size * world_size
        ds.set_epoch(epoch)
        sampler = ShardSampler(len(ds), self.batch_size, rank, world_size, start_batch)
        return DataLoader(ds, batch_size=self.batch_size, sampler=sampler,
                          num_workers=self.num_workers, drop_last=True,
                          persistent_workers=False, pin_memory=torch.cuda.is_available())

    def val_cases(self) -> list[Preprocessed]:
        """Whole preprocessed validation volumes (for sliding-window validation)."""
        return self.preprocessed(self.split["val"])
