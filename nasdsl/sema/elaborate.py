"""Elaboration: AST -> graph IR + decision table.

The spec is run as a small program: parameters folded, loops unrolled, composite ops
expanded, cells instantiated, every op application shape-checked against the registry.
Choices take their value from an assignment (a genotype, or an engine's sample); when
undecided, cell nodes become `mixed`/`choose` nodes and, with `relax`, value and op
choices become mixed nodes too unless structural (sema/choices.py, sema/explore.py);
otherwise they take their first value. Errors are collected per statement; a failed statement binds
POISON so that later uses stay silent instead of cascading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nasdsl.diagnostics import DiagnosticSink, InternalError, Note, suggest
from nasdsl.enginespec import ENGINES, check_block, resolve, setting_problems
from nasdsl.ir.decisions import DecisionPoint, DecisionTable
from nasdsl.ir.graph import Alternative, Call, CellInstance, Graph, Node
from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY, OpError
from nasdsl.sema import exprs as X
from nasdsl.sema import apply, strides
from nasdsl.sema.cells import elaborate_nodes
from nasdsl.sema.budget import (CHOICE_COST, MAX_LIST, NODE_COST, Budget,
                                 Exhausted, Frame)
from nasdsl.sema.choices import Pending
from nasdsl.sema.exprs import EvalError, Indexed, Silent
from nasdsl.sema.names import check_identifier
from nasdsl.sema.scope import Env, Return, loop_range
from nasdsl.sema.values import (POISON, CellVal, OpRef, OpSetVal, Symbol, Tensor, show,
                                value_key)
from nasdsl.source import Span
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr

MAX_NODES = 200_000


@dataclass
class Result:
    graph: Graph | None
    table: DecisionTable
    params: dict[str, Any]
    search: dict[str, Any]
    constraints: tuple[A.Constraint, ...]
    used_decisions: dict[str, Any] = field(default_factory=dict)


class Elaborator:
    def __init__(self, unit: A.Unit, sink: DiagnosticSink, overrides: dict[str, Any],
                 assignment: dict[str, Any] | None = None,
                 input_size: tuple[int, ...] | None = None,
                 relax: bool = False,
                 structural: frozenset[str] = frozenset()):
        self.unit = unit
        # relax: undecided value/op choices bind Pending (lowered to mixed nodes) unless
        # they are in `structural`, which are decided (see sema/choices.py)
        self.relax = relax
        self.structural = structural
        self.loops: tuple[int, ...] = ()  # indices of the enclosing `for` loops of a body
        self.sink = sink
        self.overrides = overrides
        self.assignment = assignment or {}
        self.made: dict[str, Any] = {}   # id -> label(s) actually decided
        self.size_override = input_size
        self.dims: int | None = None
        self.nodes: list[Node] = []
        self.inputs: list[int] = []
        self.outputs: list[tuple[str, int]] = []
        self.input_size: tuple[int, ...] | None = None
        self.cells: list[CellInstance] = []
        self.calls: list[Call] = []
        self.call: int | None = None       # the innermost call being elaborated
        self.decisions: dict[str, DecisionPoint] = {}
        self.params: dict[str, Any] = {}
        self.search: dict[str, dict[str, Any]] = {}   # engine -> its block's settings
        self.constraints: list[A.Constraint] = []
        self.scope: tuple[str, ...] = ()
        self.cell: str | None = None
        self.hint: str | None = "x"
        self.taken: set[tuple[str, ...]] = set()
        self.depth = 0
        self.symbols = _known_symbols()
        self.budget = Budget()
        self.dims_failed = False
        self.stride_issue: tuple[Span, tuple[Note, ...]] | None = None  # first op whose
        # stride does not divide the patch size, and the call stack there
        self.failures = 0                  # statements that failed (their effects unknown)
        self.choice_values: dict[str, str] = {}  # value choice target -> chosen value
        self.call_choices = ""

    # ---- driver ---------------------------------------------------------------------
    def run(self) -> Result:
        env = Env()
        self.root_env = env
        try:
            self.block(self.unit.body, env, top=True)
        except Exhausted as ex:
            self.failures += 1
            self.sink.error(ex.code, ex.message, ex.span, ex.hint, ex.notes)
        if self.stride_issue is not None:
            strides.report(self, self.stride_issue)
        if self.dims is None and not self.sink.has_errors:
            self.sink.error("E0210", "the spec does not declare `param dims`",
                            _head(self.unit.span), "add `param dims = 2` (or 3)")
        graph = None
        if self.dims is not None:
            graph = Graph(self.unit.name, self.unit.kind, self.dims, tuple(self.nodes),
                          tuple(self.inputs), tuple(self.outputs), self.input_size,
                          tuple(self.cells), tuple(self.calls))
            if not self.outputs and not self.sink.has_errors:
                self.sink.error("E0211", "the network has no `output`",
                                _head(self.unit.span), "add `output y = ...`")
        return Result(graph, DecisionTable(tuple(self.decisions.values())), self.params,
                      self.search, tuple(self.constraints), dict(self.made))

    def block(self, body: tuple[A.Stmt, ...], env: Env, top: bool = False) -> None:
        for stmt in body:
            self.budget.tick(stmt.span)
            try:
                self.stmt(stmt, env, top)
            except EvalError as err:
                notes = tuple(err.notes) + self.budget.call_stack_notes()
                self.sink.error(err.code, err.message, err.span, err.hint, notes)
                self.failures += 1
                self._poison(stmt, env)
            except Silent:
                self.failures += 1
                self._poison(stmt, env)

    def _poison(self, stmt: A.Stmt, env: Env) -> None:
        """Bind what the failed statement defines to POISON so later uses stay quiet."""
        target = getattr(stmt, "target", None)
        if not isinstance(target, A.Target):
            name = getattr(stmt, "name", None)   # param, input, op set, nodes, op, cell
            if isinstance(name, str) and name not in env.vars:
                env.vars[name] = POISON
            return
        if not target.indices:
            env.vars[target.name] = POISON
            return
        try:
            self.bind(target, POISON, env)
        except (EvalError, Silent):
            env.vars[target.name] = POISON

    # ---- statements -----------------------------------------------------------------
    def stmt(self, s: A.Stmt, env: Env, top: bool) -> None:
        method = getattr(self, "s_" + type(s).__name__)
        method(s, env, top)

    def s_Param(self, s: A.Param, env: Env, top: bool) -> None:
        if not top:
            raise EvalError("E0212", "`param` is allowed only at the top of a spec", s.span,
                            "use `let` inside ops, cells and loops")
        self._declare(s.name, s.span, env)
        if s.name == "dims":
            self.dims_failed = True   # until it succeeds: later tensors stay quiet
        value = self.overrides[s.name] if s.name in self.overrides else self.eval(s.value, env)
        if s.name == "dims":
            if type(value) is not int or value not in (2, 3):
                raise EvalError("E0213", f"`dims` must be 2 or 3, found {show(value)}",
                                s.value.span, "the value comes from `-D dims=...` or the "
                                "genotype" if s.name in self.overrides else None)
            self.dims_failed = False
            self.dims = value
        self.params[s.name] = value
        env.vars[s.name] = value

    def s_Let(self, s: A.Let, env: Env, top: bool) -> None:
        self.hint = self.path_hint(s.target, env)
        self.bind(s.target, self.eval_lazy(s.value, env), env)

    def s_OpSet(self, s: A.OpSet, env: Env, top: bool) -> None:
        self._declare(s.name, s.span, env)
        entries: list[tuple[str, OpRef]] = []
        for entry in s.entries:
            op = self.eval(entry.value, env)
            if not isinstance(op, OpRef):
                raise EvalError("E0214", f"op set entries must be ops, found {show(op)}",
                                entry.value.span)
            label = entry.label or op.name
            if label in [e[0] for e in entries]:
                raise EvalError("E0215", f"`{label}` appears twice in op set `{s.name}`",
                                entry.span, "give one of them a label: `name = op(...)`")
            check_identifier(label, entry.span)
            entries.append((label, op))
        if not entries:
            raise EvalError("E0214", f"op set `{s.name}` is empty", s.span)
        env.vars[s.name] = OpSetVal(s.name, tuple(entries))

    def s_OpDef(self, s: A.OpDef, env: Env, top: bool) -> None:
        self._declare(s.name, s.span, env)
        for f in s.formals:
            check_identifier(f.name, f.span)
        if REGISTRY.get(s.name):
            raise EvalError("E0216", f"op `{s.name}` is already a built-in op", s.span,
                            "choose another name")
        env.vars[s.name] = OpRef(s.name, (), s)

    def s_CellDef(self, s: A.CellDef, env: Env, top: bool) -> None:
        self._declare(s.name, s.span, env)
        for f in s.formals:
            check_identifier(f.name, f.span)
        env.vars[s.name] = CellVal(s)

    def s_Input(self, s: A.Input, env: Env, top: bool) -> None:
        if not top:
            raise EvalError("E0212", "`input` is allowed only at the top of a spec", s.span)
        self.need_dims(s.span)
        kw = {k.name: self.eval(k.value, env) for k in s.kwargs}
        if s.args or set(kw) - {"channels", "size"} or "channels" not in kw:
            raise EvalError("E0217", "write an input as `input x(channels=C)` or "
                            "`input x(channels=C, size=(...))`", s.span)
        channels = X.as_int(kw["channels"], s.span, "`channels`")
        size = kw.get("size")
        if size is not None:
            size = _axes(size, self.dims, s.span, "`size`")  # type: ignore[arg-type]
        if self.size_override is not None:
            size = self.size_override
            if len(size) == 1:
                size = size * self.dims  # type: ignore[operator]
            if len(size) != self.dims:
                raise EvalError("E0217", f"the input size {'x'.join(map(str, size))} has "
                                f"{len(size)} axes but the network has {self.dims}", s.span)
        self.input_size = size
        self._declare(s.name, s.span, env)
        ttype = TensorType(channels, tuple(Fraction(1) for _ in range(self.dims)))  # type: ignore[arg-type]
        nid = self.add_node("input", (), (), ttype, (s.name,), s.span)
        self.inputs.append(nid)
        env.vars[s.name] = Tensor(nid, ttype)

    def s_Output(self, s: A.Output, env: Env, top: bool) -> None:
        if not top:
            raise EvalError("E0212", "`output` is allowed only at the top of a spec", s.span)
        name = self.target_text(s.target, env)
        self.hint = name
        value = self.eval(s.value, env)
        if not isinstance(value, Tensor):
            raise EvalError("E0218", f"an output must be a tensor, found {show(value)}",
                            s.value.span)
        if name in dict(self.outputs):
            raise EvalError("E0219", f"output `{name}` is defined twice", s.span)
        self.outputs.append((name, value.node))

    def s_Assign(self, s: A.Assign, env: Env, top: bool) -> None:
        self.hint = self.path_hint(s.target, env)
        self.bind(s.target, self.eval_lazy(s.value, env), env)

    def s_For(self, s: A.For, env: Env, top: bool) -> None:
        lo = X.as_int(self.eval(s.lo, env), s.lo.span, "a loop bound")
        hi = X.as_int(self.eval(s.hi, env), s.hi.span, "a loop bound")
        check_identifier(s.var, s.span)
        if hi - lo > MAX_LIST:
            raise EvalError("E0220", f"loop runs {hi - lo} times", s.span,
                            f"loops are limited to {MAX_LIST} iterations")
        outer = self.loops
        self.budget.push(Frame("loop", s.var, s.span))
        try:
            for i in loop_range(lo, hi, s.reverse):
                self.budget.tick(s.span)
                self.budget.set_index(i)
                env.vars[s.var] = i
                self.loops = outer + (i,)
                self.block(s.body, env, top)
        finally:
            self.loops = outer
            self.budget.pop()

    def s_If(self, s: A.If, env: Env, top: bool) -> None:
        cond = self.eval(s.cond, env)
        if not isinstance(cond, bool):
            raise EvalError("E0221", f"an `if` condition must be true or false, found "
                            f"{show(cond)}", s.cond.span)
        if cond:
            self.block(s.then, env, top)
        elif s.orelse is not None:
            self.block(s.orelse, env, top)

    def s_Return(self, s: A.Return, env: Env, top: bool) -> None:
        if top:
            raise EvalError("E0212", "`return` is allowed only inside `op` and `cell`", s.span)
        self.hint = None  # ops of a `return` sit directly in the op's or cell's scope
        raise Return(self.eval(s.value, env))

    def s_Search(self, s: A.Search, env: Env, top: bool) -> None:
        """One block per engine: the block configures the engine it names."""
        if not top or self.unit.kind != "space":
            raise EvalError("E0222", "`search` settings belong at the top of a `space`",
                            s.span)
        block: dict[str, Any] = {}
        for st in s.settings:
            if isinstance(st.value, A.Name) and st.value.id not in env.names():
                value: Any = Symbol(st.value.id)  # settings take bare names: `engine = enas`
            else:
                value = self.eval(st.value, env)
            if st.name == "engine":
                name = getattr(value, "name", value)
                if name not in ENGINES:
                    raise EvalError("E0223", f"unknown search engine {show(value)}",
                                    st.value.span, suggest(str(name), ENGINES)
                                    or "engines: " + ", ".join(ENGINES))
                value = name
            block[st.name] = value
        engine = block.pop("engine", None)
        if engine is None:
            raise EvalError("E0426", "a `search` block configures the engine it names, and "
                            "this one names none", _head(s.span),
                            "add `engine = NAME` (" + ", ".join(ENGINES) + ")")
        if engine in self.search:
            raise EvalError("E0427", f"a second `search` block for `{engine}`", _head(s.span),
                            "a spec holds one block per engine: merge them")
        self.search[engine] = block
        self._check_settings(s, engine, block)

    def _check_settings(self, s: A.Search, engine: str, block: dict[str, Any]) -> None:
        spans = {st.name: st for st in s.settings}
        problems = check_block(engine, block)
        for p in problems:
            st = spans[p.setting]
            self.sink.error(p.code, p.message, st.value.span if p.on_value else st.span,
                            p.hint)
        if problems:
            return
        # settings that cannot take effect together, at the engine's defaults for the rest
        for p in setting_problems(engine, resolve(engine, block)):
            st = spans.get(p.setting or "")
            self.sink.error(p.code, p.message, (st.value.span if st else _head(s.span)),
                            p.hint)

    def s_Constraint(self, s: A.Constraint, env: Env, top: bool) -> None:
        if not top:
            raise EvalError("E0212", "`constraint` is allowed only at the top of a spec",
                            s.span)
        self.constraints.append(s)

    def s_ValueChoice(self, s: A.ValueChoice, env: Env, top: bool) -> None:
        self._no_choice_in_arch(s.span)
        did = self.decision_id(s.target, env)
        dom = self.eval(s.domain, env)
        kind, role = "value", "value"
        text = self.target_text(s.target, env)
        if isinstance(dom, OpSetVal):
            # NOTE: a chosen op is named after the choice (`blk[2]`), not the op, so that
            # its module path is the same for every label (stable paths)
            values: tuple = tuple(OpRef(op.name, op.kwargs, op.composite, via=text)
                                  for _, op in dom.entries)
            labels = dom.labels
            kind, role = "op", "macro"
        elif isinstance(dom, tuple) and dom:
            values, labels = dom, tuple(show(v) for v in dom)
        else:
            raise EvalError("E0224", "a choice needs a non-empty list of values or an op set",
                            s.domain.span, "write `choice name in [a, b, c]`")
        if len({value_key(v) for v in values}) != len(values):
            raise EvalError("E0225", "a choice lists the same value twice", s.domain.span)
        point = DecisionPoint(did, kind, values, labels, s.span, default=labels[0],
                              role=role)
        self.record(point)
        chosen = self.decide(point)
        if chosen is None and self.relax and did not in self.structural:
            value: Any = Pending(point, text)
        else:
            value = values[0] if chosen is None else values[labels.index(chosen)]
            self.choice_values[self.target_text(s.target, env)] = show(value)
        self.bind(s.target, value, env)

    def s_InputChoice(self, s: A.InputChoice, env: Env, top: bool) -> None:
        self._no_choice_in_arch(s.span)
        did = self.decision_id(s.target, env)
        if not isinstance(s.candidates, A.ListLit) or not s.candidates.items:
            raise EvalError("E0226", "an input choice needs a list of candidate tensors",
                            s.candidates.span, "write `choice s from [a, b] keep 1`")
        labels = tuple(self.candidate_label(e, env) for e in s.candidates.items)
        if len(set(labels)) != len(labels):
            raise EvalError("E0225", "an input choice lists the same candidate twice",
                            s.candidates.span)
        tensors = [self.eval(e, env) for e in s.candidates.items]
        for e, t in zip(s.candidates.items, tensors):
            if not isinstance(t, Tensor):
                raise EvalError("E0226", f"input choice candidates must be tensors, found "
                                f"{show(t)}", e.span)
        n = len(labels)
        keep = self._keep(s.keep, n, env)
        point = DecisionPoint(did, "inputs", labels, labels, s.span, keep=keep,
                              default=labels[: keep[1]], role="inputs")
        self.record(point)
        chosen = self.decide(point)
        if chosen is None:
            chosen = point.default
        self.bind(s.target, tuple(t for lab, t in zip(labels, tensors) if lab in chosen), env)

    def candidate_label(self, e: A.Expr, env: Env) -> str:
        """`enc[i]` inside a loop is labelled `enc[2]`: labels must name one tensor."""
        if isinstance(e, A.Index):
            key = self.eval(e.index, env)
            if X.is_int(key):
                return f"{self.candidate_label(e.base, env)}[{key}]"
        return fmt_expr(e)

    def _keep(self, k: A.Keep, n: int, env: Env) -> tuple[int, int]:
        if k.kind == "any":
            return (0, n)
        lo = X.as_int(self.eval(k.lo, env), k.span, "`keep`")  # type: ignore[arg-type]
        hi = lo if k.kind == "exact" else X.as_int(
            self.eval(k.hi, env), k.span, "`keep`")  # type: ignore[arg-type]
        if not 0 <= lo <= hi <= n:
            raise EvalError("E0227", f"cannot keep {lo if lo == hi else f'{lo}..{hi}'} of "
                            f"{n} candidates", k.span)
        return (lo, hi)

    def s_Nodes(self, s: A.Nodes, env: Env, top: bool) -> None:
        if self.cell is None:
            raise EvalError("E0228", "a `nodes` block is allowed only inside a `cell`",
                            s.span)
        elaborate_nodes(self, s, env)

    def s_Decision(self, s: A.Decision, env: Env, top: bool) -> None:
        raise EvalError("E0229", "decisions belong in a `genotype`", s.span)

    # ---- helpers for statements -----------------------------------------------------
    def _declare(self, name: str, span: Span, env: Env) -> None:
        check_identifier(name, span)
        if name in env.vars:
            raise EvalError("E0230", f"`{name}` is defined twice", span)

    def need_dims(self, span: Span) -> int:
        if self.dims is None and self.dims_failed:
            raise Silent()   # `param dims` itself failed and was reported
        if self.dims is None:
            raise EvalError("E0210", "`param dims` must be declared before any tensor", span,
                            "put `param dims = 2` at the top of the spec")
        return self.dims

    def _no_choice_in_arch(self, span: Span) -> None:
        if self.unit.kind == "arch":
            raise EvalError("E0231", "an `arch` is a fixed network and cannot declare "
                            "choices", span, "declare a `space` instead")

    def path_hint(self, t: A.Target, env: Env) -> str:
        """The path component of a statement's modules: its target text, qualified by
        the enclosing loop indices when the target is not indexed (`h[2]`), so that a
        module's path never depends on how many modules earlier iterations made."""
        text = self.target_text(t, env)
        if self.loops and not t.indices:
            text += "".join(f"[{i}]" for i in self.loops)
        return text

    def target_text(self, t: A.Target, env: Env) -> str:
        idx = [X.as_int(self.eval(i, env), i.span, "an index") for i in t.indices]
        return t.name + "".join(f"[{i}]" for i in idx)

    def decision_id(self, t: A.Target, env: Env) -> str:
        text = self.target_text(t, env)
        return f"{self.cell}.{text}" if self.cell else text

    def bind(self, t: A.Target, value: Any, env: Env) -> None:
        check_identifier(t.name, t.span)
        if not t.indices:
            env.vars[t.name] = value
            return
        holder = env.vars.get(t.name)
        if not isinstance(holder, Indexed):
            holder = Indexed(t.name)
            env.vars[t.name] = holder
        keys = [X.as_int(self.eval(i, env), i.span, "an index") for i in t.indices]
        for key, idx in zip(keys, t.indices):
            if key < 0:
                raise EvalError("E0201", f"index {key} is negative", idx.span,
                                "indexed names are numbered from 0")
        for key in keys[:-1]:
            nxt = holder.items.get(key)
            if not isinstance(nxt, Indexed):
                nxt = Indexed(t.name)
                holder.items[key] = nxt
            holder = nxt
        holder.items[keys[-1]] = value

    def record(self, point: DecisionPoint) -> None:
        self.budget.tick(point.span, CHOICE_COST)
        old = self.decisions.get(point.id)
        if old is None:
            self.decisions[point.id] = point
            return
        if old.labels != point.labels or old.keep != point.keep or old.kind != point.kind \
                or old.condition != point.condition:
            raise EvalError("E0232", f"choice `{point.id}` is declared again with another "
                            "domain", point.span,
                            notes=(Note(old.span, "first declared here"),))
        if self.cell is None and old.span != point.span:
            raise EvalError("E0232", f"choice `{point.id}` is declared twice", point.span,
                            "give each choice its own name (index it inside loops)",
                            (Note(old.span, "first declared here"),))

    def decide(self, point: DecisionPoint) -> Any:
        """The label (tuple of labels for inputs) chosen for a point; None = undecided."""
        if point.id in self.assignment:
            chosen = self.assignment[point.id]
            ok = (set(chosen) <= set(point.labels)
                  and point.keep[0] <= len(chosen) <= point.keep[1]
                  if point.kind == "inputs" else chosen in point.labels)
            if not ok:
                raise InternalError(f"assignment gives {chosen!r} for `{point.id}`, "
                                    f"outside {point.describe_domain()}")
            chosen = tuple(chosen) if point.kind == "inputs" else chosen
        else:
            chosen = None
        if chosen is not None:
            self.made[point.id] = chosen
        return chosen

    def decide_node(self, inputs: DecisionPoint,
                    edges: dict[str, DecisionPoint]) -> tuple[tuple[str, ...], dict] | None:
        """A cell node's chosen inputs and their edge ops (label -> op label)."""
        if inputs.id in self.assignment:
            chosen = self.decide(inputs)
            return chosen, {lab: self.decide(edges[lab]) or edges[lab].labels[0]
                            for lab in chosen}
        return None

    # ---- graph building -------------------------------------------------------------
    def add_node(self, op: str, attrs: tuple, inputs: tuple[int, ...], ttype: TensorType,
              path: tuple[str, ...], span: Span) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise EvalError("E0233", f"the network has more than {MAX_NODES} ops", span)
        self.budget.tick(span, NODE_COST)
        nid = len(self.nodes)
        self.nodes.append(Node(nid, op, attrs, inputs, ttype, path, span, self.cell,
                               self.call))
        self._check_size(ttype, span)
        return nid

    def fresh_path(self, base: str) -> tuple[str, ...]:
        """A unique module path in the current scope: the target name, then suffixes."""
        candidate = self.scope + (base,)
        n = 1
        while candidate in self.taken:
            n += 1
            candidate = self.scope + (f"{base}_{n}",)
        self.taken.add(candidate)
        return candidate

    def fresh_op_path(self, opname: str) -> tuple[str, ...]:
        """Path of a built-in op: under the statement's target, named after the op
        (`enc[1].pool`, `enc[1].conv_2`), so emitted modules read like the spec."""
        base = self.scope + ((self.hint,) if self.hint else ())
        candidate, n = base + (opname,), 1
        while candidate in self.taken:
            n += 1
            candidate = base + (f"{opname}_{n}",)
        self.taken.add(candidate)
        return candidate

    def _check_size(self, t: TensorType, span: Span) -> None:
        """Remember the first op whose stride does not divide the patch size; E0301 is
        reported after elaboration, naming the network's total stride."""
        if self.input_size is None or self.stride_issue is not None:
            return
        if not strides.divides(self.input_size, t.stride):
            self.stride_issue = (span, self.budget.call_stack_notes())

    def apply_op(self, op: OpRef, tensors: list[Tensor], attrs: dict[str, Any], span: Span,
                 path: tuple[str, ...] | None = None) -> Tensor:
        return apply.apply_builtin(self, op, tensors, attrs, span, path)

    # ---- expressions ----------------------------------------------------------------
    def eval(self, e: A.Expr, env: Env) -> Any:
        return apply.eval_expr(self, e, env)

    def eval_lazy(self, e: A.Expr, env: Env) -> Any:
        """As `eval`, but an undecided choice (`Pending`) may be the result."""
        return apply.eval_lazy(self, e, env)


def _head(span: Span) -> Span:
    return Span(span.file, span.start, span.start + 1)
def _axes(value: Any, dims: int, span: Span, what: str) -> tuple[int, ...]:
    if X.is_int(value):
        value = (value,) * dims
    if not isinstance(value, tuple) or len(value) != dims or not all(
            X.is_int(v) and v > 0 for v in value):
        raise EvalError("E0217", f"{what} must be one positive integer per spatial axis "
                        f"({dims}), found {show(value)}", span)
    return value


def _known_symbols() -> set[str]:
    out = {"normal", "down", "up"}
    for op in REGISTRY.values():
        for a in op.attrs:
            out.update(a.symbols)
    return out


__all__ = ["Elaborator", "Env", "Result", "EvalError", "OpError", "Alternative"]
