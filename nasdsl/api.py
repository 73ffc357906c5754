"""The pipeline: file -> AST -> elaborated IR + decision table -> checks.

Everything a command needs goes through `compile_spec`; it raises NasError carrying all
diagnostics of the run, and never lets a spec mistake escape as another exception.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasdsl.analysis.resources import Bounds, flop_bounds, param_bounds, supernet_params
from nasdsl.diagnostics import DiagnosticSink, Diagnostic, InternalError, NasError
from nasdsl.errors import UsageError  # noqa: F401 - re-exported: api.UsageError
from nasdsl.ir.decisions import DecisionTable
from nasdsl.ir.graph import Graph, live_nodes
from nasdsl.sema.budget import total_budget
from nasdsl.sema.elaborate import Elaborator, Env
from nasdsl.sema.exprs import MAX_INT, EvalError, Silent, is_int
from nasdsl.ir.decisions import validate_assignment
from nasdsl.sema.explore import Relaxed, cached_table, elaborate_relaxed, known_structural
from nasdsl.sema.genotype import literal, read_genotype, report_issues
from nasdsl.sema.overrides import check_override_kinds
from nasdsl.sema.genotype import NotALiteral
from nasdsl.sema.values import Symbol, show
from nasdsl.source import SourceFile, Span
from nasdsl.spec_files import MAX_SPEC_BYTES, SPEC_SUFFIX, SpecFileError, printable, \
    read_spec_bytes
from nasdsl.syntax import ast as A
from nasdsl.syntax.parse import load_source, parse


MAX_PARAMETERS = 10 ** 10  # 40 GB of float32 weights: far beyond any segmentation net




@dataclass
class Compiled:
    """A checked spec: the IR graph, its decision table and what was decided."""
    path: str
    unit: A.Unit                    # the file itself (space, arch or genotype)
    space_unit: A.Unit              # the unit that was elaborated
    space_path: str
    graph: Graph
    table: DecisionTable
    params: dict[str, Any]
    search: dict[str, dict[str, Any]]   # engine -> its `search` block (spec order)
    decided: dict[str, Any]         # decision id -> label / tuple of labels
    input_size: tuple[int, ...] | None
    assigned: bool = False          # an engine's assignment decided the space
    size_override: tuple[int, ...] | None = None  # --input-size, kept for children
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.unit.kind

    @property
    def engine(self) -> str | None:
        """The spec's engine: the one its first `search` block names."""
        return next(iter(self.search), None)

    @property
    def input_paths(self) -> tuple[str, ...]:
        """Every spec file read for this result (outputs must not overwrite them)."""
        return (self.path,) if self.space_path == self.path else (self.path, self.space_path)

    @property
    def is_frozen(self) -> bool:
        return self.graph.is_frozen and (self.unit.kind != "space" or self.assigned
                                          or len(self.table) == 0)

    def genotype_hash(self) -> str:
        """Stable hash of (space text, parameters, decisions): names a derived net."""
        h = hashlib.sha256()
        h.update(self.space_unit.span.file.text.encode())
        h.update(repr(sorted((k, show(v)) for k, v in self.params.items())).encode())
        h.update(repr(sorted(self.decided.items())).encode())
        return h.hexdigest()[:12]


def read_unit(path: str, sink: DiagnosticSink) -> A.Unit | None:
    """A spec named on the command line: a regular `.nas` file of bounded size."""
    try:
        data = read_spec_bytes(path, require_suffix=True)
    except SpecFileError as err:
        raise UsageError(str(err)) from None
    return parse_text(path, data, sink)


def parse_text(path: str, data: bytes, sink: DiagnosticSink) -> A.Unit | None:
    source = load_source(path, data, sink)
    if source is None:
        return None
    return parse(source, sink)


def compile_spec(path: str, overrides: dict[str, Any] | None = None,
                 input_size: tuple[int, ...] | None = None,
                 assignment: dict[str, Any] | None = None,
                 data: bytes | None = None, engine_checks: bool = True) -> Compiled:
    """Check one .nas file (space, arch or genotype); raises NasError on spec errors.
    `engine_checks=False` leaves out what the spec's engine cannot build: a search checks
    that itself with its command line's settings (nasdsl.enginespec.diagnose)."""
    sink = DiagnosticSink()
    try:
        with total_budget() as total:
            result = _compile(path, overrides or {}, input_size, assignment, data, sink,
                              engine_checks)
    except (NasError, UsageError, InternalError):
        raise
    except RecursionError:
        sink.error("E0004", "spec is too deeply nested", None)
        raise NasError(sink.errors) from None
    if total.exhausted is not None and not any(d.code == "E0238" for d in sink.errors):
        ex = total.exhausted   # it stopped an elaboration whose errors were not shown
        sink.error(ex.code, ex.message, ex.span, ex.hint, ex.notes)
    if sink.has_errors or result is None:
        if not sink.has_errors:
            raise InternalError("compilation failed without a diagnostic")
        raise NasError(sorted(sink.errors, key=_order))
    result.warnings = [d for d in sink.items if d.severity == "warning"]
    return result


