"""What may reach emitted Python source from outside the grammar, and a check of the result.

Identifiers from a spec are validated by the front end (sema/names.py) and again by
ir/names.py. The one thing that is not an identifier is a spec's *file name*, which the
emitted file cites as its provenance; `provenance` reduces it to a whitelist of harmless
printable ASCII, escaping everything else (quotes, backslashes, NUL, every kind of line
break, bidi controls) as `\\xNN`/`\\uNNNN`/`\\UNNNNNNNN`. The result is safe inside a
comment and inside a (non-raw) string literal alike.

`check_emitted` then parses the file and refuses it unless its top level only imports
torch/math and defines things (no statement that runs code on import), and unless it
names none of the builtins that reach outside a model (exec, eval, open, getattr, ...)
or a dunder attribute.
"""

from __future__ import annotations

import ast
import string

from nasdsl.diagnostics import InternalError

_SAFE = frozenset(string.ascii_letters + string.digits + " ._-+()[]@,=~")
MAX_PROVENANCE = 120
_FORBIDDEN = frozenset({"exec", "eval", "compile", "open", "__import__", "globals", "locals",
                        "vars", "getattr", "setattr", "delattr", "input", "breakpoint",
                        "os", "sys", "subprocess", "__builtins__"})
_DECORATORS = {"staticmethod", "classmethod", "property"}
_IMPORTS = {"torch", "torch.nn", "torch.nn.functional", "math"}


def provenance(name: str) -> str:
    """A file name as comment/docstring text: safe characters kept, the rest escaped."""
    short = name if len(name) <= MAX_PROVENANCE else name[:MAX_PROVENANCE] + "..."
    return "".join(ch if ch in _SAFE else _escape(ch) for ch in short)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def check_emitted(source: str) -> ast.Module:
    """Parse emitted source; refuse anything that would run code when it is imported."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InternalError(f"emitted source does not parse ({exc.msg}, line "
                            f"{exc.lineno})") from None
    for node in tree.body:
        _check_top(node)
    for node in ast.walk(tree):  # nor anything that reaches outside the model when run
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node not in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [str(node.module)]
            if any(n not in _IMPORTS for n in names):
                _refuse(node, f"imports {names}")
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN:
            _refuse(node, f"uses `{node.id}`")
        if (isinstance(node, ast.Attribute) and node.attr.startswith("__")
                and node.attr != "__init__"):
            _refuse(node, f"uses `{node.attr}`")
    return tree


def _check_top(node: ast.stmt) -> None:
    if isinstance(node, ast.Import):
        bad = [a.name for a in node.names if a.name not in _IMPORTS]
        if bad:
            _refuse(node, f"imports {bad}")
    elif isinstance(node, ast.Assign):
        if not all(isinstance(t, ast.Name) for t in node.targets):
            _refuse(node, "assigns to something other than a name")
        _no_calls(node.value, node)
    elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        _check_definition(node)
    else:
        _refuse(node, f"has a top-level {type(node).__name__}")


def _check_definition(node: ast.FunctionDef | ast.ClassDef) -> None:
    """Definitions run their decorators, defaults, bases and (classes) bodies."""
    for part in node.decorator_list:
        if not (isinstance(part, ast.Name) and part.id in _DECORATORS):
            _refuse(node, "has a decorator, which runs when imported")
    if isinstance(node, ast.FunctionDef):
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            _no_calls(default, node)
        return
    if node.keywords:
        _refuse(node, "has class keywords (a metaclass runs when imported)")
    for base in node.bases:
        _no_calls(base, node)
    for i, stmt in enumerate(node.body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            _check_definition(stmt)
        elif isinstance(stmt, ast.Assign):
            _no_calls(stmt.value, stmt)
        else:
            _refuse(stmt, f"has a {type(stmt).__name__} in the body of class {node.name}")


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _no_calls(expr: ast.AST, where: ast.stmt) -> None:
    for sub in ast.walk(expr):
        if isinstance(sub, (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield)):
            _refuse(where, "runs code when imported")


def _refuse(node: ast.AST, what: str) -> None:
    raise InternalError(f"emitted source line {getattr(node, 'lineno', '?')} {what}; "
                        "refusing to use it (a bug in nasdsl: please report it)")
