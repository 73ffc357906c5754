"""The one error hierarchy: every mistake a user can make is a `UserError`.

The CLI's single guard (nasdsl.cli) turns a `UserError` into its message on stderr and its
`exit_code`; anything else that escapes a command is a bug in nasdsl (exit 3, "please
report"). So a user's mistake is never exit 3 as long as the code that detects it raises
a subclass of one of the two kinds below:

  InputError (exit 1)  the content of an input is wrong: a spec (diagnostics), a spec that
                       an engine or backend cannot handle, a training run stopped by its
                       data or settings
  UsageError (exit 2)  the command cannot be carried out as asked: options, paths, output
                       folders, run directories, datasets, models and sidecars that cannot
                       be used

Every module keeps its own class name (RunError, DataError, SearchError, ...) so that a
message can be told apart in tests and by callers of the API; the class says only which
kind it is. This module imports nothing heavy: the front end (`check`, `fmt`) uses it.
"""

from __future__ import annotations

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_SPEC = EXIT_INPUT   # the historical name: spec errors are input errors
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in what the user gave nasdsl; never a bug in nasdsl."""

    exit_code = EXIT_USAGE

    def render(self, color: bool = False) -> str:
        """What the guard prints on stderr (one `error: ...` line by default)."""
        return f"error: {self}"


class InputError(UserError):
    """The content of an input is wrong (exit 1)."""

    exit_code = EXIT_INPUT


class UsageError(UserError):
    """The command cannot be carried out as asked (exit 2)."""

    exit_code = EXIT_USAGE


class UnknownEngine(UsageError):
    """`--engine` (or a spec's `search` block) names no engine nasdsl has."""


class EngineCannotSearch(InputError):
    """The space holds decisions the chosen engine cannot search (`check --engine`,
    `search`, `run` all say so with exit 1)."""


class InternalError(Exception):
    """A broken invariant: a bug in nasdsl, not in the user's input (exit 3)."""


def exit_code_of(err: BaseException) -> int:
    """The exit code the CLI gives for `err`."""
    if isinstance(err, UserError):
        return err.exit_code
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL


__all__ = ["UserError", "InputError", "UsageError", "UnknownEngine", "EngineCannotSearch",
           "InternalError", "exit_code_of", "EXIT_OK", "EXIT_INPUT", "EXIT_SPEC",
           "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_INTERRUPTED"]