def _order(d: Diagnostic) -> tuple:
    return ("", 0) if d.span is None else (d.span.file.path, d.span.start)


def _compile(path: str, overrides: dict[str, Any], input_size, assignment, data,
             sink: DiagnosticSink, engine_checks: bool = True) -> Compiled | None:
    unit = parse_text(path, data, sink) if data is not None else read_unit(path, sink)
    if unit is None:
        return None
    space_unit, space_path = unit, path
    all_overrides = dict(overrides)
    override_spans: dict[str, Span] = {}
    decisions: list[A.Decision] = []
    if unit.kind == "genotype":
        loaded = _load_space(unit, path, sink)
        if loaded is None:
            return None
        space_unit, space_path = loaded
        decisions = [s for s in unit.body if isinstance(s, A.Decision)]
        for s in unit.body:
            if isinstance(s, A.Param):
                try:
                    value = literal(s.value)
                except NotALiteral as bad:
                    sink.error("E0414", "a genotype parameter is a plain value", bad.span)
                    continue
                override_spans[s.name] = s.span
                all_overrides.setdefault(s.name, value)
    if not check_override_kinds(space_unit, all_overrides, override_spans, sink):
        return None
    space = _space(space_unit, all_overrides, input_size, sink)
    if space is None:
        _unknown_overrides(all_overrides, {}, override_spans, space_unit, sink,
                           only_if_errors=True)
        return None
    base, table = space
    _unknown_overrides(all_overrides, base.result.params, override_spans, space_unit, sink)
    if unit.kind == "genotype" or assignment is not None:
        spans: dict[str, Span] = {}
        given = dict(assignment or {})
        if unit.kind == "genotype":
            given, spans = read_genotype(decisions, table, sink)
        head = _head(unit.span) if unit.kind == "genotype" else None
        chosen = _elaborate_assignment(space_unit, all_overrides, input_size, table,
                                       given, spans, head, sink)
        if chosen is None:
            return None
        el, result = chosen
    else:
        el, result = base.elaborator, base.result
        sink.extend(d for d in base.diagnostics if d.severity != "error")
    if result.graph is None or sink.has_errors:
        return None
    graph = live_nodes(result.graph)
    compiled = Compiled(path, unit, space_unit, space_path, graph, table,
                        result.params, result.search, result.used_decisions,
                        el.input_size, assigned=assignment is not None,
                        size_override=input_size)
    if not _check_magnitude(compiled, sink):
        return None
    if engine_checks:
        _check_search(compiled, sink)
    _check_constraints(el, result.constraints, compiled, sink)
    return compiled


def compile_assignment(space: Compiled, assignment: dict[str, Any]) -> Compiled:
    """One architecture of a compiled space (an engine's assignment), without reading
    the file again; raises NasError with E0411/E0412/E0413/E0416 as a genotype would."""
    return _elaborate_child(space, assignment)[2]


def _elaborate_child(space: Compiled, assignment: dict[str, Any]):
    """(elaborator, result, child Compiled) of one assignment; NasError if it fails."""
    sink = DiagnosticSink()
    chosen = _elaborate_assignment(space.space_unit, dict(space.params),
                                   space.size_override, space.table, dict(assignment), {},
                                   None, sink)
    if chosen is None or chosen[1].graph is None:
        raise NasError(sorted(sink.errors, key=_order))
    el, result = chosen
    child = Compiled(space.path, space.unit, space.space_unit, space.space_path,
                     live_nodes(result.graph), space.table, result.params, result.search,
                     result.used_decisions, el.input_size, assigned=True,
                     size_override=space.size_override)
    return el, result, child


