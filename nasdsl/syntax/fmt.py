"""AST -> canonical text. Idempotent; comments are kept (attached by position)."""

from __future__ import annotations

from nasdsl.syntax import ast as A

INDENT = "  "
WIDTH = 88  # op set lists wrap beyond this column

# Binding strength, loosest first; used to print the fewest parentheses that keep meaning.
_PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
         "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "neg": 7, "**": 8}
_ATOM = 10


def format_unit(unit: A.Unit) -> str:
    printer = _Printer(list(unit.comments))
    return printer.unit(unit)


class _Printer:
    def __init__(self, comments: list[tuple[int, str]]):
        self.comments = comments  # sorted by offset
        self.lines: list[str] = []

    # -- comments ---------------------------------------------------------------------
    def _flush_comments(self, before: int, depth: int) -> None:
        while self.comments and self.comments[0][0] < before:
            self.lines.append(INDENT * depth + self.comments.pop(0)[1])

    def _trailing(self, end: int, line_end: int) -> str:
        if self.comments and end <= self.comments[0][0] < line_end:
            return "  " + self.comments.pop(0)[1]
        return ""

    def _emit(self, depth: int, text: str, node: object) -> None:
        span = getattr(node, "span", None)
        if span is not None:
            self._flush_comments(span.start, depth)
        line = INDENT * depth + text
        if span is not None:
            nl = span.file.text.find("\n", span.end)
            line += self._trailing(span.end, len(span.file.text) if nl < 0 else nl)
        self.lines.append(line)

    # -- units and statements ---------------------------------------------------------
    def unit(self, u: A.Unit) -> str:
        if u.kind == "genotype":
            of = f' of "{u.space_path}"' if u.space_path is not None else ""
            head = f"genotype {u.name}{of} {{"
        else:
            head = f"{u.kind} {u.name} {{"
        self._flush_comments(u.span.start, 0)
        self.lines.append(head)
        self.block(u.body, 1)
        self._flush_comments(u.span.end, 1)
        self.lines.append("}")
        for _, text in self.comments:
            self.lines.append(text)
        return "\n".join(self.lines) + "\n"

    def block(self, body: tuple[A.Stmt, ...], depth: int) -> None:
        prev: A.Stmt | None = None
        for stmt in body:
            if prev is not None and _blank_between(prev, stmt):
                self.lines.append("")
            self.stmt(stmt, depth)
            prev = stmt

    def _open(self, depth: int, head: str, node: object, body: tuple, end: int) -> None:
        self._emit(depth, head + " {", _HeadOnly(node))
        self.block(body, depth + 1)
        self._flush_comments(end, depth + 1)
        self.lines.append(INDENT * depth + "}")

    def stmt(self, s: A.Stmt, d: int) -> None:
        e = expr
        if isinstance(s, A.Param):
            self._emit(d, f"param {s.name} = {e(s.value)}", s)
        elif isinstance(s, A.Let):
            self._emit(d, f"let {target(s.target)} = {e(s.value)}", s)
        elif isinstance(s, A.Assign):
            self._emit(d, f"{target(s.target)} = {e(s.value)}", s)
        elif isinstance(s, A.Output):
            self._emit(d, f"output {target(s.target)} = {e(s.value)}", s)
        elif isinstance(s, A.OpSet):
            items = [(f"{x.label} = " if x.label else "") + e(x.value) for x in s.entries]
            self._emit(d, _wrapped(f"opset {s.name} = [", items, "]", len(INDENT * d)), s)
        elif isinstance(s, A.ValueChoice):
            self._emit(d, f"choice {target(s.target)} in {e(s.domain)}", s)
        elif isinstance(s, A.InputChoice):
            self._emit(d, f"choice {target(s.target)} from {e(s.candidates)} "
                          f"keep {keep(s.keep)}", s)
        elif isinstance(s, A.Input):
            self._emit(d, f"input {s.name}({args(s.args, s.kwargs)})", s)
        elif isinstance(s, A.Return):
            self._emit(d, f"return {e(s.value)}", s)
        elif isinstance(s, A.Constraint):
            self._emit(d, f"constraint {e(s.expr)}", s)
        elif isinstance(s, A.Decision):
            self._emit(d, f"{A.path_text(s.path)} = {e(s.value)}", s)
        elif isinstance(s, (A.OpDef, A.CellDef)):
            kw = "op" if isinstance(s, A.OpDef) else "cell"
            self._open(d, f"{kw} {s.name}({formals(s.formals)})", s, s.body, s.span.end)
        elif isinstance(s, A.For):
            self._open(d, f"for {s.var} in {range_text(s)}", s, s.body, s.span.end)
        elif isinstance(s, A.If):
            self._if(s, d, "if")
        elif isinstance(s, A.Nodes):
            opts = "".join(f", {o.name}={e(o.value)}" for o in s.options)
            self._emit(d, f"nodes {s.name}[{e(s.count)}] keep {e(s.keep)}{opts} {{",
                       _HeadOnly(s))
            for c in s.clauses:
                role = f" {c.role}" if c.role else ""
                self._emit(d + 1, f"from {c.source}{role}: {e(c.opset)}", c)
            self._flush_comments(s.span.end, d + 1)
            self.lines.append(INDENT * d + "}")
        elif isinstance(s, A.Search):
            self._emit(d, "search {", _HeadOnly(s))
            for st in s.settings:
                self._emit(d + 1, f"{st.name} = {e(st.value)}", st)
            self._flush_comments(s.span.end, d + 1)
            self.lines.append(INDENT * d + "}")
        else:  # pragma: no cover - every statement kind is listed above
            raise TypeError(f"cannot format {type(s).__name__}")

    def _if(self, s: A.If, d: int, kw: str) -> None:
        head = f"{kw} {expr(s.cond)} {{"
        if kw == "if":
            self._emit(d, head, _HeadOnly(s))
        else:
            self.lines[-1] += " " + head.lstrip()
        self.block(s.then, d + 1)
        self.lines.append(INDENT * d + "}")
        if s.orelse is None:
            return
        if len(s.orelse) == 1 and isinstance(s.orelse[0], A.If) and _is_else_if(s):
            self._if(s.orelse[0], d, "} else if"[2:])
            return
        self.lines[-1] += " else {"
        self.block(s.orelse, d + 1)
        self.lines.append(INDENT * d + "}")


