"""`nasdsl search`: one engine over one space and one dataset, in a run directory.

Epochs of engine steps, then the engine's end-of-epoch phase (controller / candidate
scoring) and a derivation logged with its entropy and parameter count. Checkpoints
(atomic, every `checkpoint_every` steps and at each epoch end) hold the engine, the RNG
states and the position; `--resume` restarts from the newest and, since every random
draw is a function of (seed, epoch, step), ends where the uninterrupted run ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from nasdsl.engines.archparams import assignment_labels
from nasdsl.engines.gradient import DartsEngine, PcDartsEngine
from nasdsl.engines.proxyless import ProxylessEngine
from nasdsl.engines.sampling import EnasEngine, RandomEngine, largest_child
from nasdsl.diagnostics import NasError
from nasdsl.space import SearchSpace
from nasdsl.enginespec import ENGINES, Resolved, resolve, settings_lines, values
from nasdsl.enginespec.diagnose import engine_diagnostics
from nasdsl.errors import UnknownEngine, UsageError
from nasdsl.artifact import NetworkArtifact, network_record, read_artifact, write_artifact
from nasdsl.runs import RunDir, RunError, rng_state, seed_everything, set_rng_state
from nasdsl.sema.values import show
from nasdsl.train import distributed as dist
from nasdsl.train.step import Precision

ENGINE_CLASSES = {"darts": DartsEngine, "pc_darts": PcDartsEngine,
                  "proxyless": ProxylessEngine, "enas": EnasEngine, "random": RandomEngine}
FORMAT = 1


class SearchError(UsageError):
    """A search that cannot run as asked (engine/space mismatch, bad run directory)."""


@dataclass
class SearchOptions:
    spec: str
    data: str
    out: str
    engine: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    checkpoint_every: int = 0
    device: str | None = None
    progress: bool = True
    log: Callable[[str], None] | None = None   # the resolved settings are printed here
    time_budget: float | None = None   # wall seconds: stop after the epoch that spends them


def pick_engine(space: SearchSpace, requested: str | None,
                overrides: dict[str, Any] | None = None) -> tuple[str, dict[str, Resolved]]:
    """The engine to run and its resolved settings (its own defaults <- its spec block <-
    --set). Whatever the engine cannot search or build, and any setting that cannot take
    effect, stops here as diagnostics (exit 1, as `nasdsl check --engine`)."""
    name = requested or space.compiled.engine
    if name is None:
        raise SearchError(f"{space.path}: the spec has no `search` block; pass --engine")
    if name not in ENGINES:
        raise UnknownEngine(f"unknown engine `{name}` (engines: {', '.join(ENGINES)})")
    _check_cli_settings(name, overrides or {})
    resolved, problems = engine_diagnostics(space.compiled, name, overrides)
    if problems:
        raise NasError(problems)
    return name, resolved


def search(opts: SearchOptions) -> dict[str, Any]:
    from nasdsl.engines.outputs import write_outputs

    info, device = dist.setup(opts.device)
    space = _space(opts)
    name, resolved = pick_engine(space, opts.engine, opts.settings)
    settings = values(resolved)
    seed_everything(int(settings["seed"]))
    precision = Precision.for_device(device)
    graph = space.graph
    classes = graph.node(graph.outputs[0][1]).type.channels
    patch = _patch(space)
    _memory_check(space, patch, int(settings["batch_size"]) // info.world, device, opts.spec)
    feed = make_feed(space, settings, opts.data, info.world, info.rank)
    if opts.log is not None and info.is_main:
        opts.log("\n".join(settings_lines(name, resolved)
                           + [f"  (validation split: {feed.describe_split()})"]))
    manifest = {"engine": name, "settings": settings, "seed": settings["seed"],
                "setting_origins": {k: r.origin for k, r in resolved.items()},
                "spec": str(Path(opts.spec).resolve()), "spec_hash": space.spec_hash(),
                "overrides": {k: show(v) for k, v in opts.overrides.items()},
                "decision_table": space.fingerprint(), "data": str(Path(opts.data).resolve()),
                "split": feed.describe(), "world": info.world,
                "threads": torch.get_num_threads(),
                "network": network_record(space.artifact)}
    if info.is_main and not opts.resume:  # the network first: a manifest finds its network
        RunDir(opts.out).check_layout()
        if not RunDir(opts.out).manifest_path.exists():   # else _open_run refuses the folder
            write_artifact(opts.out, space.artifact)
    run = _open_run(opts, manifest, info.is_main, space.artifact)
    engine = ENGINE_CLASSES[name](space, settings, precision, classes)
    if hasattr(engine, "attach_validation"):
        engine.attach_validation(feed.val_cases)
    per_epoch = feed.steps_per_epoch * getattr(engine, "steps_multiplier", lambda: 1)()
    epochs = int(settings["epochs"])
    engine.setup(epochs * per_epoch)
    epoch, start, patience, clock = _restore(run, engine, space, opts.resume)
    if epoch == 0 and start == 0:  # the entropy before any step: how far the search moved
        run.log({"event": "start", "entropy": engine.entropy(), "epochs": epochs,
                 "steps_per_epoch": per_epoch})
    while epoch < epochs:
        _epoch_steps(engine, feed, run, epoch, start, per_epoch, opts, patience, clock)
        record = engine.end_epoch(epoch, feed.val_batch)
        derived = engine.derive()
        patience = _log_epoch(run, engine, space, epoch, record, derived, patience)
        if epoch < int(settings.get("warmup_epochs", 0)):
            patience["same"] = 0    # counted after the warm-up (alpha frozen before it)
        epoch, start = epoch + 1, 0
        _save(run, engine, space, epoch, 0, patience, clock)
        limit = int(settings.get("patience", 0) or 0)
        if limit and patience["same"] >= limit:
            run.log({"event": "early_stop", "epoch": epoch})
            break
        if opts.time_budget is not None and \
                dist.any_true(clock.seconds() >= opts.time_budget):
            run.log({"event": "time_budget", "epoch": epoch, "seconds": opts.time_budget})
            break
    if info.is_main:
        result = write_outputs(run, engine, space, name, opts)
    else:   # the other ranks derive too: the DDP test compares them
        result = {"genotype": None, "genotype_hash": space.child(engine.derive()).genotype_hash(),
                  "params": None}
    result["rank"] = info.rank
    result["digest"] = state_digest(engine.state_dict())
    dist.barrier()
    return result


def make_feed(space: SearchSpace, settings: dict[str, Any], data: str, world: int = 1,
              rank: int = 0):
    """The search's data: training batches, validation batches and cases."""
    from nasdsl.engines.feed import Feed

    graph = space.graph
    classes = graph.node(graph.outputs[0][1]).type.channels
    in_channels = graph.node(graph.inputs[0]).type.channels
    return Feed(data, graph.dims, _patch(space), in_channels, classes, int(settings["seed"]),
                float(settings["val_fraction"]), int(settings["batch_size"]) // world,
                int(settings["steps_per_epoch"]), world, rank)


