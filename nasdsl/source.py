"""Source files and spans.

NOTE: spans hold character offsets; line and column are computed only when a
diagnostic is rendered, so building the AST stays cheap.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset (tabs count as one column)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start: end if end >= 0 else len(self.text)]


@dataclass(frozen=True, slots=True)
class Span:
    file: SourceFile
    start: int
    end: int

    def __repr__(self) -> str:  # keeps IR dumps short
        line, col = self.file.line_col(self.start)
        return f"{self.file.path}:{line}:{col}"

    @property
    def line(self) -> int:
        return self.file.line_col(self.start)[0]

    def cover(self, other: "Span") -> "Span":
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))
