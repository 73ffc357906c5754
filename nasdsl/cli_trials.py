"""`nasdsl trials`: a table of trainings (genotypes x seeds x folds x settings), each
trained and evaluated into its own run directory, locally on Ray by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import click

EXIT_SOME_FAILED = 1  # like a stopped `nasdsl train`: results were kept, some are missing


def add_trials_command(main: click.Group, run_guarded: Callable) -> None:
    @main.command(name="trials")
    @click.argument("table", type=click.Path(dir_okay=False))
    @click.option("--out", type=click.Path(file_okay=False), required=True,
                  help="Folder for runs/<trial>/, trials.csv, summary.csv/.json/.png; a "
                       "second call there reuses every finished trial.")
    @click.option("--workers", type=click.IntRange(min=0), default=None,
                  help="Trials at once on a local Ray started and stopped by the command "
                       "(default: CPUs / --cpus-per-trial); 0: one after another in this "
                       "process, without Ray.")
    @click.option("--address", default=None,
                  help="Run on an existing Ray cluster instead (e.g. auto, "
                       "ray://head:10001); --out and the data must be on a filesystem "
                       "every node sees.")
    @click.option("--cpus-per-trial", type=click.FloatRange(min=0.01), default=1.0,
                  show_default=True, help="CPUs Ray reserves per trial (also its torch "
                  "threads, rounded down, at least 1).")
    @click.option("--gpus-per-trial", type=click.FloatRange(min=0), default=0.0,
                  show_default=True, help="GPUs per trial (0.5 packs two trials on a GPU); "
                  "above 0 the trials train on CUDA.")
    @click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
                  help="Re-runs of a trial whose worker died (it resumes from its "
                       "checkpoint); a trial that raises an error is not retried.")
    def trials(table: str, out: str, workers: int | None, address: str | None,
               cpus_per_trial: float, gpus_per_trial: float, retries: int) -> None:
        """Train and evaluate every trial of TABLE (a TOML file: docs/TRIALS.md) and
        summarise them: mean Dice per genotype (validation or test cases) with a 95%
        CI and a rank."""
        def go() -> int:
            from nasdsl.api import UsageError
            from nasdsl.runs import atomic_write_bytes
            from nasdsl.trials import summary as S
            from nasdsl.trials.execute import Execution, run_trials
            from nasdsl.trials.table import load_table

            if address is not None and workers == 0:
                raise UsageError("--address runs on a Ray cluster; --workers 0 runs in this "
                                 "process: give one of them")
            folder = Path(out)
            if folder.exists() and not folder.is_dir():
                raise UsageError(f"--out {out}: is not a folder")
            folder.mkdir(parents=True, exist_ok=True)
            device = "cuda" if gpus_per_trial > 0 else "cpu"
            found = load_table(table, folder.resolve(), device)
            atomic_write_bytes(folder / "trials.json", json.dumps(
                [t.to_dict() for t in found], indent=1).encode())
            where = ("in this process" if workers == 0 else
                     f"on the Ray cluster at {address}" if address else "on a local Ray")
            click.echo(f"{len(found)} trials {where}; runs in {folder / 'runs'}")
            ex = Execution(workers, address, cpus_per_trial, gpus_per_trial, retries)
            outcomes = run_trials(found, ex, lambda line: click.echo(line))
            summary = S.summarize(outcomes)
            paths = S.write(summary, folder)
            click.echo("")
            click.echo(S.table(summary), nl=False)
            click.echo("wrote " + ", ".join(str(p) for p in paths))
            failed = [o for o in outcomes if o.state == "failed"]
            if failed:
                click.echo(f"error: {len(failed)} of {len(outcomes)} trials failed (see "
                           "trials.csv); run the command again to retry them", err=True)
                return EXIT_SOME_FAILED
            return 0
        run_guarded(go)


__all__ = ["add_trials_command"]
