"""`nasdsl train` as a function: spec + dataset + options -> a finished run directory.

Everything a resumed run needs is written on the first start: the request to the
manifest, the network to RUN/network.json (nasdsl.artifact). `--resume` rebuilds both
from there, so a resumed run cannot silently differ: it continues the network it started
with even when the spec file was edited or removed since (the run's copy is the truth).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from nasdsl.api import UsageError
from nasdsl.runs import CACHE, RunDir, load_checkpoint
from nasdsl.train import distributed as dist
from nasdsl.train.batches import BatchSource
from nasdsl.train.loop import FitResult, TrainConfig, fit
from nasdsl.train.loss import SegLoss
from nasdsl.train.model import GenotypeNet, NetInfo, net_info
from nasdsl.artifact import NetworkArtifact, write_artifact
from nasdsl.train.spec_ref import artifact_of_spec, network_record, run_artifact, spec_record
from nasdsl.train.step import Precision
from nasdsl.train.validate import InferShape


@dataclass
class TrainRequest:
    spec: str
    data: str
    out: str
    defines: list[str] = field(default_factory=list)
    config: TrainConfig = field(default_factory=TrainConfig)
    patch: list[int] | None = None       # None: the dataset's suggestion
    dims: int | None = None              # None: the spec's dims
    fold: int = 0
    folds: int = 5
    augment: bool = True
    mode: str = "sliding"                # validation/inference: sliding | whole
    overlap: float = 0.5
    precision: str = "auto"
    device: str | None = None
    init_from: str | None = None
    cache: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["config"] = self.config.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainRequest:
        # keys of a newer or older nasdsl are left out (the manifest schema checked the
        # ones this version reads)
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        config_keys = {f.name for f in fields(TrainConfig)}
        d["config"] = TrainConfig(**{k: v for k, v in d["config"].items() if k in config_keys})
        return cls(**d)


@dataclass
class Prepared:
    request: TrainRequest
    artifact: NetworkArtifact
    compiled: Any
    info: NetInfo
    shape: InferShape
    plan: Any
    split: dict[str, Any]
    batches: BatchSource
    val_cases: list[Any]


def train(request: TrainRequest, resume: bool = False) -> FitResult:
    info, device = dist.setup(request.device)
    try:
        RunDir(request.out).check_layout()   # no linked cache/, checkpoints/, metrics
        artifact = None
        if resume:
            run = RunDir.create(request.out, {}, resume=True, writer=info.is_main)
            request, artifact = _resumed(run, request)
        elif info.is_main and RunDir(request.out).manifest_path.exists():
            RunDir.create(request.out, {})  # raises: the folder already holds a run
        prepared = prepare(request, info.world, info.rank, device, artifact)
        init = None
        if request.init_from and not resume:
            # checked before the run folder is made: a bad --init-from must not leave a
            # run directory that blocks the corrected command
            init = _init_state(request.init_from)
            _check_init(init, GenotypeNet(prepared.compiled), request.init_from)
        if not resume:
            if info.is_main:   # the network first: a manifest always finds its network
                write_artifact(request.out, prepared.artifact)
            run = (RunDir.create(request.out, manifest(prepared)) if info.is_main
                   else RunDir(request.out, writer=False))
        precision = Precision.for_device(device, request.precision)
        return fit(lambda: GenotypeNet(prepared.compiled),
                   SegLoss(prepared.info.classes, prepared.info.main_output),
                   prepared.batches, prepared.val_cases, request.config, run, precision,
                   prepared.shape, resume=resume, init_state=init)
    finally:
        dist.teardown()


def _resumed(run: RunDir, given: TrainRequest) -> tuple[TrainRequest, NetworkArtifact]:
    """The recorded request and network (never the spec path again). A run from before
    network.json gets one now, from its still-unchanged spec (spec_ref.legacy_artifact)."""
    recorded_manifest = run.manifest()   # schema-checked: `request` fits TrainRequest
    recorded = TrainRequest.from_dict(recorded_manifest["request"])
    artifact = run_artifact(run, recorded_manifest)
    if "network" not in recorded_manifest and run.writer:
        write_artifact(run.path, artifact)
        run.update_manifest(network=network_record(artifact))
    return replace(recorded, out=given.out), artifact


def prepare(request: TrainRequest, world: int = 1, rank: int = 0,
            device: Any = None, artifact: NetworkArtifact | None = None) -> Prepared:
    """Compile the spec (or take a resumed run's network), index and check the data,
    plan, split, and the data module. The network's memory estimate is compared with the
    device's free memory as soon as the patch is known (before the data is scanned when
    --patch is given)."""
    from nasdsl import data as D

    if artifact is None:
        artifact = artifact_of_spec(request.spec, request.defines)
    compiled = artifact.compiled()
    info = net_info(compiled)
    index = D.load_dataset(request.data)
    D.check_channels(index, info.in_channels, request.spec)
    D.check_classes(index, info.classes, request.spec)
    if request.config.batch_size % world:
        raise UsageError(f"--batch {request.config.batch_size} is not divisible by the "
                         f"{world} processes")
    dims = request.dims or info.dims
    if dims != info.dims:
        raise UsageError(f"{request.spec} builds a {info.dims}D network; pass -D dims={dims}")
    fits = _memory_check(request, compiled, world, device)
    if request.patch is not None:
        fits(_patch(request, {}, info))
    fp = D.fingerprint(index)
    plan = D.make_plan(index, fp, dims=dims, patch_size=_patch(request, fp, info))
    if request.patch is None:
        fits(plan.patch_size)
    split = D.make_split(index, request.config.seed, request.folds, request.fold)
    dm = D.DataModule(index, plan, split, seed=request.config.seed,
                      batch_size=request.config.batch_size // world,
                      batches_per_epoch=request.config.steps_per_epoch,
                      augment=request.augment, num_workers=request.config.workers,
                      cache_dir=RunDir(request.out).subdir(CACHE) if request.cache else None)
    shape = InferShape(dims, info.classes, tuple(plan.patch_size), info.stride_multiple,
                       request.mode, request.overlap, info.main_output)
    return Prepared(request, artifact, compiled, info, shape, plan, split,
                    ModuleBatches(dm, world, rank), dm.val_cases())


def _memory_check(request: TrainRequest, compiled: Any, world: int, device: Any):
    from nasdsl.train.memcheck import check_fits

    batch = max(request.config.batch_size // world, 1)
    where = device if device is not None else (request.device or "cpu")
    return lambda patch: check_fits(compiled.graph, patch, batch, where, request.spec)


def _patch(request: TrainRequest, fp: dict[str, Any], info: NetInfo) -> list[int]:
    """The requested (or suggested) patch, rounded up to the network's stride multiple."""
    from nasdsl.train.sliding import fit_window

    patch = request.patch
    if patch is None:
        patch = list(fp["suggested_patch_size"])[: info.dims]
    if len(patch) != info.dims:
        raise UsageError(f"--patch has {len(patch)} axes, the network is {info.dims}D")
    return list(fit_window(patch, info.stride_multiple))


