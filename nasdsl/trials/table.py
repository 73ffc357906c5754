"""The trials table: a small TOML file whose lists multiply into trials (docs/TRIALS.md).

    data = "data/mni"                       # dataset folder
    genotypes = ["runs/a/genotype.nas", "specs/genotypes/*.nas"]   # files or globs
    seeds = [0, 1, 2]
    folds = [0, 1, 2, 3, 4]                 # of a `k_folds`-fold split (default 5)
    defines = ["C=16"]                      # -D for every trial
    [train]                                 # `nasdsl train` options, by their long names
    epochs = 50
    [settings.short]                        # optional named variants of [train]
    epochs = 10
    evaluate = ["val", "test"]              # cases each trial is scored on (default val)
    rank_by = "test"                        # the summary's metric (default: first above)
    [draw]                                  # optional: genotypes drawn from a space
    space = "specs/nas_unet.nas"
    count = 8
    max_params = 15000                      # optional: only genotypes this small

Every genotype x seed x fold x setting is one trial with one run directory. Relative paths
are relative to the table file. [train] is parsed by the `nasdsl train` command's own
options, so its names, defaults and checks are exactly that command's.
"""

from __future__ import annotations

import glob
import hashlib
import json
import random
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasdsl.api import UsageError

TOP = {"data", "genotypes", "draw", "seeds", "folds", "k_folds", "defines", "train",
       "settings", "evaluate", "rank_by"}
DRAW = {"space", "count", "seed", "max_params"}
# which cases a trial is scored on: the fold's validation cases, or the dataset's held-out
# test cases (imagesTs/labelsTs), which no training or model selection sees
SCORED = ("val", "test")
MAX_DRAWS = 100_000
# set by the table's own lists or by the executor, never inside [train]
NOT_IN_TRAIN = {"data", "out", "resume", "seed", "fold", "folds", "device", "no_progress"}
MAX_TRIALS = 10_000


@dataclass(frozen=True)
class Trial:
    id: str                 # also the run directory's name under OUT/runs/
    genotype: str           # resolved path of the genotype (or arch) file
    label: str              # the genotype's short name: trials are grouped by it
    seed: int
    fold: int
    setting: str
    request: dict[str, Any]  # TrainRequest.to_dict(), `out` = the run directory
    fingerprint: str        # of everything that decides the trial's result
    evaluate: tuple[str, ...] = ("val",)  # the cases it is scored on (SCORED)
    rank_by: str = "val"    # the metric the summary ranks by: `<rank_by>_dice`

    @property
    def metric(self) -> str:
        return f"{self.rank_by}_dice"

    @property
    def out(self) -> Path:
        return Path(self.request["out"])

    @property
    def group(self) -> str:
        return self.label if self.setting == "default" else f"{self.label} [{self.setting}]"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "genotype": self.genotype, "label": self.label,
                "seed": self.seed, "fold": self.fold, "setting": self.setting,
                "request": self.request, "fingerprint": self.fingerprint,
                "evaluate": list(self.evaluate), "rank_by": self.rank_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trial:
        return cls(**{**d, "evaluate": tuple(d.get("evaluate", ("val",)))})


def load_table(path: str | Path, out: Path, device: str = "cpu") -> list[Trial]:
    """The trials of a table file, their run directories under `out`/runs."""
    path = Path(path)
    raw = _read(path)
    where = path.resolve().parent
    unknown = sorted(set(raw) - TOP)
    if unknown:
        raise UsageError(f"{path}: unknown key `{unknown[0]}` (a table has: "
                         f"{', '.join(sorted(TOP))})")
    data = _path(raw, "data", where, path)
    defines = _strings(raw.get("defines", []), "defines", path)
    genotypes = [Path(g) for g in _globs(raw.get("genotypes", []), where, path)]
    if "draw" in raw:
        genotypes += _draw(raw["draw"], where, path, out, defines)
    if not genotypes:
        raise UsageError(f"{path}: no trials: give `genotypes = [...]` or a [draw] table")
    seeds = _ints(raw.get("seeds", [0]), "seeds", path)
    k = _ints([raw.get("k_folds", 5)], "k_folds", path, low=1)[0]
    folds = _ints(raw.get("folds", [0]), "folds", path)
    if any(f >= k for f in folds):
        raise UsageError(f"{path}: `folds` must be below k_folds = {k}")
    base = _section(raw.get("train", {}), "train", path)
    settings = raw.get("settings", {})
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise UsageError(f"{path}: [settings.NAME] tables hold [train] options per variant")
    variants = {name: {**base, **_section(v, f"settings.{name}", path)}
                for name, v in settings.items()} or {"default": base}
    evaluate, rank_by = _scoring(raw, path)
    if "test" in evaluate:
        _check_test_cases(data, path)
    count = len(genotypes) * len(seeds) * len(folds) * len(variants)
    if count > MAX_TRIALS:
        raise UsageError(f"{path}: {count:,} trials (at most {MAX_TRIALS:,})")
    labels = _labels(genotypes)
    data_hash = _data_hash(data)
    trials = []
    for geno in genotypes:
        for name, options in variants.items():
            for seed in seeds:
                for fold in folds:
                    tid = _safe(f"{labels[geno]}-seed{seed}-fold{fold}"
                                + ("" if name == "default" else f"-{name}"))
                    section = "train" if name == "default" else f"settings.{name}"
                    request = _request(geno, data, out / "runs" / tid, defines, options,
                                       seed, fold, k, device, f"{path}: [{section}]")
                    trials.append(Trial(tid, str(geno), labels[geno], seed, fold, name,
                                        request, fingerprint(request, data_hash, evaluate),
                                        evaluate, rank_by))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{path}: two trials would share the run directory "
                         f"`{next(i for i in ids if ids.count(i) > 1)}`")
    return trials


