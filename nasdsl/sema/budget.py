"""Bounded elaboration: a work budget, list-size caps and the spec's call stack.

A spec is a small program, so a hostile or mistaken one could loop for minutes or grow
lists without bound. Every loop iteration, comprehension element, statement and
op/cell call costs one step; past MAX_WORK the elaboration stops with one diagnostic
pointing at the innermost running construct. The frame stack also gives errors inside
op and cell bodies a traceback of the spec (the calls and loop indices in effect).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

from nasdsl.diagnostics import Note
from nasdsl.sema.exprs import MAX_LIST
from nasdsl.source import Span

MAX_WORK = 100_000      # steps: under a second; the shipped specs use < 4,000
MAX_TOTAL_WORK = 300_000  # steps of all elaborations of one check (shipped: < 30,000)
NODE_COST = 5           # an op added to the network, or an op or cell call, costs more
CHOICE_COST = 10        # so does a choice (a decision point, recorded and decided)
MAX_NOTES = 6           # call-stack notes shown per diagnostic
__all__ = ["MAX_WORK", "MAX_TOTAL_WORK", "Total", "total_budget", "MAX_LIST", "NODE_COST", "CHOICE_COST", "Budget", "Frame", "Exhausted"]


@dataclass
class Frame:
    """One running construct: a call of an op or cell, or a loop."""
    kind: str                 # "call" | "loop"
    name: str                 # callee, or loop variable
    span: Span
    loops: list[tuple[str, int]] = field(default_factory=list)  # loop indices inside
    choices: str = ""         # choice values passed to the call: "k = 5"


class Exhausted(Exception):
    """The work budget ran out: elaboration stops (not recoverable per statement)."""

    def __init__(self, code: str, message: str, span: Span | None, hint: str,
                 notes: tuple[Note, ...]):
        super().__init__(message)
        self.code, self.message, self.span, self.hint, self.notes = \
            code, message, span, hint, notes


class Total:
    """Work of a whole check: a space may be elaborated many times (structural choices
    restart it, the decision table explores it), so the steps add up across them."""

    def __init__(self, limit: int = MAX_TOTAL_WORK):
        self.limit = limit
        self.used = 0
        self.elaborations = 0
        self.exhausted: Exhausted | None = None


_TOTAL: ContextVar[Total | None] = ContextVar("nasdsl_total_work", default=None)


@contextmanager
def total_budget(limit: int = MAX_TOTAL_WORK) -> Iterator[Total]:
    """Count the work of every elaboration inside (one `compile_spec`)."""
    outer = _TOTAL.get()
    if outer is not None:   # nested: the outer check's budget applies
        yield outer
        return
    total = Total(limit)
    token = _TOTAL.set(total)
    try:
        yield total
    finally:
        _TOTAL.reset(token)


class Budget:
    """Counts steps and keeps the stack of running calls and loops."""

    def __init__(self, limit: int = MAX_WORK):
        self.limit = limit
        self.used = 0
        self.frames: list[Frame] = []
        self.total = _TOTAL.get()
        if self.total is not None:
            self.total.elaborations += 1

    def tick(self, span: Span | None, n: int = 1) -> None:
        self.used += n
        if self.used > self.limit:
            self._exhausted(span)
        if self.total is not None:
            self.total.used += n
            if self.total.used > self.total.limit:
                self._total_exhausted(span)

    def _total_exhausted(self, span: Span | None) -> None:
        total = self.total
        assert total is not None
        if total.exhausted is None:
            total.exhausted = Exhausted(
                "E0238", f"checking stopped after {total.limit:,} steps in "
                f"{total.elaborations} elaborations of the spec", span,
                "choices used in arithmetic, conditions or loop bounds make the space "
                "be elaborated once per value (structural choices); use fewer of them, "
                "or fewer values", self.notes())
        raise total.exhausted

    def _exhausted(self, span: Span | None) -> None:
        inner = self.frames[-1] if self.frames else None
        where = span if inner is None else inner.span
        what = "this construct does"
        if inner is not None:
            what = f"the loop over `{inner.name}` does" if inner.kind == "loop" else \
                f"the calls of `{inner.name}` (recursion?) do"
        raise Exhausted("E0238", f"elaboration stopped after {self.limit:,} steps",
                        where, f"{what} too much work: specs are limited to "
                        f"{self.limit:,} steps (loop iterations, list items, statements, "
                        f"built-in calls; an op added to the network or a call of an op or cell "
                        f"costs {NODE_COST}, a choice {CHOICE_COST})", self.notes(skip_last=True))

    # ---- the stack ---------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        self.frames.append(frame)

    def pop(self) -> None:
        self.frames.pop()

    def set_index(self, value: int) -> None:
        """The current iteration of the innermost loop frame."""
        frame = self.frames[-1]
        frame.loops = [(frame.name, value)]

    def notes(self, skip_last: bool = False) -> tuple[Note, ...]:
        """Innermost first: `in `block` called here (i = 2)` and loop iterations."""
        frames = self.frames[:-1] if skip_last else self.frames
        out: list[Note] = []
        for frame in reversed(frames):
            out.append(Note(frame.span, _describe(frame, self._indices_outside(frame))))
        return _collapse(out)

    def _indices_outside(self, frame: Frame) -> str:
        """Loop indices in effect where `frame` started (its enclosing loops)."""
        pairs: list[str] = []
        for f in self.frames:
            if f is frame:
                break
            if f.kind == "call":
                pairs = []   # a callee does not see its caller's loop variables
            else:
                pairs.extend(f"{n} = {v}" for n, v in f.loops)
        return ", ".join(pairs)

    def call_stack_notes(self) -> tuple[Note, ...]:
        """Notes for an error inside an op or cell body; empty at the top level."""
        if not any(f.kind == "call" for f in self.frames):
            return self._loop_note()
        out: list[Note] = list(self._loop_note())
        for frame in reversed(self.frames):
            if frame.kind == "call":
                out.append(Note(frame.span, _describe(frame, self._indices_outside(frame))))
        return _collapse(out)

    def _loop_note(self) -> tuple[Note, ...]:
        """The iteration of the loops around the failing statement in its own body."""
        pairs: list[str] = []
        for f in reversed(self.frames):
            if f.kind == "call":
                break
            pairs[:0] = [f"{n} = {v}" for n, v in f.loops]
        return (Note(None, "in the iteration with " + ", ".join(pairs)),) if pairs else ()


def _describe(frame: Frame, outside: str) -> str:
    if frame.kind == "loop":
        return f"in the loop over `{frame.name}`"
    text = f"in `{frame.name}`, called here"
    context = ", ".join(c for c in (outside, frame.choices) if c)
    return f"{text} ({context})" if context else text


def _collapse(notes: list[Note]) -> tuple[Note, ...]:
    """Recursion repeats one call site: show it once with a count."""
    out: list[tuple[Note, int]] = []
    for note in notes:
        if out and out[-1][0] == note:
            out[-1] = (note, out[-1][1] + 1)
        else:
            out.append((note, 1))
    shown = [n if k == 1 else Note(n.span, f"{n.message} ({k} times)") for n, k in out]
    if len(shown) > MAX_NOTES:   # deep recursion: the innermost calls and the first
        hidden = len(shown) - MAX_NOTES + 1
        shown = shown[:MAX_NOTES - 2] + [Note(None, f"... {hidden} more calls")] + shown[-1:]
    return tuple(shown)