# norm statistics are per rank (as with DDP without SyncBatchNorm); weights are not
_RANK_LOCAL = ("running_mean", "running_var", "num_batches_tracked", "buffers")


def _check_cli_settings(engine: str, given: dict[str, Any]) -> None:
    """`--set` is checked like a `search` block: unknown names and bad values stop."""
    from nasdsl.enginespec import check_block

    problems = check_block(engine, given)
    if problems:
        raise SearchError("; ".join(f"--set: {p.message}" + (f" ({p.hint})" if p.hint else "")
                                    for p in problems))


def state_digest(state: Any) -> str:
    """Hash of every tensor and value of an engine state: equal on all DDP ranks."""
    import hashlib

    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            h.update(x.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                if any(b in str(k) for b in _RANK_LOCAL):
                    continue
                h.update(str(k).encode())
                walk(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        else:
            h.update(repr(x).encode())
    walk(state)
    return h.hexdigest()[:16]


def _memory_check(space: SearchSpace, patch: tuple[int, ...], batch: int, device: Any,
                  spec: str) -> None:
    """The largest child's training memory (a lower bound for a relaxed supernet, which
    holds every candidate) against the device's free memory, before any data is read."""
    from nasdsl.diagnostics import NasError
    from nasdsl.train.memcheck import check_fits

    try:
        big = space.child(largest_child(space))
    except NasError:
        return          # no buildable largest child: the search itself will say why
    check_fits(big.graph, patch, max(batch, 1), device, spec, lower_bound=space.relaxable())


def _patch(space: SearchSpace) -> tuple[int, ...]:
    """The training patch: the spec's input size, or the largest child's (RONASMIS
    searches the patch size; each child crops the batch to its own)."""
    if space.relaxable():
        return tuple(space.compiled.input_size)
    return tuple(space.child(largest_child(space)).input_size)


def _space(opts: SearchOptions) -> SearchSpace:
    """The space a new search compiles from the user's spec, or the one a resumed run
    recorded (RUN/network.json: the spec file is not read again, even if it changed);
    -D values given to a resume must be the recorded ones."""
    run = RunDir(opts.out, writer=False)
    if opts.resume and run.manifest_path.exists():
        manifest = run.manifest()
        if "network" in manifest:
            artifact = read_artifact(run.path, manifest["network"]["fingerprint"])
            recorded = dict(artifact.overrides)
            differ = sorted(k for k, v in opts.overrides.items()
                            if k not in recorded or recorded[k] != v)
            if differ:
                raise RunError(f"{opts.out}: cannot resume with -D {', '.join(differ)}: "
                               "the run searches its space with the values it started "
                               "with (" + (", ".join(f"{k}={show(v)}" for k, v in
                                                     sorted(recorded.items())) or "none")
                               + ")")
            return SearchSpace.from_artifact(artifact)
    return SearchSpace.load(opts.spec, opts.overrides)


def _open_run(opts: SearchOptions, manifest: dict[str, Any], writer: bool,
              artifact: NetworkArtifact) -> RunDir:
    # only rank 0 creates (and checks) the folder; the others follow once it exists
    run = (RunDir.create(opts.out, manifest, resume=opts.resume, writer=True) if writer
           else RunDir(opts.out, writer=False))
    dist.barrier()
    if opts.resume:
        old = run.manifest()
        for key in ("engine", "spec_hash", "decision_table", "seed"):
            if old.get(key) != manifest.get(key):
                raise RunError(f"{opts.out}: cannot resume: its {key} is {old.get(key)!r}, "
                               f"this command's is {manifest.get(key)!r}")
        if "network" not in old and writer:   # a run from before network.json gets one
            write_artifact(run.path, artifact)
            run.update_manifest(network=manifest["network"])
    return run


class SearchClock:
    """Seconds the search has run, across resumes: a checkpoint keeps what was spent, so
    a time budget counts the whole search, not only the part after the last restart."""

    def __init__(self, spent: float = 0.0):
        self.spent, self.began = spent, time.monotonic()

    def seconds(self) -> float:
        return self.spent + time.monotonic() - self.began


def _restore(run: RunDir, engine, space: SearchSpace, resume: bool):
    patience = {"same": 0, "last": None}
    if not resume or not run.has_checkpoint():
        return 0, 0, patience, SearchClock()
    state = run.load()
    if state.get("fingerprint") != space.fingerprint():
        raise RunError(f"{run.path}: checkpoint belongs to another decision table")
    engine.load_state_dict(state["engine"])
    set_rng_state(state["rng"])
    pos = state["position"]
    spent = pos.get("seconds", 0.0)   # checkpoints from before the clock: 0
    spent = float(spent) if isinstance(spent, (int, float)) and spent >= 0 else 0.0
    run.log({"event": "resume", "epoch": pos["epoch"], "step": pos["step"],
             "seconds": round(spent, 3)})
    return int(pos["epoch"]), int(pos["step"]), dict(state["patience"]), SearchClock(spent)


def _save(run: RunDir, engine, space: SearchSpace, epoch: int, step: int,
          patience: dict[str, Any], clock: SearchClock) -> None:
    run.save({"format": FORMAT, "engine": engine.state_dict(), "rng": rng_state(),
              "position": {"epoch": epoch, "step": step, "seconds": clock.seconds()},
              "fingerprint": space.fingerprint(), "patience": patience})


def _epoch_steps(engine, feed, run: RunDir, epoch: int, start: int, per_epoch: int,
                 opts: SearchOptions, patience: dict[str, Any], clock: SearchClock) -> None:
    from tqdm import tqdm

    spe = feed.steps_per_epoch
    bar = tqdm(total=per_epoch, initial=start, desc=f"{engine.name} epoch {epoch + 1}",
               disable=not (opts.progress and run.writer), leave=False)
    step = start
    while step < per_epoch:
        pass_index, inner = divmod(step, spe)
        for batch in feed.train_batches(epoch * (per_epoch // spe) + pass_index, inner):
            metrics = engine.step(batch, feed.val_batch, epoch, step)
            step += 1
            run.log({"epoch": epoch, "step": step, **metrics})
            bar.update(1)
            bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.4f}")
            if opts.checkpoint_every and step % opts.checkpoint_every == 0 and step < per_epoch:
                _save(run, engine, engine.space, epoch, step, patience, clock)
            if step % spe == 0 or step >= per_epoch:
                break
    bar.close()


def _log_epoch(run: RunDir, engine, space: SearchSpace, epoch: int, record: dict[str, Any],
               derived: dict[str, Any], patience: dict[str, Any]) -> dict[str, Any]:
    key = repr(sorted(assignment_labels(derived).items()))
    same = patience["same"] + 1 if key == patience["last"] else 0
    patience = {"same": same, "last": key}
    try:
        params = space.cost(derived)
    except Exception:  # noqa: BLE001 - an illegal derivation is logged, not fatal
        params = None
    run.log({"event": "epoch", "epoch": epoch, "entropy": engine.entropy(),
             "genotype": assignment_labels(derived), "params": params, **record})
    return patience


def load_engine_from_run(run_dir: str | Path, device: str = "cpu", restore: bool = True,
                         checkpoint: str = "last"):
    """(space, engine, manifest, run) rebuilt from a run's manifest and its last
    checkpoint (restore=False: the engine as initialised, before any step)."""
    run = RunDir(run_dir, writer=False)
    manifest = run.manifest()
    if "network" in manifest:   # the space the run searched, whatever its file says now
        space = SearchSpace.from_artifact(
            read_artifact(run.path, manifest["network"]["fingerprint"]))
    else:   # a run from before network.json: its spec file, if unchanged
        overrides = _overrides_back(manifest.get("overrides", {}))
        space = SearchSpace.load(manifest["spec"], overrides)
    if space.fingerprint() != manifest["decision_table"]:
        raise RunError(f"{run_dir}: the spec changed since the search (decision table "
                       "fingerprint differs)")
    precision = Precision.for_device(torch.device(device))
    graph = space.graph
    classes = graph.node(graph.outputs[0][1]).type.channels
    seed_everything(int(manifest["settings"]["seed"]))
    # a run recorded before a setting existed gets that setting's default
    settings = {**values(resolve(manifest["engine"], {})), **manifest["settings"]}
    engine = ENGINE_CLASSES[manifest["engine"]](space, settings, precision, classes)
    if restore:
        state = run.load(checkpoint)
        if "engine" not in state:
            raise RunError(f"{run.checkpoint_path(checkpoint)}: not a search checkpoint")
        engine.load_state_dict(state["engine"])
    return space, engine, manifest, run


def _overrides_back(raw: dict[str, str]) -> dict[str, Any]:
    from nasdsl.api import parse_override

    return dict(parse_override(f"{k}={v}") for k, v in raw.items())
