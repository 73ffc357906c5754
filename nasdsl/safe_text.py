"""Text from someone else's files, made safe for where it is shown.

Label, channel and case names come from datasets and sidecars. On a terminal an escape
sequence in one can clear the screen or rewrite earlier lines; in a CSV opened by a
spreadsheet a name starting with `=`, `+`, `-` or `@` is a formula (`=HYPERLINK(...)`,
OWASP's "CSV injection"). The names stay as they are in the data and in JSON (which
escapes them); only these two renderings change.
"""

from __future__ import annotations

import re

from nasdsl.spec_files import printable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def for_terminal(text: object) -> str:
    """Control, line-breaking and bidi characters escaped (`\\x1b`, `\\u202e`)."""
    return printable(str(text))


def for_csv(text: object) -> str:
    """A text cell no spreadsheet runs as a formula: escaped as for the terminal, and
    prefixed with `'` when it starts like one (the OWASP recommendation)."""
    s = str(text)
    cell = for_terminal(s)
    return "'" + cell if s.startswith(_FORMULA_START) else cell


def strip_ansi(text: str) -> str:
    """Library messages (torch's) carry colour codes; drop them before quoting."""
    return _ANSI.sub("", text)


__all__ = ["for_terminal", "for_csv", "strip_ansi"]
