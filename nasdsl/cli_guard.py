"""The one guard of the command line: a UserError becomes its message and exit code,
anything else is reported as a bug. Its own module, so that the command modules
(cli_data, cli_search, ...) use it without importing cli.py, which imports them.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

from nasdsl import __version__
from nasdsl.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, UserError


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def guard(fn: Callable[[], Any]) -> Any:
    """THE guard: a UserError is its message and its exit code, anything else a bug.

    Click's own exceptions (usage errors, --help, ctx.exit) and SystemExit pass through.
    """
    try:
        return fn()
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except UserError as err:
        click.echo(err.render(_color()), err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:  # noqa: BLE001 - the last line of defence, reported as a bug
        import traceback

        from nasdsl.errors import InternalError

        what = "internal error" if isinstance(err, InternalError) else \
            f"internal error: {type(err).__name__}"
        click.echo(f"{what}: {err}\nthis is a bug in nasdsl {__version__}; please report "
                   "it with the command, its inputs and this trace:", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(EXIT_INTERNAL)


def run_guarded(fn: Callable[[], int]) -> None:
    """Run a command's body and exit with the code it returns. Errors are mapped by the
    guard around the whole command tree (this may run outside it: API users' groups)."""
    sys.exit(guard(fn))