class ModuleBatches:
    """The data module's loaders as a BatchSource (this rank's share of each batch)."""

    def __init__(self, dm: Any, world: int, rank: int):
        self.dm, self.world, self.rank = dm, world, rank

    def loader(self, epoch: int, start: int):
        return self.dm.train_loader(epoch, start_batch=start, rank=self.rank,
                                    world_size=self.world)


def manifest(p: Prepared) -> dict[str, Any]:
    r = p.request
    return {"run_id": uuid.uuid4().hex[:12], "kind": "train", "seed": r.config.seed,
            "request": r.to_dict(), "spec": spec_record(r.spec, r.defines, p.artifact),
            "network": network_record(p.artifact),
            "data": {"root": str(Path(r.data).resolve())}, "plan": p.plan.to_dict(),
            "split": p.split, "world_size": dist.from_env().world,
            "threads": torch.get_num_threads(),
            "infer": {**asdict(p.shape), "in_channels": p.info.in_channels,
                      "window": list(p.shape.window), "multiple": list(p.shape.multiple)}}


def _init_state(source: str) -> dict[str, torch.Tensor]:
    """--init-from: a state dict file, a checkpoint, or a run directory (its best)."""
    path = Path(source)
    if path.is_dir():
        run = RunDir(path)
        name = "best" if run.has_checkpoint("best") else "last"
        path = run.checkpoint_path(name)
    state = load_checkpoint(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise UsageError(f"{path}: not a state dict of tensors")
    return state


def _check_init(state: dict[str, torch.Tensor], model: torch.nn.Module, source: str) -> None:
    """The state must fit the network exactly (strict load), else a clear usage error."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = [f"{len(missing)} missing (e.g. `{missing[0]}`)" if missing else "",
                f"{len(extra)} unexpected (e.g. `{extra[0]}`)" if extra else "",
                f"{len(shapes)} of another shape (e.g. `{shapes[0]}`)" if shapes else ""]
    problems = [p for p in problems if p]
    if problems:
        raise UsageError(f"{source}: these weights do not fit the network: "
                         + "; ".join(problems) + " (a supernet checkpoint must be "
                         "restricted to the genotype first: restrict_state_dict)")


__all__ = ["TrainRequest", "train", "prepare", "manifest", "ModuleBatches"]
