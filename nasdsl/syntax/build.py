"""Parse tree -> AST. Pure structure: no name resolution, no evaluation.

NOTE: one method per rule (named after the rule or its alias); a rule without a builder
is a compiler bug and raises InternalError, unlike lark's silent pass-through.
"""

from __future__ import annotations

from typing import Any, Callable

from lark import Token, Tree

from nasdsl.diagnostics import DiagnosticSink, InternalError
from nasdsl.source import SourceFile, Span
from nasdsl.syntax import ast as A

MAX_INT_DIGITS = 18


class AstBuilder:
    def __init__(self, source: SourceFile, sink: DiagnosticSink):
        self.source = source
        self.sink = sink

    # -- helpers ----------------------------------------------------------------------
    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(self.source, node.start_pos or 0, node.end_pos or 0)
        meta = node.meta
        if getattr(meta, "empty", True):
            return Span(self.source, 0, 0)
        return Span(self.source, meta.start_pos, meta.end_pos)

    def build(self, node: Tree | Token | None) -> Any:
        if node is None:
            return None
        if isinstance(node, Token):
            return str(node)
        method: Callable[[Tree], Any] | None = getattr(self, "b_" + str(node.data), None)
        if method is None:
            raise InternalError(f"no AST builder for grammar rule `{node.data}`")
        return method(node)

    def kids(self, node: Tree) -> list[Any]:
        return [self.build(c) for c in node.children if c is not None]

    def stmts(self, node: Tree) -> tuple[A.Stmt, ...]:
        return tuple(self.build(c) for c in node.children)

    # -- units ------------------------------------------------------------------------
    def b_start(self, node: Tree) -> A.Unit:
        return self.build(node.children[0])

    def b_space(self, node: Tree) -> A.Unit:
        name, block = node.children
        return A.Unit("space", str(name), self.stmts(block), None, self.span(node))

    def b_arch(self, node: Tree) -> A.Unit:
        name, block = node.children
        return A.Unit("arch", str(name), self.stmts(block), None, self.span(node))

    def b_genotype(self, node: Tree) -> A.Unit:
        name, of, *body = node.children
        path = str(of)[1:-1] if of is not None else None
        return A.Unit("genotype", str(name), tuple(self.build(b) for b in body), path,
                      self.span(node))

    # -- statements -------------------------------------------------------------------
    def b_param_stmt(self, node: Tree) -> A.Param:
        name, value = node.children
        return A.Param(str(name), self.build(value), self.span(node))

    def b_let_stmt(self, node: Tree) -> A.Let:
        target, value = node.children
        return A.Let(self.build(target), self.build(value), self.span(node))

    def b_opset_stmt(self, node: Tree) -> A.OpSet:
        name, *entries = node.children
        return A.OpSet(str(name), tuple(self.build(e) for e in entries if e is not None),
                       self.span(node))

    def b_labelled_entry(self, node: Tree) -> A.OpSetEntry:
        label, value = node.children
        return A.OpSetEntry(str(label), self.build(value), self.span(node))

    def b_plain_entry(self, node: Tree) -> A.OpSetEntry:
        return A.OpSetEntry(None, self.build(node.children[0]), self.span(node))

    def _def(self, node: Tree) -> tuple[str, tuple[A.Formal, ...], tuple[A.Stmt, ...]]:
        name, formals, block = node.children
        return str(name), (self.build(formals) if formals is not None else ()), \
            self.stmts(block)

    def b_op_def(self, node: Tree) -> A.OpDef:
        return A.OpDef(*self._def(node), span=self.span(node))

    def b_cell_def(self, node: Tree) -> A.CellDef:
        return A.CellDef(*self._def(node), span=self.span(node))

    def b_formals(self, node: Tree) -> tuple[A.Formal, ...]:
        return tuple(self.kids(node))

    def b_formal(self, node: Tree) -> A.Formal:
        name, default = node.children
        return A.Formal(str(name), self.build(default), self.span(node))

    def b_value_choice(self, node: Tree) -> A.ValueChoice:
        target, domain = node.children
        return A.ValueChoice(self.build(target), self.build(domain), self.span(node))

    def b_input_choice(self, node: Tree) -> A.InputChoice:
        target, cands, keep = node.children
        return A.InputChoice(self.build(target), self.build(cands), self.build(keep),
                             self.span(node))

    def b_keep_exact(self, node: Tree) -> A.Keep:
        return A.Keep("exact", self.build(node.children[0]), None, self.span(node))

    def b_keep_range(self, node: Tree) -> A.Keep:
        lo, hi = node.children
        return A.Keep("range", self.build(lo), self.build(hi), self.span(node))

    def b_keep_any(self, node: Tree) -> A.Keep:
        return A.Keep("any", None, None, self.span(node))

    def b_input_stmt(self, node: Tree) -> A.Input:
        name, args = node.children
        pos, kw = self._args(args)
        return A.Input(str(name), pos, kw, self.span(node))

    def b_output_stmt(self, node: Tree) -> A.Output:
        target, value = node.children
        return A.Output(self.build(target), self.build(value), self.span(node))

    def b_assign_stmt(self, node: Tree) -> A.Assign:
        target, value = node.children
        return A.Assign(self.build(target), self.build(value), self.span(node))

    def b_target(self, node: Tree) -> A.Target:
        name, *idx = node.children
        return A.Target(str(name), tuple(self.build(i) for i in idx), self.span(node))

    def b_for_stmt(self, node: Tree) -> A.For:
        var, rng, block = node.children
        lo, hi, reverse = self._range(rng)
        return A.For(str(var), lo, hi, self.stmts(block), self.span(node), reverse)

    def _range(self, rng: Tree) -> tuple[A.Expr, A.Expr, bool]:
        lo, hi = rng.children
        return self.build(lo), self.build(hi), rng.data == "range_down"

    def b_if_stmt(self, node: Tree) -> A.If:
        cond, block, orelse = node.children
        if orelse is None:
            other = None
        elif orelse.data == "block":
            other = self.stmts(orelse)
        else:
            other = (self.build(orelse),)
        return A.If(self.build(cond), self.stmts(block), other, self.span(node))

    def b_nodes_stmt(self, node: Tree) -> A.Nodes:
        name, count, keep, *rest = node.children
        options = tuple(self.build(c) for c in rest if c.data == "node_option")
        clauses = tuple(self.build(c) for c in rest if c.data != "node_option")
        return A.Nodes(str(name), self.build(count), self.build(keep), clauses,
                       self.span(node), options)

    def b_node_option(self, node: Tree) -> A.Kwarg:
        name, value = node.children
        return A.Kwarg(str(name), self.build(value), self.span(node))

    def b_from_clause(self, node: Tree) -> A.FromClause:
        source, role, opset = node.children
        return A.FromClause(str(source), self._role(role), self.build(opset),
                            self.span(node))

    def _role(self, tok: Token | None) -> str | None:
        if tok is None:
            return None
        if str(tok) not in ("normal", "down", "up"):
            self.sink.error("E0105", f"unknown edge role `{tok}`", self.span(tok),
                            "an edge role is `normal`, `down` or `up`")
        return str(tok)

    def b_from_nodes(self, node: Tree) -> A.FromClause:
        role, opset = node.children
        return A.FromClause("nodes", self._role(role), self.build(opset), self.span(node))

    def b_return_stmt(self, node: Tree) -> A.Return:
        return A.Return(self.build(node.children[0]), self.span(node))

    def b_search_stmt(self, node: Tree) -> A.Search:
        return A.Search(tuple(self.kids(node)), self.span(node))

    def b_setting(self, node: Tree) -> A.Setting:
        name, value = node.children
        return A.Setting(str(name), self.build(value), self.span(node))

    def b_constraint_stmt(self, node: Tree) -> A.Constraint:
        return A.Constraint(self.build(node.children[0]), self.span(node))

    def b_decision(self, node: Tree) -> A.Decision:
        path, value = node.children
        return A.Decision(self.build(path), self.build(value), self.span(node))

    def b_path(self, node: Tree) -> tuple[str | int, ...]:
        head, *segs = node.children
        return (str(head),) + tuple(self.build(s) for s in segs)

    def b_path_field(self, node: Tree) -> str:
        return str(node.children[0])

    def b_path_index(self, node: Tree) -> int:
        return self._int(node.children[0])

    # -- expressions ------------------------------------------------------------------
    def _int(self, tok: Token) -> int:
        text = str(tok)
        if len(text) > MAX_INT_DIGITS:
            self.sink.error("E0102", "integer literal is too large", self.span(tok),
                            f"integers in specs have at most {MAX_INT_DIGITS} digits")
            return 0
        return int(text)

    def b_int_lit(self, node: Tree) -> A.IntLit:
        tok = node.children[0]
        return A.IntLit(self._int(tok), self.span(node))

    def b_float_lit(self, node: Tree) -> A.FloatLit:
        value = float(str(node.children[0]))
        if value != value or value in (float("inf"), float("-inf")):
            self.sink.error("E0102", "float literal is out of range", self.span(node))
            value = 0.0
        return A.FloatLit(value, self.span(node))

    def b_string_lit(self, node: Tree) -> A.StrLit:
        return A.StrLit(str(node.children[0])[1:-1], self.span(node))

    def b_true_lit(self, node: Tree) -> A.BoolLit:
        return A.BoolLit(True, self.span(node))

    def b_false_lit(self, node: Tree) -> A.BoolLit:
        return A.BoolLit(False, self.span(node))

    def b_name(self, node: Tree) -> A.Name:
        return A.Name(str(node.children[0]), self.span(node))

    def b_index(self, node: Tree) -> A.Index:
        base, idx = node.children
        return A.Index(self.build(base), self.build(idx), self.span(node))

    def b_call(self, node: Tree) -> A.Call:
        func, args = node.children
        pos, kw = self._args(args)
        return A.Call(self.build(func), pos, kw, self.span(node))

    def _args(self, args: Tree | None) -> tuple[tuple[A.Expr, ...], tuple[A.Kwarg, ...]]:
        if args is None:
            return (), ()
        pos: list[A.Expr] = []
        kw: list[A.Kwarg] = []
        for child in args.children:
            if child is None:
                continue
            built = self.build(child)
            if isinstance(built, A.Kwarg):
                kw.append(built)
            elif kw:
                self.sink.error("E0103", "positional argument after a keyword argument",
                                built.span, "put positional arguments first")
            else:
                pos.append(built)
        return tuple(pos), tuple(kw)

    def b_kwarg(self, node: Tree) -> A.Kwarg:
        name, value = node.children
        return A.Kwarg(str(name), self.build(value), self.span(node))

    def b_binop(self, node: Tree) -> A.BinOp:
        left, op, right = node.children
        return A.BinOp(str(op), self.build(left), self.build(right), self.span(node))

    def b_compare(self, node: Tree) -> A.BinOp:
        return self.b_binop(node)

    def b_pow_op(self, node: Tree) -> A.BinOp:
        return self.b_binop(node)

    def b_or_op(self, node: Tree) -> A.BinOp:
        left, right = node.children
        return A.BinOp("or", self.build(left), self.build(right), self.span(node))

    def b_and_op(self, node: Tree) -> A.BinOp:
        left, right = node.children
        return A.BinOp("and", self.build(left), self.build(right), self.span(node))

    def b_not_op(self, node: Tree) -> A.UnaryOp:
        return A.UnaryOp("not", self.build(node.children[0]), self.span(node))

    def b_neg(self, node: Tree) -> A.UnaryOp:
        return A.UnaryOp("-", self.build(node.children[0]), self.span(node))

    def b_tuple_lit(self, node: Tree) -> A.TupleLit:
        return A.TupleLit(tuple(self.kids(node)), self.span(node))

    def b_list_lit(self, node: Tree) -> A.ListLit:
        return A.ListLit(tuple(self.kids(node)), self.span(node))

    def b_comprehension(self, node: Tree) -> A.Comprehension:
        elem, var, rng = node.children
        lo, hi, reverse = self._range(rng)
        return A.Comprehension(self.build(elem), str(var), lo, hi, self.span(node), reverse)

