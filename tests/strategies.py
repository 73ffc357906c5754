"""Hypothesis generators for `.nas` units, shared by the syntax property tests.

Every generator builds the *text* of a syntactically valid unit, with arbitrary (but
legal) spacing, redundant parentheses and comments, together with the AST the parser
must produce for it.  Spans are irrelevant to AST equality, so the expected nodes carry
``span=None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

from nasdsl.syntax import ast as A

# Keywords excluded from NAME by the grammar's lookahead; `reversed` is one only where a
# range starts (`for i in reversed(a..b)`), so generated names avoid it too.
KEYWORDS = frozenset(
    "space arch genotype of param let opset op cell choice in from keep any input output "
    "for if else nodes return search constraint or and not true false".split())
RANGE_WORDS = frozenset({"reversed"})

# Names that start or end like keywords: they must lex as NAME, not as keyword + NAME.
TRICKY_NAMES = ["ifx", "if_", "in1", "int", "index", "input_x", "inputs", "nodes2",
                "nodes_", "orx", "order", "android", "notable", "not_", "true_", "falsey",
                "anything", "keeper", "cells", "ops", "opsets", "format", "returns",
                "searching", "elsewhere", "letter", "params", "arches", "spacey", "of_",
                "e5", "E1", "_", "__", "normal", "down", "up", "x", "y"]

_ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
# Now and then a long name, so that the formatter's line wrapping is exercised too.
_long_ident = st.integers(20, 95).flatmap(
    lambda n: st.from_regex(rf"[A-Za-z_][A-Za-z0-9_]{{{n}}}", fullmatch=True))
names = st.one_of(st.sampled_from(TRICKY_NAMES),
                  _ident.filter(lambda s: s not in KEYWORDS | RANGE_WORDS),
                  st.integers(0, 9).flatmap(
                      lambda i: _long_ident if i == 0 else st.sampled_from(TRICKY_NAMES)))

# Text of a string literal / comment: no NUL (load_source rejects it), no surrogates.
# Characters that the comment/bracket scanners in parse.py care about are drawn often.
_SPECIAL = "#\"'()[]{}:;.=\t\r\x0b\x0c\x85\u2028 "
_str_chars = st.one_of(
    st.sampled_from([c for c in _SPECIAL if c != '"']),
    st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\n\x00'))
_comment_chars = st.one_of(
    st.sampled_from(_SPECIAL + "\\"),
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\x00"))
comment_texts = st.text(_comment_chars, max_size=24).map(lambda s: "#" + s)

# Precedence levels of the grammar, loosest first (see grammars/nas.lark).
OR, AND, NOT, CMP, ADD, MUL, UNARY, POW, POSTFIX, ATOM = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

COMP_OPS = ["==", "!=", "<=", ">=", "<", ">"]
ADD_OPS = ["+", "-"]
MUL_OPS = ["*", "/", "//", "%"]

_WORD_END = re.compile(r"[A-Za-z0-9_.]$")
_WORD_START = re.compile(r"^[A-Za-z0-9_]")


@dataclass
class Gen:
    """Draws one unit's pieces; `comments` turns on comments inside the layout."""

    draw: object
    comments: bool = True
    max_depth: int = 3

    # -- layout -------------------------------------------------------------------------
    def ws(self, required: bool) -> str:
        choices = [" ", "  ", "\n", "\t", "\n    ", " \n\n  "]
        if not required:
            choices = ["", ""] + choices
        out = self.draw(st.sampled_from(choices))
        if self.comments and self.draw(st.integers(0, 19)) == 0:
            out += " " + self.draw(comment_texts) + "\n"
        return out

    def join(self, *parts: str) -> str:
        out = ""
        for part in parts:
            if not part:
                continue
            if out:
                need = bool(_WORD_END.search(out) and _WORD_START.search(part))
                out += self.ws(need)
            out += part
        return out

    def name(self) -> str:
        return self.draw(names)

    def range(self, depth: int) -> tuple[str, A.Expr, A.Expr, bool]:
        """`lo..hi` or `reversed(lo..hi)`: (text, lo, hi, reverse)."""
        lt, lo = self.expr(depth)
        ht, hi = self.expr(depth)
        if self.draw(st.booleans()):
            return self.join("reversed", "(", lt, "..", ht, ")"), lo, hi, True
        return self.join(lt, "..", ht), lo, hi, False

    # -- expressions: (text, level, ast) ----------------------------------------------------
    def expr(self, depth: int, level: int = OR) -> tuple[str, A.Expr]:
        """An expression usable where the grammar wants `level` (parenthesised if needed)."""
        text, lvl, node = self._expr(depth)
        if lvl < level or self.draw(st.integers(0, 9)) == 0:
            text, lvl = self.join("(", text, ")"), ATOM
        return text, node

    def _leaf(self) -> tuple[str, int, A.Expr]:
        kind = self.draw(st.sampled_from(["int", "float", "str", "bool", "name", "name"]))
        if kind == "int":
            v = self.draw(st.one_of(st.integers(0, 20), st.integers(0, 10 ** 18 - 1)))
            return str(v), ATOM, A.IntLit(v, None)
        if kind == "float":
            text = self.draw(float_texts)
            return text, ATOM, A.FloatLit(float(text), None)
        if kind == "str":
            s = self.draw(st.text(_str_chars, max_size=12))
            return f'"{s}"', ATOM, A.StrLit(s, None)
        if kind == "bool":
            b = self.draw(st.booleans())
            return ("true" if b else "false"), ATOM, A.BoolLit(b, None)
        n = self.name()
        return n, ATOM, A.Name(n, None)

    def _expr(self, depth: int) -> tuple[str, int, A.Expr]:
        if depth <= 0 or self.draw(st.integers(0, 3)) == 0:
            return self._leaf()
        d = depth - 1
        kind = self.draw(st.sampled_from(
            ["or", "and", "not", "cmp", "add", "mul", "neg", "pow", "index", "call",
             "tuple", "list", "comp", "paren"]))
        if kind in ("or", "and"):
            lv = OR if kind == "or" else AND
            lt, l = self.expr(d, lv)
            rt, r = self.expr(d, lv + 1)
            return self.join(lt, kind, rt), lv, A.BinOp(kind, l, r, None)
        if kind == "not":
            t, x = self.expr(d, NOT)
            return self.join("not", t), NOT, A.UnaryOp("not", x, None)
        if kind in ("cmp", "add", "mul"):
            op = self.draw(st.sampled_from(
                {"cmp": COMP_OPS, "add": ADD_OPS, "mul": MUL_OPS}[kind]))
            lv = {"cmp": CMP, "add": ADD, "mul": MUL}[kind]
            lt, l = self.expr(d, ADD if kind == "cmp" else lv)
            rt, r = self.expr(d, lv + 1)
            return self.join(lt, op, rt), lv, A.BinOp(op, l, r, None)
        if kind == "neg":
            t, x = self.expr(d, UNARY)
            return self.join("-", t), UNARY, A.UnaryOp("-", x, None)
        if kind == "pow":
            lt, l = self.expr(d, POSTFIX)
            rt, r = self.expr(d, UNARY)
            return self.join(lt, "**", rt), POW, A.BinOp("**", l, r, None)
        if kind == "index":
            bt, b = self.expr(d, POSTFIX)
            it, i = self.expr(d)
            return self.join(bt, "[", it, "]"), POSTFIX, A.Index(b, i, None)
        if kind == "call":
            ft, f = self.expr(d, POSTFIX)
            at, pos, kw = self.args(d)
            return self.join(ft, "(", at, ")"), POSTFIX, A.Call(f, pos, kw, None)
        if kind == "tuple":
            items = [self.expr(d) for _ in range(self.draw(st.integers(1, 3)))]
            trailing = len(items) == 1 or self.draw(st.booleans())
            text = self.join("(", self.commas([t for t, _ in items], trailing), ")")
            return text, ATOM, A.TupleLit(tuple(n for _, n in items), None)
        if kind == "list":
            items = [self.expr(d) for _ in range(self.draw(st.integers(0, 3)))]
            trailing = bool(items) and self.draw(st.booleans())
            text = self.join("[", self.commas([t for t, _ in items], trailing), "]")
            return text, ATOM, A.ListLit(tuple(n for _, n in items), None)
        if kind == "comp":
            et, e = self.expr(d)
            var = self.name()
            rt, lo, hi, rev = self.range(d)
            text = self.join("[", et, "for", var, "in", rt, "]")
            return text, ATOM, A.Comprehension(e, var, lo, hi, None, rev)
        # paren: a redundant pair around any expression
        t, x = self.expr(d)
        return self.join("(", t, ")"), ATOM, x

    def commas(self, items: list[str], trailing: bool) -> str:
        parts: list[str] = []
        for i, t in enumerate(items):
            parts.append(t)
            if i < len(items) - 1 or trailing:
                parts.append(",")
        return self.join(*parts)

    def args(self, depth: int) -> tuple[str, tuple[A.Expr, ...], tuple[A.Kwarg, ...]]:
        pos = [self.expr(depth) for _ in range(self.draw(st.integers(0, 2)))]
        kw = []
        for _ in range(self.draw(st.integers(0, 2))):
            n = self.name()
            vt, v = self.expr(depth)
            kw.append((self.join(n, "=", vt), A.Kwarg(n, v, None)))
        texts = [t for t, _ in pos] + [t for t, _ in kw]
        trailing = bool(texts) and self.draw(st.booleans())
        return (self.commas(texts, trailing), tuple(n for _, n in pos),
                tuple(n for _, n in kw))

    def target(self, depth: int) -> tuple[str, A.Target]:
        n = self.name()
        idx = [self.expr(depth) for _ in range(self.draw(st.integers(0, 2)))]
        parts = [n]
        for t, _ in idx:
            parts += ["[", t, "]"]
        return self.join(*parts), A.Target(n, tuple(x for _, x in idx), None)

    # -- statements -------------------------------------------------------------------------
    def block(self, depth: int) -> tuple[str, tuple[A.Stmt, ...]]:
        stmts = [self.stmt(depth) for _ in range(self.draw(st.integers(0, 3)))]
        body = self.join("{", *[self.spaced(t) for t, _ in stmts], "}")
        return body, tuple(s for _, s in stmts)

    def spaced(self, text: str) -> str:
        """A statement with optional own-line comments before it and a trailing one."""
        if not self.comments:
            return text
        before = self.draw(st.lists(comment_texts, max_size=2))
        out = "".join("\n" + c + "\n" for c in before) + text
        if self.draw(st.integers(0, 4)) == 0:
            out += "  " + self.draw(comment_texts) + "\n"
        if self.draw(st.integers(0, 4)) == 0:
            out += "\n\n"
        return out

    def stmt(self, depth: int) -> tuple[str, A.Stmt]:
        ed = self.draw(st.integers(0, self.max_depth))  # expression depth
        kinds = ["param", "let", "opset", "value_choice", "input_choice", "input", "output",
                 "assign", "return", "search", "constraint", "nodes"]
        if depth > 0:
            kinds += ["op", "cell", "for", "if", "if", "if"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "param":
            n = self.name()
            vt, v = self.expr(ed)
            return self.join("param", n, "=", vt), A.Param(n, v, None)
        if kind in ("let", "output", "assign"):
            tt, t = self.target(ed)
            vt, v = self.expr(ed)
            cls = {"let": A.Let, "output": A.Output, "assign": A.Assign}[kind]
            kw = "" if kind == "assign" else kind
            return self.join(kw, tt, "=", vt), cls(t, v, None)
        if kind == "opset":
            return self.opset(ed)
        if kind in ("op", "cell"):
            n = self.name()
            formals = []
            for _ in range(self.draw(st.integers(0, 3))):
                fn = self.name()
                if self.draw(st.booleans()):
                    dt, dv = self.expr(ed)
                    formals.append((self.join(fn, "=", dt), A.Formal(fn, dv, None)))
                else:
                    formals.append((fn, A.Formal(fn, None, None)))
            trailing = bool(formals) and self.draw(st.booleans())
            bt, body = self.block(depth - 1)
            text = self.join(kind, n, "(", self.commas([t for t, _ in formals], trailing),
                             ")", bt)
            cls = A.OpDef if kind == "op" else A.CellDef
            return text, cls(n, tuple(f for _, f in formals), body, None)
        if kind == "value_choice":
            tt, t = self.target(ed)
            dt, dv = self.expr(ed)
            return self.join("choice", tt, "in", dt), A.ValueChoice(t, dv, None)
        if kind == "input_choice":
            tt, t = self.target(ed)
            ct, cv = self.expr(ed)
            k = self.draw(st.sampled_from(["exact", "range", "any"]))
            if k == "any":
                kt, keep = "any", A.Keep("any", None, None, None)
            elif k == "exact":
                lt, lo = self.expr(ed)
                kt, keep = lt, A.Keep("exact", lo, None, None)
            else:
                lt, lo = self.expr(ed)
                ht, hi = self.expr(ed)
                kt, keep = self.join(lt, "..", ht), A.Keep("range", lo, hi, None)
            return (self.join("choice", tt, "from", ct, "keep", kt),
                    A.InputChoice(t, cv, keep, None))
        if kind == "input":
            n = self.name()
            at, pos, kw = self.args(ed)
            return self.join("input", n, "(", at, ")"), A.Input(n, pos, kw, None)
        if kind == "return":
            vt, v = self.expr(ed)
            return self.join("return", vt), A.Return(v, None)
        if kind == "constraint":
            vt, v = self.expr(ed)
            return self.join("constraint", vt), A.Constraint(v, None)
        if kind == "search":
            settings = []
            for _ in range(self.draw(st.integers(0, 3))):
                n = self.name()
                vt, v = self.expr(ed)
                settings.append((self.spaced(self.join(n, "=", vt)), A.Setting(n, v, None)))
            text = self.join("search", "{", *[t for t, _ in settings], "}")
            return text, A.Search(tuple(s for _, s in settings), None)
        if kind == "nodes":
            n = self.name()
            ct, count = self.expr(ed)
            kt, keep = self.expr(ed)
            clauses = []
            for _ in range(self.draw(st.integers(0, 3))):
                src = self.draw(st.one_of(st.just("nodes"), names))
                role = self.draw(st.sampled_from([None, "normal", "down", "up"]))
                ot, opset = self.expr(ed)
                text = self.join("from", src, role or "", ":", ot)
                clauses.append((self.spaced(text), A.FromClause(src, role, opset, None)))
            options = []
            for _ in range(self.draw(st.integers(0, 2))):
                on = self.name()
                vt, v = self.expr(ed)
                options.append((self.join(",", on, "=", vt), A.Kwarg(on, v, None)))
            text = self.join("nodes", n, "[", ct, "]", "keep", kt, *[t for t, _ in options],
                             "{", *[t for t, _ in clauses], "}")
            return text, A.Nodes(n, count, keep, tuple(c for _, c in clauses), None,
                                 tuple(o for _, o in options))
        if kind == "for":
            v = self.name()
            rt, lo, hi, rev = self.range(ed)
            bt, body = self.block(depth - 1)
            return self.join("for", v, "in", rt, bt), A.For(v, lo, hi, body, None, rev)
        assert kind == "if"
        return self.if_stmt(depth, ed)

    def opset(self, ed: int, max_entries: int = 8) -> tuple[str, A.OpSet]:
        n = self.draw(st.one_of(names, _long_ident))  # long heads make lists wrap
        entries = []
        for _ in range(self.draw(st.integers(0, max_entries))):
            vt, v = self.expr(ed)
            if self.draw(st.booleans()):
                label = self.name()
                entries.append((self.join(label, "=", vt), A.OpSetEntry(label, v, None)))
            else:
                entries.append((vt, A.OpSetEntry(None, v, None)))
        trailing = bool(entries) and self.draw(st.booleans())
        text = self.join("opset", n, "=", "[",
                         self.commas([t for t, _ in entries], trailing), "]")
        return text, A.OpSet(n, tuple(e for _, e in entries), None)

    def if_stmt(self, depth: int, ed: int) -> tuple[str, A.If]:
        ct, cond = self.expr(ed)
        bt, then = self.block(depth - 1)
        forms = ["none", "else"] + (["elif", "else_block_if"] if depth > 1 else [])
        form = self.draw(st.sampled_from(forms))
        if form == "none":
            return self.join("if", ct, bt), A.If(cond, then, None, None)
        if form == "else":
            et, orelse = self.block(depth - 1)
            return self.join("if", ct, bt, "else", et), A.If(cond, then, orelse, None)
        it, inner = self.if_stmt(depth - 1, ed)
        if form == "elif":
            return self.join("if", ct, bt, "else", it), A.If(cond, then, (inner,), None)
        # `else { if ... }` is the same AST as `else if ...`
        return (self.join("if", ct, bt, "else", "{", it, "}"),
                A.If(cond, then, (inner,), None))

    # -- units --------------------------------------------------------------------------------
    def unit(self) -> tuple[str, A.Unit]:
        kind = self.draw(st.sampled_from(["space", "arch", "genotype"]))
        name = self.name()
        if kind == "genotype":
            return self.genotype(name)
        stmts = [self.stmt(self.max_depth - 1) for _ in range(self.draw(st.integers(0, 5)))]
        text = self.join(kind, name, "{", *[self.spaced(t) for t, _ in stmts], "}")
        return self.frame(text), A.Unit(kind, name, tuple(s for _, s in stmts), None, None)

    def genotype(self, name: str) -> tuple[str, A.Unit]:
        path = self.draw(st.one_of(st.none(), st.text(_str_chars, max_size=12).map(
            lambda s: s + ".nas")))
        body = []
        for _ in range(self.draw(st.integers(0, 6))):
            vt, v = self.expr(self.draw(st.integers(0, self.max_depth)))
            if self.draw(st.integers(0, 3)) == 0:
                n = self.name()
                body.append((self.join("param", n, "=", vt), A.Param(n, v, None)))
                continue
            head = self.name()
            segs: list[str | int] = [head]
            parts = [head]
            for _ in range(self.draw(st.integers(0, 3))):
                if self.draw(st.booleans()):
                    f = self.name()
                    segs.append(f)
                    parts += [".", f]
                else:
                    i = self.draw(st.integers(0, 10 ** 6))
                    segs.append(i)
                    parts += ["[", str(i), "]"]
            body.append((self.join(*parts, "=", vt), A.Decision(tuple(segs), v, None)))
        of = ["of", f'"{path}"'] if path is not None else []
        text = self.join("genotype", name, *of, "{", *[self.spaced(t) for t, _ in body], "}")
        return self.frame(text), A.Unit("genotype", name, tuple(b for _, b in body), path, None)

    def frame(self, text: str) -> str:
        """Leading/trailing layout and comments around the whole unit."""
        lead = self.draw(st.sampled_from(["", "\n", "  \n"]))
        tail = self.draw(st.sampled_from(["", "\n", "\n\n"]))
        if self.comments:
            lead = "".join(c + "\n" for c in self.draw(st.lists(comment_texts, max_size=2))) + lead
            tail += "".join("\n" + c for c in self.draw(st.lists(comment_texts, max_size=2)))
        return lead + text + tail


_digits = st.integers(0, 99999).map(str)
float_texts = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", _digits, _digits),
    st.builds(lambda a, b, s, e: f"{a}.{b}{s}{e}", _digits, _digits,
              st.sampled_from(["e", "E", "e+", "e-", "E-"]), st.integers(0, 300)),
    st.builds(lambda a, s, e: f"{a}{s}{e}", _digits,
              st.sampled_from(["e", "E", "e+", "e-"]), st.integers(0, 300)),
)


