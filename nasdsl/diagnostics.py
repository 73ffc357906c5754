"""Diagnostics: collected (not raised), rendered as `path:line:col: error[code]: message`.

NasError (spec errors) is an InputError (exit 1, nasdsl.errors); an InternalError is a
compiler bug and says so, never dressed up as a spec error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from nasdsl.errors import InputError, InternalError  # noqa: F401 - InternalError re-exported
from nasdsl.source import Span

MAX_SHOWN = 50


@dataclass(frozen=True)
class Note:
    span: Span | None
    message: str


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str
    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[Note, ...] = ()

    def render(self, color: bool = False) -> str:
        head = f"{self.severity}[{self.code}]: {self.message}"
        lines: list[str] = []
        if self.span is None:
            lines.append(head)
        else:
            lines.append(f"{_where(self.span)}: {head}")
            lines.extend(_excerpt(self.span))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        for note in self.notes:
            if note.span is None:
                lines.append(f"  note: {note.message}")
            else:
                lines.append(f"{_where(note.span)}: note: {note.message}")
                lines.extend(_excerpt(note.span))
        if color:
            colour = "\x1b[31;1m" if self.severity == "error" else "\x1b[33;1m"
            lines[0] = lines[0].replace(self.severity, f"{colour}{self.severity}\x1b[0m", 1)
        return "\n".join(lines)


def _where(span: Span) -> str:
    line, col = span.file.line_col(span.start)
    path = span.file.path
    if not path.isprintable():  # a hostile name must not drive the terminal
        path = ascii(path)[1:-1]
    return f"{path}:{line}:{col}"


def _excerpt(span: Span) -> list[str]:
    line, col = span.file.line_col(span.start)
    text = span.file.line_text(line)
    end_line, end_col = span.file.line_col(max(span.start, span.end - 1))
    width = (end_col - col + 1) if end_line == line else max(1, len(text) - col + 1)
    shown = text.expandtabs(1)
    gutter = f"{line:>4} | "
    return [gutter + shown, " " * len(gutter) + " " * (col - 1) + "^" * max(1, width)]


class DiagnosticSink:
    """Collects diagnostics for one run; checking goes on after an error where it can."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None,
              notes: Sequence[Note] = ()) -> None:
        d = Diagnostic("error", code, message, span, hint, tuple(notes))
        # a loop body reports its error once, not once per iteration
        if not any(_same(d, o) for o in self.items):
            self.items.append(d)

    def warning(self, code: str, message: str, span: Span | None,
                hint: str | None = None) -> None:
        self.items.append(Diagnostic("warning", code, message, span, hint))

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def render(self, color: bool = False) -> str:
        shown = sorted(self.items, key=by_position)[:MAX_SHOWN]
        out = [d.render(color) for d in shown]
        if len(self.items) > MAX_SHOWN:
            out.append(f"... and {len(self.items) - MAX_SHOWN} more")
        return "\n".join(out)


def _same(a: Diagnostic, b: Diagnostic) -> bool:
    if a.code != b.code or a.message != b.message:
        return False
    if a.span is None or b.span is None:
        return a.span is b.span
    return (a.span.file.path, a.span.start, a.span.end) == \
        (b.span.file.path, b.span.start, b.span.end)


def by_position(d: Diagnostic) -> tuple:
    """Diagnostics sorted as a reader meets them: file, then offset."""
    if d.span is None:
        return ("", 0)
    return (d.span.file.path, d.span.start)


class NasError(InputError):
    """Spec errors: carries the diagnostics; the CLI prints them and exits 1."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    def render(self, color: bool = False) -> str:
        n = sum(d.severity == "error" for d in self.diagnostics)
        return "\n".join([*(d.render(color) for d in self.diagnostics),
                          f"{n} error{'s' if n != 1 else ''}"])


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
