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
                       "budgets (GPU when present) instead of the ~10-minute CPU budgets.")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--device", default=None, help="cpu or cuda (default: CUDA if present).")
    @click.option("--no-progress", is_flag=True)
    def run(space: str, data: str | None, out: str, engine: str | None,
            defines: tuple[str, ...], full: bool, seed: int, device: str | None,
            no_progress: bool) -> None:
        """Search SPACE, derive and check the genotype, compile it (PyTorch + verified
        ONNX), train it, export it with its preprocessing, segment held-back cases and
        print the scores; each stage is also its own command."""

        def go() -> int:
            from nasdsl.pipeline.measure import table
            from nasdsl.pipeline.plan import full_plan, quick_plan
            from nasdsl.pipeline.run import Pipeline

            if engine is not None:  # before any stage writes
                from nasdsl.cli_search import require_engine

                require_engine(engine)
            from nasdsl.outputs import check_pipeline_folder

            check_pipeline_folder(Path(out), data)   # never a folder of the user's files
            make = full_plan if full else quick_plan
            plan = make(space, out, data, engine, list(defines), seed, device)
            plan.progress = not no_progress
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