class _HeadOnly:
    """Attach comments before a block statement to its head line only."""

    def __init__(self, node: object):
        span = getattr(node, "span")
        self.span = type(span)(span.file, span.start, span.start)


def _is_else_if(s: A.If) -> bool:
    inner = s.orelse[0]  # type: ignore[index]
    text = inner.span.file.text
    before = text[: inner.span.start].rstrip()
    return before.endswith("else")


def _blank_between(a: A.Stmt, b: A.Stmt) -> bool:
    text = a.span.file.text
    return "\n\n" in text[a.span.end: b.span.start].replace(" ", "").replace("\t", "")


# ---- expressions -------------------------------------------------------------------
def target(t: A.Target) -> str:
    return t.name + "".join(f"[{expr(i)}]" for i in t.indices)


def keep(k: A.Keep) -> str:
    if k.kind == "any":
        return "any"
    if k.kind == "range":
        return f"{expr(k.lo)}..{expr(k.hi)}"  # type: ignore[arg-type]
    return expr(k.lo)  # type: ignore[arg-type]


def range_text(r: A.For | A.Comprehension) -> str:
    text = f"{expr(r.lo)}..{expr(r.hi)}"
    return f"reversed({text})" if r.reverse else text


def formals(fs: tuple[A.Formal, ...]) -> str:
    return ", ".join(f.name + (f"={expr(f.default)}" if f.default is not None else "")
                     for f in fs)


def _wrapped(head: str, items: list[str], tail: str, indent: int) -> str:
    """`head a, b, c tail`, continued under the first item when it would pass WIDTH."""
    one_line = head + ", ".join(items) + tail
    if indent + len(one_line) <= WIDTH or not items:  # nothing to wrap: keep the tail
        return one_line
    pad = " " * (indent + len(head))
    lines, current = [], head
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else tail)
        if current not in (head, pad) and indent + len(current) + 1 + len(piece) > WIDTH:
            lines.append(current)
            current = pad + piece
        else:
            current += ("" if current in (head, pad) else " ") + piece
    lines.append(current)
    return "\n".join(lines)


def args(pos: tuple[A.Expr, ...], kw: tuple[A.Kwarg, ...]) -> str:
    return ", ".join([expr(a) for a in pos] + [f"{k.name}={expr(k.value)}" for k in kw])


def expr(e: A.Expr, outer: int = 0) -> str:
    text, prec = _expr(e)
    return f"({text})" if prec < outer else text


def _expr(e: A.Expr) -> tuple[str, int]:
    if isinstance(e, A.IntLit):
        return str(e.value), _ATOM
    if isinstance(e, A.FloatLit):
        return repr(e.value), _ATOM
    if isinstance(e, A.StrLit):
        return f'"{e.value}"', _ATOM
    if isinstance(e, A.BoolLit):
        return ("true" if e.value else "false"), _ATOM
    if isinstance(e, A.Name):
        return e.id, _ATOM
    if isinstance(e, A.Index):
        return f"{expr(e.base, _ATOM)}[{expr(e.index)}]", _ATOM
    if isinstance(e, A.Call):
        return f"{expr(e.func, _ATOM)}({args(e.args, e.kwargs)})", _ATOM
    if isinstance(e, A.TupleLit):
        inner = ", ".join(expr(i) for i in e.items)
        return (f"({inner},)" if len(e.items) == 1 else f"({inner})"), _ATOM
    if isinstance(e, A.ListLit):
        return "[" + ", ".join(expr(i) for i in e.items) + "]", _ATOM
    if isinstance(e, A.Comprehension):
        return (f"[{expr(e.element)} for {e.var} in {range_text(e)}]", _ATOM)
    if isinstance(e, A.UnaryOp):
        if e.op == "not":
            return f"not {expr(e.operand, _PREC['not'])}", _PREC["not"]
        return f"-{expr(e.operand, _PREC['neg'])}", _PREC["neg"]
    if isinstance(e, A.BinOp):
        p = _PREC[e.op]
        if e.op == "**":  # right-associative; its right side is a unary
            return f"{expr(e.left, _ATOM)} ** {expr(e.right, _PREC['neg'])}", p
        if p == 4:  # comparisons do not chain
            return f"{expr(e.left, p + 1)} {e.op} {expr(e.right, p + 1)}", p
        return f"{expr(e.left, p)} {e.op} {expr(e.right, p + 1)}", p
    raise TypeError(f"cannot format {type(e).__name__}")
