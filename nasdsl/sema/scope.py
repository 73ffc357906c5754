"""The elaborator's run-time scope, shared by elaborate.py, apply.py and cells.py so that
none of them reaches into another for it (and `sema/` has no import cycle): variable
scopes, the `return` signal, the call-depth limit and the loop range rule."""

from __future__ import annotations

from typing import Any

MAX_CALL_DEPTH = 64


class Return(Exception):
    """A body's `return`: unwinds to the call that runs the body (never leaves sema)."""

    def __init__(self, value: Any):
        self.value = value


class Env:
    """Function-level scope (as in Python: loops and ifs do not open a scope)."""

    def __init__(self, parent: "Env | None" = None):
        self.vars: dict[str, Any] = {}
        self.parent = parent

    def lookup(self, name: str) -> Any:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        raise KeyError(name)

    def names(self) -> set[str]:
        out: set[str] = set()
        env: Env | None = self
        while env is not None:
            out |= set(env.vars)
            env = env.parent
        return out


def loop_range(lo: int, hi: int, reverse: bool) -> range:
    """`lo..hi` is half-open; `reversed(lo..hi)` runs hi-1 down to lo."""
    return range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
