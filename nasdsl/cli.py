"""Command line: parse options, call the API, render diagnostics, set the exit code.

Exit codes: 0 success, 1 spec errors (diagnostics printed), 2 usage errors, 3 internal
errors (a bug in nasdsl: we say so and ask for a report).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from nasdsl import __version__
from nasdsl.diagnostics import DiagnosticSink, InternalError, NasError
from nasdsl.outputs import write_atomic as _write_atomic  # also used by cli_data

EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def run_guarded(fn: Callable[[], int]) -> None:
    """Map the project's exceptions to exit codes; anything else is our bug."""
    from nasdsl.api import UsageError
    from nasdsl.outputs import OutputError

    try:
        code = fn()
    except NasError as err:
        click.echo("\n".join(d.render(_color()) for d in err.diagnostics), err=True)
        n = sum(d.severity == "error" for d in err.diagnostics)
        click.echo(f"{n} error{'s' if n != 1 else ''}", err=True)
        code = EXIT_SPEC
    except (UsageError, OutputError) as err:
        click.echo(f"error: {err}", err=True)
        code = EXIT_USAGE
    except _backend_error() as err:
        click.echo(f"error: {err}", err=True)
        code = EXIT_SPEC
    except _data_error() as err:
        click.echo(f"error: {err}", err=True)
        code = EXIT_USAGE
    except InternalError as err:
        click.echo(f"internal error: {err}\nthis is a bug in nasdsl {__version__}; please "
                   "report it with the spec that triggered it", err=True)
        code = EXIT_INTERNAL
    except KeyboardInterrupt:
        code = 130
    except Exception as err:  # noqa: BLE001 - the last line of defence, reported as a bug
        import traceback

        click.echo(f"internal error: {type(err).__name__}: {err}\nthis is a bug in nasdsl "
                   f"{__version__}; please report it with the spec and this trace:", err=True)
        click.echo(traceback.format_exc(), err=True)
        code = EXIT_INTERNAL
    sys.exit(code)


def _backend_error() -> type[Exception]:
    """BackendError without importing the backends (they import torch) when unused."""
    mod = sys.modules.get("nasdsl.backends.standalone")
    return getattr(mod, "BackendError", _Never)


def _data_error() -> type[Exception]:
    """nasdsl.data.DataError (bad data: exit 2), without importing nasdsl.data when unused."""
    mod = sys.modules.get("nasdsl.data.errors")
    return getattr(mod, "DataError", _Never)


class _Never(Exception):
    pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--engine", default=None, help="Also say whether this search engine applies.")
def check(files: tuple[str, ...], defines: tuple[str, ...], input_size: str | None,
          batch: int | None, as_json: bool, quiet: bool, engine: str | None) -> None:
    """Check .nas files and print their choices, space size and parameter figures."""
    from nasdsl import report
    from nasdsl.api import compile_spec, parse_size

    def go() -> int:
        overrides = _overrides(defines)
        size = parse_size(input_size) if input_size else None
        failures: list[NasError] = []
        blocked = False
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

                ok, text = engine_report(compiled, engine)
                click.echo(text)
                blocked = blocked or not ok
        if failures:
            raise NasError([d for f in failures for d in f.diagnostics])
        return EXIT_SPEC if blocked else 0

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
def compile_(file: str, target: str, output: str, defines: tuple[str, ...],
             input_size: str | None, verify: bool, channels_last: bool, seed: int) -> None:
    """Compile a genotype or arch to a standalone model (needs the [cpu] or [gpu] extra)."""

    def go() -> int:
        from nasdsl.api import compile_spec, parse_size
        from nasdsl.backends import standalone

        size = parse_size(input_size) if input_size else None
        compiled = compile_spec(file, _overrides(defines), size)
        report = standalone.compile_to(compiled, target, Path(output), verify=verify,
                                       channels_last=channels_last, seed=seed)
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
        from nasdsl.backends.dot import RenderError, write

        compiled = compile_spec(file, _overrides(defines))
        try:
            click.echo(write(compiled, Path(output)))
        except RenderError as err:
            click.echo(f"error: {err}", err=True)
            return EXIT_SPEC
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

if __name__ == "__main__":  # pragma: no cover
    main()