def fingerprint(request: dict[str, Any], data_hash: str | None = None,
                evaluate: tuple[str, ...] = ("val",)) -> str:
    """Hash of what decides a trial's result: the genotype text, the dataset's files
    (names and sizes) and description, every training setting and the cases it is scored
    on. Progress and the run folder's location do not count; the space a genotype names
    is checked against the run's manifest (work.finished)."""
    req = {k: v for k, v in request.items() if k not in ("out",)}
    req["config"] = {k: v for k, v in req["config"].items() if k != "progress"}
    content: dict[str, Any] = {"request": req, "genotype": _file_hash(request["spec"]),
                               "data": data_hash or _data_hash(request["data"]), "format": 1}
    if evaluate != ("val",):  # tables without `evaluate` keep their earlier fingerprints
        content["evaluate"] = list(evaluate)
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str)
                          .encode()).hexdigest()[:16]


def _scoring(raw: dict[str, Any], table: Path) -> tuple[tuple[str, ...], str]:
    """`evaluate` (which cases score each trial) and `rank_by` (the summary's metric)."""
    evaluate = tuple(dict.fromkeys(_strings(raw.get("evaluate", ["val"]), "evaluate", table)))
    if not evaluate or set(evaluate) - set(SCORED):
        raise UsageError(f"{table}: `evaluate` is a list of {' and '.join(SCORED)} (the "
                         "fold's validation cases, the dataset's held-out test cases)")
    rank_by = raw.get("rank_by", evaluate[0])
    if rank_by not in evaluate:
        raise UsageError(f"{table}: `rank_by = \"{rank_by}\"` must be one of `evaluate` "
                         f"({', '.join(evaluate)})")
    return evaluate, rank_by


# ---- reading ------------------------------------------------------------------------------
def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read the trials table ({err.strerror})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text (a trials table is TOML)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: error: {err} (a trials table is TOML; see "
                         "docs/TRIALS.md)") from None


def _path(raw: dict[str, Any], key: str, where: Path, table: Path) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise UsageError(f"{table}: `{key} = \"FOLDER\"` is required")
    return str((where / value).resolve())


def _globs(items: Any, where: Path, table: Path) -> list[str]:
    out: list[str] = []
    for item in _strings(items, "genotypes", table):
        pattern = str(where / item)
        found = sorted(glob.glob(pattern)) if glob.has_magic(item) else [pattern]
        if not found or not all(Path(f).is_file() for f in found):
            raise UsageError(f"{table}: genotypes: `{item}` names no file")
        out += [str(Path(f).resolve()) for f in found if str(Path(f).resolve()) not in out]
    return out


def _strings(items: Any, key: str, table: Path) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"{table}: `{key}` is a list of strings")
    return list(items)


def _ints(items: Any, key: str, table: Path, low: int = 0) -> list[int]:
    if (not isinstance(items, list) or not items
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= low
                       for i in items)):
        raise UsageError(f"{table}: `{key}` is a list of integers >= {low}")
    return list(dict.fromkeys(items))


def _section(options: Any, name: str, table: Path) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise UsageError(f"{table}: [{name}] is a table of `nasdsl train` options")
    out = {}
    for key, value in options.items():
        norm = key.replace("-", "_")
        if norm in NOT_IN_TRAIN:
            raise UsageError(f"{table}: [{name}] {key}: set by the trials table itself "
                             "(data, seeds, folds) or by `nasdsl trials` (device)")
        out[norm] = value
    return out


def _labels(genotypes: list[Path]) -> dict[Path, str]:
    """Short unique names: the file's stem, with its folder when stems repeat
    (runs/a/genotype.nas and runs/b/genotype.nas -> a-genotype, b-genotype)."""
    stems = [g.stem for g in genotypes]
    out = {}
    for g in genotypes:
        out[g] = _safe(g.stem if stems.count(g.stem) == 1 else f"{g.parent.name}-{g.stem}")
    names = list(out.values())
    for i, g in enumerate(genotypes):
        if names.count(out[g]) > 1:
            out[g] = f"{out[g]}-{i}"
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "trial"


def _check_test_cases(data: str, table: Path) -> None:
    """`evaluate = ["test"]` on a dataset without labelled test cases would fail every
    trial after its training: refuse the table instead."""
    from nasdsl.data import load_dataset

    if not any(c.label is not None for c in load_dataset(data).test_cases):
        raise UsageError(f"{table}: `evaluate` has \"test\" but {data} has no labelled "
                         "test cases (labelsTs/ beside imagesTs/)")