def _space(unit: A.Unit, overrides: dict[str, Any], input_size,
           sink: DiagnosticSink) -> tuple[Relaxed, DecisionTable] | None:
    """The relaxed elaboration of the space (its defaults) and its complete table."""
    base = elaborate_relaxed(unit, overrides, None, input_size,
                             known_structural(unit, overrides, input_size))
    if not base.ok:
        sink.extend(base.diagnostics)
        if not sink.has_errors:
            raise InternalError("elaboration failed without a diagnostic")
        return None
    table, structural = cached_table(unit, overrides, input_size, base, sink)
    if sink.has_errors:
        return None
    if structural != base.structural:
        # NOTE: a choice found structural under another assignment is structural in the
        # relaxed graph too, so that the table and the supernet agree
        base = elaborate_relaxed(unit, overrides, None, input_size, structural)
    return base, table


def _elaborate_assignment(unit: A.Unit, overrides: dict[str, Any], input_size,
                          table: DecisionTable, given: dict[str, Any],
                          spans: dict[str, Span], head: Span | None, sink: DiagnosticSink):
    """Elaborate one architecture; every problem of the assignment is reported with the
    codes of `validate_assignment`, for genotype files and engines alike."""
    normal = table.normalise(given)
    valid = {k: v for k, v in normal.items() if (p := table.get(k)) is not None
             and p.accepts(v)}
    run = elaborate_relaxed(unit, overrides, valid, input_size, relax=False)
    issues = validate_assignment(table, normal, {p.id for p in run.result.table})
    if not run.ok:   # a failed architecture did not reach some choices: not "unused"
        issues = [i for i in issues if i.code != "E0416"]
    # a genotype entry that did not parse was reported already: it is not also missing
    report_issues([i for i in issues if not (i.code == "E0413" and i.decision in spans)],
                  table, spans, head, sink)
    if sink.has_errors:
        return None
    sink.extend(run.diagnostics)
    return run.elaborator, run.result


def _check_magnitude(c: Compiled, sink: DiagnosticSink) -> bool:
    """Refuse absurd networks (a mistaken width or -D value), before anything is built."""
    smallest = param_bounds(c.graph).lo
    if smallest <= MAX_PARAMETERS:
        return True
    what = "every network of the space has" if not c.graph.is_frozen else "the network has"
    sink.error("E0430", f"{what} {_big(smallest)} parameters, more than the limit of "
               f"{MAX_PARAMETERS:,}", _head(c.unit.span),
               f"that is {_big(smallest * 4 // 10 ** 9)} GB of float32 weights: check the "
               "widths and the -D values")
    return False


def _big(n: int) -> str:
    return f"{n:,}" if n < 10 ** 15 else f"{float(n):.3g}"


def _head(span: Span) -> Span:
    return Span(span.file, span.start, span.start + 1)


def _load_space(unit: A.Unit, path: str, sink: DiagnosticSink) -> tuple[A.Unit, str] | None:
    if unit.space_path is None:
        sink.error("E0400", f"genotype `{unit.name}` does not name its space", _head(unit.span),
                   f'write `genotype {unit.name} of "space.nas"`; a hand-designed network '
                   "is an `arch`")
        return None
    space_path = str(Path(path).parent / unit.space_path)
    try:
        data = read_spec_bytes(space_path, require_suffix=True)
    except SpecFileError as err:
        # nothing of a refused file is read, so nothing of it can be quoted
        hint = ("the path is relative to the genotype file" if err.reason == "no such file"
                else f"a space is a regular {SPEC_SUFFIX} file of at most "
                f"{MAX_SPEC_BYTES:,} bytes")
        where = "" if space_path == unit.space_path else f" (looked at {printable(space_path)})"
        reason = "not found" if err.reason == "no such file" else err.reason
        sink.error("E0401", f"space file `{printable(unit.space_path)}` {reason}{where}",
                   _head(unit.span), hint)
        return None
    space = parse_text(space_path, data, sink)
    if space is None:
        return None
    if space.kind != "space":
        sink.error("E0402", f"`{printable(unit.space_path)}` is {_article(space.kind)} "
                   f"{space.kind}, not a space",
                   _head(unit.span))
        return None
    return space, space_path


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _unknown_overrides(overrides: dict[str, Any], declared: dict[str, Any],
                       spans: dict[str, Span], unit: A.Unit, sink: DiagnosticSink,
                       only_if_errors: bool = False) -> None:
    from nasdsl.diagnostics import suggest

    if only_if_errors:
        declared = _declared_params(unit)
    for name in overrides:
        if name not in declared:
            hint = suggest(name, declared) or ("parameters: " + ", ".join(declared)
                                               if declared else None)
            sink.error("E0415", f"`{unit.name}` has no parameter `{name}`",
                       spans.get(name), hint)


