"""The one exception bad data raises: it names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path

from nasdsl.errors import UsageError


class DataError(UsageError):
    """Bad or unreadable data. The CLI prints `error: <file>: <what>` and exits 2."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = str(path)
        self.what = what
        super().__init__(f"{self.path}: {what}")
