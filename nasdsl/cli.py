"""Command line: parse options, call the API, render diagnostics, set the exit code.

Exit codes (nasdsl.errors): 0 success, 1 input errors (spec diagnostics printed), 2 usage
errors, 3 internal errors (a bug in nasdsl: we say so and ask for a report). ONE guard
sets them: `_GuardedGroup.invoke`, around every command of the tree (`data ...`
included), so no command can forget it. Every message goes to stderr; stdout carries
only results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from nasdsl import __version__
from nasdsl.cli_guard import guard, run_guarded
from nasdsl.diagnostics import DiagnosticSink, NasError
from nasdsl.errors import EXIT_INTERNAL, EXIT_SPEC, EXIT_USAGE
from nasdsl.outputs import write_atomic as _write_atomic

__all__ = ["main", "run_guarded", "guard", "EXIT_SPEC", "EXIT_USAGE", "EXIT_INTERNAL"]


class _GuardedGroup(click.Group):
    """The root group: every subcommand (and sub-group) runs inside `guard`."""

    def invoke(self, ctx: click.Context) -> Any:
        return guard(lambda: super(_GuardedGroup, self).invoke(ctx))


@click.group(cls=_GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nasdsl")
def main() -> None:
    """nasdsl: a compiler for neural-architecture-search spaces in medical image
    segmentation. Write a space or a genotype in a .nas file, check it, compile it."""


def _overrides(defines: tuple[str, ...]) -> dict[str, Any]:
    from nasdsl.api import parse_override

    return dict(parse_override(d) for d in defines)


define_option = click.option(
    "-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
    help="Override a `param` of the spec, e.g. -D C=32 -D dims=3.")
size_option = click.option(
    "--input-size", "input_size", metavar="SIZE",
    help="Input patch size, e.g. 256x256 or 128x128x64 (a single number: every axis).")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@define_option
@size_option
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Batch size for the training-memory estimate (genotypes and archs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the headline per file.")
@click.option("--engine", default=None,
              help="Also check the space against this search engine: decisions it cannot "
                   "search, parts it cannot build, settings that would have no effect.")
def check(files: tuple[str, ...], defines: tuple[str, ...], input_size: str | None,
          batch: int | None, as_json: bool, quiet: bool, engine: str | None) -> None:
    """Check .nas files and print their choices, space size and parameter figures."""
    from nasdsl import report
    from nasdsl.api import compile_spec, parse_size

    def go() -> int:
        overrides = _overrides(defines)
        size = parse_size(input_size) if input_size else None
        if engine is not None:
            from nasdsl.cli_search import require_engine

            require_engine(engine)
        failures: list[NasError] = []
        for path in files:
            try:
                compiled = compile_spec(path, overrides, size)
            except NasError as err:
                failures.append(err)
                continue
            for warning in compiled.warnings:
                click.echo(warning.render(), err=True)
            if as_json:
                click.echo(json.dumps(report.as_dict(compiled, batch)))
            else:
                click.echo(report.render(compiled, batch, quiet))
            if engine is not None:
                from nasdsl.cli_search import engine_report

                ok, text, problems = engine_report(compiled, engine)
                click.echo(text)
                if problems:
                    failures.append(NasError(problems))
        if failures:
            raise NasError([d for f in failures for d in f.diagnostics])
        return 0

    run_guarded(go)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--check", "check_only", is_flag=True,
              help="Do not write; exit 1 if a file is not formatted.")
def fmt(files: tuple[str, ...], check_only: bool) -> None:
    """Format .nas files canonically (comments are kept)."""
    from nasdsl.api import read_unit
    from nasdsl.syntax.fmt import format_unit

    def go() -> int:
        sink = DiagnosticSink()
        unformatted = []
        for path in files:
            unit = read_unit(path, sink)
            if unit is None:
                continue
            text = unit.span.file.text
            formatted = format_unit(unit)
            if formatted == text:
                continue
            if check_only:
                unformatted.append(path)
                click.echo(f"{path}: would reformat", err=True)
            else:
                _write_atomic(Path(os.path.realpath(path)), formatted)  # keep links
                click.echo(f"{path}: formatted", err=True)
        if sink.has_errors:
            raise NasError(sink.errors)
        return EXIT_SPEC if unformatted else 0

    run_guarded(go)


@main.command(name="compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["torch", "onnx"]), default="torch",
              show_default=True, help="PyTorch source (.py) or an ONNX graph.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Where to write the model file.")
@define_option
@size_option
@click.option("--verify", is_flag=True,
              help="torch: import the file and compare its parameter count with the "
                   "static one; onnx: run onnx.checker and compare ONNX Runtime with "
                   "PyTorch on a random input (max abs diff <= 1e-4).")
@click.option("--channels-last", is_flag=True,
              help="Emitted forward() converts its inputs to channels-last memory.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random weights in an exported ONNX graph.")
@click.option("--flat", is_flag=True,
              help="One flat module listing every layer (for debugging), instead of one "
                   "class per cell type and composite op; same weights and outputs.")
def compile_(file: str, target: str, output: str, defines: tuple[str, ...],
             input_size: str | None, verify: bool, channels_last: bool, seed: int,
             flat: bool) -> None:
    """Compile a genotype or arch to a standalone model (needs the [cpu] or [gpu] extra)."""

    def go() -> int:
        from nasdsl.api import compile_spec, parse_size
        from nasdsl.backends import standalone

        size = parse_size(input_size) if input_size else None
        compiled = compile_spec(file, _overrides(defines), size)
        report = standalone.compile_to(compiled, target, Path(output), verify=verify,
                                       channels_last=channels_last, seed=seed, flat=flat)
        click.echo(report)
        return 0

    run_guarded(go)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="arch.svg (drawn by nasdsl), arch.dot, or arch.png/.pdf (need Graphviz `dot`).")
@define_option
def show(file: str, output: str, defines: tuple[str, ...]) -> None:
    """Draw the macro graph and the cells of a spec (SVG, DOT)."""

    def go() -> int:
        from nasdsl.api import compile_spec
        from nasdsl.backends.dot import write

        compiled = compile_spec(file, _overrides(defines))
        click.echo(write(compiled, Path(output)))
        return 0

    run_guarded(go)


from nasdsl.cli_data import data as _data_group  # noqa: E402 - needs run_guarded above

main.add_command(_data_group)

from nasdsl.cli_train import add_commands  # noqa: E402 - train/eval/infer/export

add_commands(main, run_guarded, define_option)

from nasdsl.cli_search import derive as _derive, search as _search  # noqa: E402

main.add_command(_search)
main.add_command(_derive)

from nasdsl.cli_run import add_run_command  # noqa: E402 - the whole pipeline

add_run_command(main, run_guarded, define_option)

from nasdsl.cli_trials import add_trials_command  # noqa: E402 - many trainings (Ray)

add_trials_command(main, run_guarded)

if __name__ == "__main__":  # pragma: no cover
    main()