def _declared_params(unit: A.Unit) -> dict[str, Any]:
    return {s.name: None for s in unit.body if isinstance(s, A.Param)}


def _check_search(c: Compiled, sink: DiagnosticSink) -> None:
    """What the spec's own engine (its first `search` block) cannot build in this space,
    e.g. PC-DARTS's candidates at C/k channels; the engine's checks are hooks of its
    spec (nasdsl.enginespec)."""
    if c.engine is None or c.unit.kind != "space" or c.is_frozen:
        return
    from nasdsl.enginespec import resolve, space_problems
    from nasdsl.enginespec.diagnose import setting_span

    for p in space_problems(c.engine, c, resolve(c.engine, c.search[c.engine])):
        span = p.node_span or setting_span(c.space_unit, c.engine, p.setting)
        sink.error(p.code, p.message, span, p.hint)


def _check_constraints(el: Elaborator, constraints, c: Compiled, sink: DiagnosticSink) -> None:
    """Constraints hold for every architecture; a space is not judged by its default
    network (engines evaluate each architecture: `space.constraints(a)`)."""
    if not constraints or not c.is_frozen:
        return
    values = _cost_values(c)
    for con, ok in _eval_constraints(el, constraints, values, sink):
        if ok is False:
            sink.error("E0423", "constraint does not hold for this network", con.span,
                       f"params = {values['params']:,}")


def _cost_values(c: Compiled) -> dict[str, int]:
    values = {"params": param_bounds(c.graph).lo}
    if c.input_size is not None:
        values["flops"] = flop_bounds(c.graph, c.input_size).lo
    return values


def _eval_constraints(el: Elaborator, constraints, values: dict[str, int],
                      sink: DiagnosticSink) -> list[tuple[A.Constraint, bool | None]]:
    """Each constraint's truth on one architecture (None: it could not be evaluated)."""
    env = Env(el.root_env)
    env.vars.update(values)
    out: list[tuple[A.Constraint, bool | None]] = []
    for con in constraints:
        try:
            ok = el.eval(con.expr, env)
        except EvalError as err:
            sink.error(err.code, err.message, err.span, err.hint)
            ok = None
        except Silent:
            ok = None
        if ok is not None and not isinstance(ok, bool):
            sink.error("E0422", f"a constraint must be true or false, found {show(ok)}",
                       con.expr.span)
            ok = None
        out.append((con, ok))
    return out


@dataclass
class ConstraintResult:
    ok: bool
    values: dict[str, int]          # params, flops (when the input size is known)
    failed: list[str]               # the source text of each constraint that fails


def check_architecture(space: Compiled, assignment: dict[str, Any]) -> ConstraintResult:
    """The spec's constraints evaluated on one architecture of the space."""
    from nasdsl.syntax.fmt import expr as fmt_expr

    el, result, child = _elaborate_child(space, assignment)
    sink = DiagnosticSink()
    values = _cost_values(child)
    checked = _eval_constraints(el, result.constraints, values, sink)
    if sink.has_errors:
        raise NasError(sorted(sink.errors, key=_order))
    failed = [fmt_expr(con.expr) for con, ok in checked if ok is False]
    return ConstraintResult(not failed, values, failed)


# ---- summaries --------------------------------------------------------------------------
@dataclass
class Summary:
    params: Bounds
    flops: Bounds | None
    supernet_params: int | None
    log10_size: float
    exact: bool


def summarize(c: Compiled) -> Summary:
    """Parameter/FLOP figures; for a space, bounds over its choices."""
    size = c.input_size
    if c.is_frozen:
        p = param_bounds(c.graph)
        f = flop_bounds(c.graph, size) if size else None
        return Summary(p, f, None, 0.0, True)
    lo_hi = _space_bounds(c)
    return Summary(lo_hi[0], lo_hi[1], supernet_params(c.graph), c.table.log10_size(), False)


def _space_bounds(c: Compiled) -> tuple[Bounds, Bounds | None]:
    """Bounds over value choices by coordinate search, cell edges analytically.

    NOTE: value choices can change the structure (widths, depth), so their effect is
    found by re-elaborating the space: first each choice alone, then the cheapest and
    the dearest combination. The result is attained by real architectures; it is the
    exact range when the choices' effects add up, as they do in the shipped spaces.
    """
    base = c.graph
    size = c.input_size
    points = [p for p in c.table if p.structural and not p.condition and p.size <= 32]
    measures = [lambda g: param_bounds(g)]
    if size is not None:
        measures.append(lambda g: flop_bounds(g, _graph_size(c, g)))
    picks = [_extremes(c, points, m) for m in measures]
    out: list[Bounds | None] = []
    for measure, (lo_pick, hi_pick) in zip(measures, picks):
        g_lo = (_elaborate(c, lo_pick) if lo_pick else base) or base
        g_hi = (_elaborate(c, hi_pick) if hi_pick else base) or base
        out.append(Bounds(measure(g_lo).lo, measure(g_hi).hi))
    return out[0], (out[1] if len(out) > 1 else None)  # type: ignore[return-value]


