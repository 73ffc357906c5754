"""Identifier safety: names from a spec end up in emitted Python source.

The grammar already limits names to [A-Za-z_][A-Za-z0-9_]*; here we refuse the ones that
would be unsafe or confusing in Python: keywords, dunder names, and names that shadow
builtins or the modules the generated code uses.
"""

from __future__ import annotations

import builtins
import keyword

from nasdsl.sema.exprs import EvalError
from nasdsl.source import Span

# Names the emitted module relies on.
_EMITTED = {"torch", "nn", "F", "math", "self", "super", "forward", "Tensor"}
_BUILTINS = {n for n in dir(builtins) if not n.startswith("_")}
_ALLOWED_BUILTIN_SHADOWS: set[str] = set()
MAX_IDENT = 64


def unsafe_reason(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii():
        return "it is not an identifier"
    if len(name) > MAX_IDENT:
        return f"it is longer than {MAX_IDENT} characters"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "it is a Python keyword"
    if name.startswith("__") or name.startswith("_"):
        return "names starting with `_` are reserved"
    if name in _EMITTED:
        return "the generated code uses this name"
    if name in _BUILTINS and name not in _ALLOWED_BUILTIN_SHADOWS:
        return "it shadows a Python builtin"
    return None


def check_identifier(name: str, span: Span) -> None:
    reason = unsafe_reason(name)
    if reason is not None:
        raise EvalError("E0240", f"`{name}` cannot be used as a name: {reason}", span,
                        f"rename it, e.g. `{_suggest(name)}`")


def _suggest(name: str) -> str:
    base = name.strip("_") or "value"
    if not base[0].isalpha():
        base = "v" + base
    return (base + "_v")[:MAX_IDENT]
