"""`nasdsl run`: the whole flow from a search space to a deployed, evaluated model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click


def add_run_command(main: click.Group, run_guarded: Callable, define_option: Callable) -> None:
    @main.command(name="run")
    @click.argument("space", type=click.Path(dir_okay=False))
    @click.option("--data", type=click.Path(file_okay=False), default=None,
                  help="Dataset folder (default: the built-in MNI brain-tissue task, "
                       "written to RUN/data).")
    @click.option("--out", type=click.Path(file_okay=False), required=True,
                  help="Run directory; a second run there reuses finished stages.")
    @click.option("--engine", default=None,
                  help="pc_darts, darts, proxyless, enas or random (default: the spec's).")
    @define_option
    @click.option("--full", is_flag=True,
                  help="The spec's own configuration and search block and full training "
                       "budgets (GPU when present) instead of the quick CPU budgets.")
    @click.option("--time-budget", "time_budget", metavar="DURATION", default=None,
                  help="Wall time for the whole run, e.g. 30m or 2h: the quick loops "
                       "scale to it, the search gets 30% and the training 50% (the rest: "
                       "data, compile, export, inference). Default: the quick budgets "
                       "(about 2 minutes on 2 idle CPU cores).")
    @click.option("--threads", type=click.IntRange(min=1), default=None,
                  help="Torch CPU threads (default: the cores the load average leaves "
                       "free, or OMP_NUM_THREADS).")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--device", default=None, help="cpu or cuda (default: CUDA if present).")
    @click.option("--no-progress", is_flag=True,
                  help="No progress bars (stage lines and per-epoch validation stay).")
    def run(space: str, data: str | None, out: str, engine: str | None,
            defines: tuple[str, ...], full: bool, time_budget: str | None,
            threads: int | None, seed: int, device: str | None, no_progress: bool) -> None:
        """Search SPACE, derive and check the genotype, compile it (PyTorch + verified
        ONNX), train it, export it with its preprocessing, segment held-back cases and
        print the scores; each stage is also its own command. A SPACE that decides every
        choice (a genotype, or a network without choices) is trained without a search.
        About 2 minutes on 2 idle CPU cores at the quick budgets."""

        def go() -> int:
            from nasdsl.api import UsageError
            from nasdsl.pipeline.measure import table
            from nasdsl.pipeline.plan import full_plan, parse_duration, quick_plan
            from nasdsl.pipeline.run import Pipeline

            if engine is not None:  # before any stage writes
                from nasdsl.cli_search import require_engine

                require_engine(engine)
            from nasdsl.outputs import check_pipeline_folder

            check_pipeline_folder(Path(out), data)   # never a folder of the user's files
            try:
                seconds = None if time_budget is None else parse_duration(time_budget)
            except ValueError as err:
                raise UsageError(f"--time-budget: {err}") from None
            make = full_plan if full else quick_plan
            plan = make(space, out, data, engine, list(defines), seed, device, seconds)
            plan.progress = not no_progress
            plan.threads = threads
            summary = Pipeline(plan, log=lambda s: click.echo(s, err=True)).run()
            click.echo(table(summary))
            click.echo(_files(Path(out)))
            return 0

        run_guarded(go)


def _files(run: Path) -> str:
    names = ["genotype.nas", "genotype.svg", "model.py", "model.onnx", "model.onnx.json",
             "training_curves.png", "search_curves.png", "overlay.png", "predictions/",
             "test_scores.csv", "summary.json", "stages.json"]
    present = [n for n in names if (run / n.rstrip("/")).exists()]
    return f"files in {run}/: " + ", ".join(present)


__all__: list[Any] = ["add_run_command"]