def _extremes(c: Compiled, points, measure) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per structural choice, the label giving the lowest and the highest figure."""
    b0 = measure(c.graph)
    lo_pick: dict[str, Any] = {}
    hi_pick: dict[str, Any] = {}
    for p in points:
        best_lo, best_hi = (b0.lo, None), (b0.hi, None)
        for label in _labels(p):
            if label == p.default:
                continue
            g = _elaborate(c, {p.id: label})
            if g is None:
                continue
            b = measure(g)
            if b.lo < best_lo[0]:
                best_lo = (b.lo, label)
            if b.hi > best_hi[0]:
                best_hi = (b.hi, label)
        if best_lo[1] is not None:
            lo_pick[p.id] = best_lo[1]
        if best_hi[1] is not None:
            hi_pick[p.id] = best_hi[1]
    return lo_pick, hi_pick


def _graph_size(c: Compiled, g: Graph) -> tuple[int, ...]:
    """The input size of a re-elaborated graph (a patch-size choice changes it)."""
    return g.input_size or c.input_size  # type: ignore[return-value]


def _labels(p) -> list[Any]:
    if p.kind != "inputs":
        return list(p.labels)
    from itertools import combinations

    out = []
    for k in range(p.keep[0], p.keep[1] + 1):
        out.extend(combinations(p.labels, k))
    return out


def _elaborate(c: Compiled, assignment: dict[str, Any]) -> Graph | None:
    """The relaxed graph with some structural choices decided (None: does not build);
    memoised on the compiled space, as the bounds ask for each variant twice."""
    memo = c.__dict__.setdefault("_variants", {})
    key = frozenset(assignment.items())
    if key not in memo:
        memo[key] = _elaborate_variant(c, assignment)
    return memo[key]


def _elaborate_variant(c: Compiled, assignment: dict[str, Any]) -> Graph | None:
    try:
        run = elaborate_relaxed(c.space_unit, dict(c.params), assignment, c.size_override,
                                frozenset(p.id for p in c.table if p.structural))
    except (EvalError, InternalError):
        return None
    if not run.ok or run.result.graph is None:
        return None  # that choice is illegal at this configuration (e.g. a stride)
    return live_nodes(run.result.graph)


def parse_override(text: str) -> tuple[str, Any]:
    """`-D NAME=VALUE`: VALUE is an integer, number, true/false, a name or a tuple."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise UsageError(f"-D {text}: write -D NAME=VALUE")
    return name, _parse_value(raw.strip(), text)


def _parse_value(raw: str, whole: str) -> Any:
    if raw.startswith("(") and raw.endswith(")"):
        inner = [x.strip() for x in raw[1:-1].split(",") if x.strip()]
        return tuple(_parse_value(x, whole) for x in inner)
    if "," in raw:
        return tuple(_parse_value(x.strip(), whole) for x in raw.split(",") if x.strip())
    if raw in ("true", "false"):
        return raw == "true"
    try:
        number: int | float = int(raw)
    except ValueError:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
    if is_int(number) or math.isfinite(number):
        if is_int(number) and abs(number) > MAX_INT:  # the limit of spec arithmetic
            raise UsageError(f"-D {whole}: `{raw}` is out of range (values in specs stay "
                             "below 2**53)")
        return number
    if raw.isidentifier():
        return Symbol(raw)
    raise UsageError(f"-D {whole}: cannot read the value `{raw}`")


def parse_size(text: str) -> tuple[int, ...]:
    """`--input-size 128x128x64` (or a single number for every axis)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        sizes = tuple(int(p) for p in parts if p)
    except ValueError:
        raise UsageError(f"--input-size {text}: write sizes like 128x128 or 96x96x64") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise UsageError(f"--input-size {text}: sizes must be positive")
    return sizes


__all__ = ["Compiled", "compile_spec", "summarize", "UsageError", "parse_override",
           "parse_size", "NasError", "SourceFile"]