# ---- [train] through `nasdsl train`'s options ---------------------------------------------
def _request(genotype: Path, data: str, out: Path, defines: list[str],
             options: dict[str, Any], seed: int, fold: int, k: int, device: str,
             where: str) -> dict[str, Any]:
    import click

    from nasdsl.cli_train import train_options, train_request

    command = train_options(click.Command("train", callback=lambda **kw: None))
    by_name = {p.name: p for p in command.params}
    argv = ["--data", data, "--out", str(out), "--seed", str(seed), "--fold", str(fold),
            "--folds", str(k), "--device", device, "--no-progress"]
    for key, value in options.items():
        param = by_name.get(key)
        if param is None:
            raise UsageError(f"{where} {key}: not an option of `nasdsl train` "
                             f"(see `nasdsl train --help`)")
        flag = "--" + key.replace("_", "-")
        if getattr(param, "is_flag", False):
            if not isinstance(value, bool):
                raise UsageError(f"{where} {key} is true or false")
            argv += [flag] if value else []
        else:
            argv += [flag, str(value)]
    try:
        ctx = command.make_context("train", argv)
    except click.ClickException as err:
        raise UsageError(f"{where}: {err.format_message()}") from None
    return train_request(str(genotype), tuple(defines), ctx.params).to_dict()


# ---- [draw]: random genotypes of a space ----------------------------------------------------
def _draw(spec: Any, where: Path, table: Path, out: Path, defines: list[str]) -> list[Path]:
    """`count` distinct legal genotypes drawn uniformly (the random engine's proposal),
    written to OUT/genotypes/ (deterministic for a given seed)."""
    from nasdsl.api import parse_override
    from nasdsl.engines.genotype_out import genotype_text
    from nasdsl.space import SearchSpace
    from nasdsl.outputs import write_atomic

    if not isinstance(spec, dict) or set(spec) - DRAW:
        raise UsageError(f"{table}: [draw] has space, count, seed and max_params")
    space_path = _path(spec, "space", where, table)
    count = _ints([spec.get("count", 0)], "draw.count", table, low=1)[0]
    rnd = random.Random(_ints([spec.get("seed", 0)], "draw.seed", table)[0])
    budget = (_ints([spec["max_params"]], "draw.max_params", table, low=1)[0]
              if "max_params" in spec else None)
    space = SearchSpace.load(space_path, dict(parse_override(d) for d in defines))
    if budget is not None:
        _check_reachable(space, budget, table)
    drawn: dict[str, dict[str, Any]] = {}
    # a parameter budget rejects most draws of a wide space: more tries, still bounded
    tries = min(MAX_DRAWS, (50 if budget is None else 2000) * count)
    for _ in range(tries):
        if len(drawn) == count:
            break
        a = space.table.sample(rnd)
        if space.legal(a) and (budget is None or space.cost(a) <= budget):
            drawn.setdefault(repr(sorted(space.table.normalise(a).items())), a)
    if len(drawn) < count:
        under = "" if budget is None else f" with at most {budget:,} parameters"
        raise UsageError(f"{table}: [draw] found {len(drawn)} distinct legal genotypes of "
                         f"{space_path}{under} in {tries:,} draws, not {count}")
    folder = out / "genotypes"
    folder.mkdir(parents=True, exist_ok=True)
    stem = _safe(Path(space_path).stem)
    paths = []
    for i, a in enumerate(drawn.values()):
        target = folder / f"{stem}-draw{i:03d}.nas"
        note = f"drawn at random from {space_path} (draw {i} of {count}"
        note += ")" if budget is None else f", at most {budget:,} parameters)"
        write_atomic(target, genotype_text(space, a, target, f"Draw{i}", [note]))
        paths.append(target.resolve())
    return paths


def _check_reachable(space: Any, budget: int, table: Path) -> None:
    """A budget below the space's smallest genotype is refused at once, not after
    thousands of draws (each costs a compile)."""
    from nasdsl.bounds import summarize

    smallest = summarize(space.compiled).params.lo
    if budget < smallest:
        raise UsageError(f"{table}: [draw] max_params = {budget:,}, but the smallest "
                         f"genotype of {space.path} has {smallest:,} parameters")


def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"  # the trial itself reports the missing file


def _data_hash(root: str) -> str:
    """Every file's name and size under the dataset folder (and the bytes of its
    dataset.json): adding, removing or replacing a case changes it; copying the folder
    elsewhere does not. Computed once per table, by the command, not per trial."""
    h = hashlib.sha256()
    base = Path(root)
    for i, p in enumerate(sorted(base.rglob("*"))):
        if i >= 200_000:
            break
        if p.is_file():
            h.update(f"{p.relative_to(base).as_posix()}\0{p.stat().st_size}\n".encode())
    h.update(_file_hash(str(base / "dataset.json")).encode())
    return h.hexdigest()


__all__ = ["Trial", "load_table", "fingerprint"]