@st.composite
def units(draw, comments: bool = True, max_depth: int = 3) -> tuple[str, A.Unit]:
    """(text, expected AST) of a random valid unit."""
    return Gen(draw, comments, max_depth).unit()


@st.composite
def opset_units(draw) -> tuple[str, A.Unit]:
    """(text, AST) of a space holding one op set under 0-3 nested `for` blocks."""
    g = Gen(draw, draw(st.booleans()), 2)
    text, node = g.opset(draw(st.integers(0, 2)), 12)
    for _ in range(draw(st.integers(0, 3))):
        var = g.name()
        text = g.join("for", var, "in", "0", "..", "1", "{", text, "}")
        node = A.For(var, A.IntLit(0, None), A.IntLit(1, None), (node,), None)
    return g.join("space", "S", "{", text, "}"), A.Unit("space", "S", (node,), None, None)


@st.composite
def exprs(draw, max_depth: int = 4) -> tuple[str, A.Expr]:
    """(text, expected AST) of a random expression (no comments)."""
    return Gen(draw, False, max_depth).expr(max_depth)


# Token regex for mutating valid specs (comments and strings kept whole).
TOKEN_RE = re.compile(
    r'#[^\n]*|"[^"\n]*"|\*\*|//|==|!=|<=|>=|\.\.|[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?'
    r'|[0-9]+[eE][-+]?[0-9]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*|\S')


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


# Tokens of the language, for token-soup robustness inputs.
SOUP = sorted(KEYWORDS) + ["x", "n", "f", "0", "1", "2.5", "1e3", '"s"', "(", ")", "[",
                           "]", "{", "}", ",", "=", ":", ".", "..", "+", "-", "*", "/",
                           "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "# c\n",
                           "\n", "'", ";", "@"]
