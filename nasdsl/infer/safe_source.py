"""Run emitted model source only after checking its syntax tree.

The emitter escapes everything that comes from a .nas file, so this is a second line of
defence: the source must parse, import only torch, and call none of the builtins that
reach outside the model (exec, eval, open, __import__, ...). Only then is it imported.
"""

from __future__ import annotations

import ast
import types

from nasdsl.diagnostics import InternalError

ALLOWED_IMPORTS = ("torch", "torch.nn", "torch.nn.functional", "math", "typing",
                   "__future__")
FORBIDDEN_NAMES = frozenset({"exec", "eval", "compile", "open", "__import__", "globals",
                             "locals", "vars", "getattr", "setattr", "delattr", "input",
                             "breakpoint", "os", "sys", "subprocess"})


def check_source(source: str) -> ast.Module:
    """Parse and vet emitted source; an InternalError (a nasdsl bug) if it breaks a rule."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise InternalError(f"emitted model source does not parse: {err}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name not in ALLOWED_IMPORTS]
        elif isinstance(node, ast.ImportFrom):
            bad = [] if node.module in ALLOWED_IMPORTS else [str(node.module)]
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            bad = [node.id]
        else:
            continue
        if bad:
            raise InternalError(f"emitted model source uses `{bad[0]}` (line "
                                f"{getattr(node, 'lineno', '?')}); refusing to run it")
    return tree


def load_checked(source: str, name: str = "nasdsl_model") -> types.ModuleType:
    from nasdsl.backends.onnx_export import load_emitted

    check_source(source)
    return load_emitted(source, name)


__all__ = ["check_source", "load_checked"]
