"""`nasdsl search` and `nasdsl derive` (and the engine report of `check --engine`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

# NOTE: nothing from nasdsl.cli: cli.py imports this module to register the commands
# (and may itself be running as __main__); the guard is in nasdsl.cli_guard
define_option = click.option(
    "-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
    help="Override a `param` of the spec, e.g. -D C=16 -D depth=4.")


def require_engine(engine: str) -> None:
    """An unknown engine name is a usage error (exit 2), said before any work."""
    from nasdsl.enginespec import ENGINES
    from nasdsl.errors import UnknownEngine

    if engine not in ENGINES:
        raise UnknownEngine(f"--engine {engine}: unknown engine (engines: "
                            f"{', '.join(ENGINES)})")


def engine_report(compiled: Any, engine: str) -> tuple[bool, str, list]:
    """Whether `engine` can search the space as the spec configures it: (ok, text,
    diagnostics). Every decision it cannot search, every part of the space it cannot
    build and every setting that cannot take effect is one diagnostic."""
    from nasdsl.enginespec import settings_lines
    from nasdsl.enginespec.diagnose import engine_diagnostics

    resolved, problems = engine_diagnostics(compiled, engine)
    if problems and problems[0].code == "E0431":
        return False, f"engine {engine}: nothing to search", problems
    if problems:
        return False, f"engine {engine}: cannot search this space ({len(problems)} " \
                      f"problem{'s' if len(problems) != 1 else ''})", problems
    return True, "\n".join([f"engine {engine}: ok ({len(compiled.table)} decisions "
                            "searchable)"] + settings_lines(engine, resolved)[1:]), []


def _settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    from nasdsl.api import parse_override
    from nasdsl.sema.values import Symbol

    out = {}
    for text in pairs:
        name, value = parse_override(text)
        out[name] = value.name if isinstance(value, Symbol) else value
    return out


def _guarded(fn) -> None:
    from nasdsl.cli_guard import run_guarded

    run_guarded(fn)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@click.option("--engine", help="pc_darts, darts, proxyless, enas or random (default: the "
                               "spec's `search` block).")
@click.option("--data", "data", type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Run directory.")
@define_option
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a search setting, e.g. --set epochs=2 --set k=2.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=0,
              help="Steps between mid-epoch checkpoints (0: at epoch ends only).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True,
              help="End with one JSON object (genotype, hash, params, rank, digest) "
                   "instead of the summary.")
def search(spec: str | None, engine: str | None, data: str | None, out: str,
           defines: tuple[str, ...], sets: tuple[str, ...], resume: bool,
           checkpoint_every: int, device: str | None, no_progress: bool,
           as_json: bool) -> None:
    """Search a space: write RUN/genotype.nas, the supernet weights and metrics."""

    def go() -> int:
        from nasdsl.api import UsageError, parse_override
        from nasdsl.engines.loop import SearchOptions
        from nasdsl.engines.loop import search as run_search
        from nasdsl.engines.outputs import summary

        opts = SearchOptions(spec, data, out, engine, dict(parse_override(d) for d in defines),
                             _settings(sets), resume, checkpoint_every, device,
                             not no_progress, log=click.echo)
        if resume:
            opts = _from_manifest(opts)
        if opts.spec is None or opts.data is None:
            raise UsageError("give SPEC and --data (or --resume with an existing --out)")
        from nasdsl.pipeline.machine import machine_report

        click.echo(machine_report()["line"], err=True)  # threads by load, in the manifest
        result = run_search(opts)
        click.echo(summary(result) if as_json else describe(result, Path(opts.out)))
        return 0

    _guarded(go)


def describe(result: dict[str, Any], run: Path, derived: bool = False) -> str:
    """The end of `search`/`derive` for a person: what was written, how big it is, how
    far the architecture moved, and the next command (--json keeps the raw record)."""
    from nasdsl.pipeline.progress import search_progress

    if result.get("genotype") is None:  # a DDP rank other than 0 writes nothing
        return (f"rank {result.get('rank')}: derived genotype {result.get('genotype_hash')}"
                f", engine state {result.get('digest')} (rank 0 writes the files)")
    params = result.get("params")
    size = f"{params:,} parameters at the searched size" if params is not None else \
        "parameter count unknown"
    lines = [f"{'derived' if derived else 'searched'}: {result['genotype']} "
             f"({size}; genotype {result.get('genotype_hash')})"]
    moved = search_progress(run / "metrics.jsonl")
    if not derived and moved["search_steps"]:
        text = f"{moved['search_steps']} steps, {moved['search_arch_steps']} architecture steps"
        if moved.get("entropy_start") is not None and moved.get("entropy_end") is not None:
            text += (f"; architecture entropy {moved['entropy_start']:.4f} \u2192 "
                     f"{moved['entropy_end']:.4f} nats")
        lines.append(f"search: {text}")
    if result.get("weights"):
        lines.append(f"inherited weights: {result['weights']}")
    lines.append(f"next: nasdsl train {result['genotype']} --data DATA --out RUN "
                 "(-D to train at another size)")
    return "\n".join(lines)


def _from_manifest(opts):
    """`--resume --out RUN` alone continues the run as it was started."""
    from nasdsl.api import parse_override
    from nasdsl.runs import RunDir

    m = RunDir(opts.out, writer=False).manifest()
    # a run's -D values are typed in its network.json, which the search reads itself;
    # only a run from before it has them as the recorded strings
    saved = {} if "network" in m else \
        dict(parse_override(f"{k}={v}") for k, v in m.get("overrides", {}).items())
    opts.spec = opts.spec or m["spec"]
    opts.data = opts.data or m["data"]
    opts.engine = opts.engine or m["engine"]
    opts.overrides = {**saved, **opts.overrides}
    # the settings the first command gave on its command line (the rest resolve again
    # from the spec and the engine's defaults, as they did)
    origins = m.get("setting_origins")
    given = {k: v for k, v in m.get("settings", {}).items()
             if origins is None or origins.get(k) == "--set"}
    opts.settings = {**given, **opts.settings}
    return opts


def _top_k_problem(engine, space, top_k: int, name: str) -> str | None:
    """Why --top-k would not change the derived genotype (None: it can)."""
    from nasdsl.engines.archparams import top_k_problem

    if not engine.ranks_edges:
        return (f"--top-k has no effect with {name}: it derives whole sampled "
                "architectures, not edges ranked by their weights")
    return top_k_problem(space, top_k)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Edges kept per cell node whose spec says `keep a..b` (gradient "
                   "engines); an error where it cannot change the genotype.")
@click.option("--budget", type=float, default=None, help="Parameter budget (params <= N).")
@click.option("-o", "--output", default=None,
              help="Genotype file name inside RUN (default genotype.nas).")
@click.option("--export-weights", is_flag=True,
              help="Also write the derived network's inherited weights (weights.pt).")
@click.option("--checkpoint", default="last", show_default=True,
              help="Which checkpoint of RUN/checkpoints/ to derive from.")
@click.option("--json", "as_json", is_flag=True,
              help="End with one JSON object instead of the summary.")
def derive(run_dir: str, top_k: int | None, budget: float | None, output: str | None,
           export_weights: bool, checkpoint: str, as_json: bool) -> None:
    """Derive a genotype again from a run's last checkpoint."""

    def go() -> int:
        from nasdsl.engines.loop import load_engine_from_run
        from nasdsl.engines.outputs import summary, write_outputs
        from nasdsl.errors import InputError, UsageError

        if not checkpoint.isidentifier():
            raise UsageError("--checkpoint names a file of RUN/checkpoints/ (e.g. last)")
        from nasdsl.pipeline.folder import stage_run

        run_path = stage_run(run_dir, "search")  # a `nasdsl run` folder: its search
        space, engine, manifest, run = load_engine_from_run(run_path, checkpoint=checkpoint)
        if top_k is not None:
            why = _top_k_problem(engine, space, top_k, manifest["engine"])
            if why:
                raise UsageError(why)
        if export_weights and not engine.shares_weights:
            raise InputError(f"{manifest['engine']} trains its candidates at a fraction of "
                             "the channels (C/K); its weights cannot hand over to the "
                             "derived network: train it from scratch (nasdsl train)")
        run.writer = True
        name = output or "genotype.nas"
        if Path(name).name != name or not name.endswith(".nas"):
            raise UsageError("-o names a .nas file inside the run directory")
        result = write_outputs(run, engine, space, manifest["engine"], None, top_k, budget,
                               name, export=export_weights)
        click.echo(summary(result) if as_json else describe(result, run_path, derived=True))
        return 0

    _guarded(go)
