"""The one exception bad data raises: it names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path

from nasdsl.errors import UsageError
from nasdsl.spec_files import printable


class DataError(UsageError):
    """Bad or unreadable data. The CLI prints `error: <file>: <what>` and exits 2."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = str(path)
        self.what = what
        # the path may come from a dataset (a file name with escape sequences)
        super().__init__(f"{printable(self.path)}: {what}")
