"""The pipeline: file -> AST -> elaborated IR + decision table -> checks.

Everything a command needs goes through `compile_spec`; it raises NasError carrying all
diagnostics of the run, and never lets a spec mistake escape as another exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasdsl.analysis.resources import param_bounds
from nasdsl.compiled import Compiled
from nasdsl.constraints import (ConstraintResult, architecture_result, budgets,
                                check_constraints)
from nasdsl.diagnostics import DiagnosticSink, InternalError, NasError, by_position, suggest
from nasdsl.enginespec import resolve, space_problems
from nasdsl.enginespec.diagnose import setting_span
from nasdsl.errors import UsageError
from nasdsl.ir.decisions import DecisionTable, validate_assignment
from nasdsl.ir.graph import live_nodes
from nasdsl.sema.budget import total_budget
from nasdsl.sema.explore import Relaxed, cached_table, elaborate_relaxed, known_structural
from nasdsl.sema.genotype import NotALiteral, literal, read_genotype, report_issues
from nasdsl.sema.overrides import check_override_kinds
from nasdsl.source import Span
from nasdsl.spec_files import MAX_SPEC_BYTES, SPEC_SUFFIX, SpecFileError, printable, \
    read_spec_bytes
from nasdsl.syntax import ast as A
from nasdsl.syntax.parse import load_source, parse


MAX_PARAMETERS = 10 ** 10  # 40 GB of float32 weights: far beyond any segmentation net


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
                 data: bytes | None = None, engine_checks: bool = True,
                 space_data: bytes | None = None) -> Compiled:
    """Check one .nas file (space, arch or genotype); raises NasError on spec errors.
    `engine_checks=False` leaves out what the spec's engine cannot build: a search checks
    that itself with its command line's settings (nasdsl.enginespec.diagnose).
    `data` / `space_data`: the text of the file and of the space a genotype names, given
    instead of read (a run's embedded copies, nasdsl.artifact); `path` names them."""
    sink = DiagnosticSink()
    try:
        with total_budget() as total:
            result = _compile(path, overrides or {}, input_size, assignment, data, sink,
                              engine_checks, space_data)
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
        raise NasError(sorted(sink.errors, key=by_position))
    result.warnings = [d for d in sink.items if d.severity == "warning"]
    return result


def _compile(path: str, overrides: dict[str, Any], input_size, assignment, data,
             sink: DiagnosticSink, engine_checks: bool = True,
             space_data: bytes | None = None) -> Compiled | None:
    unit = parse_text(path, data, sink) if data is not None else read_unit(path, sink)
    if unit is None:
        return None
    space_unit, space_path = unit, path
    all_overrides = dict(overrides)
    override_spans: dict[str, Span] = {}
    decisions: list[A.Decision] = []
    if unit.kind == "genotype":
        loaded = _load_space(unit, path, sink, space_data)
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
    compiled.budgets = budgets(el, result.constraints)   # the engines' checks read them
    if engine_checks:
        _check_search(compiled, sink)
    check_constraints(el, result.constraints, compiled, sink)
    return compiled


def compile_assignment(space: Compiled, assignment: dict[str, Any]) -> Compiled:
    """One architecture of a compiled space (an engine's assignment), without reading
    the file again; raises NasError with E0411/E0412/E0413/E0416 as a genotype would."""
    return elaborate_child(space, assignment)[2]


def elaborate_child(space: Compiled, assignment: dict[str, Any]):
    """(elaborator, result, child Compiled) of one assignment; NasError if it fails."""
    sink = DiagnosticSink()
    chosen = _elaborate_assignment(space.space_unit, dict(space.params),
                                   space.size_override, space.table, dict(assignment), {},
                                   None, sink)
    if chosen is None or chosen[1].graph is None:
        raise NasError(sorted(sink.errors, key=by_position))
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


def _load_space(unit: A.Unit, path: str, sink: DiagnosticSink,
                given: bytes | None = None) -> tuple[A.Unit, str] | None:
    if unit.space_path is None:
        sink.error("E0400", f"genotype `{unit.name}` does not name its space", _head(unit.span),
                   f'write `genotype {unit.name} of "space.nas"`; a hand-designed network '
                   "is an `arch`")
        return None
    space_path = str(Path(path).parent / unit.space_path)
    try:
        data = given if given is not None else read_spec_bytes(space_path,
                                                                require_suffix=True)
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
    for p in space_problems(c.engine, c, resolve(c.engine, c.search[c.engine])):
        span = p.node_span or setting_span(c.space_unit, c.engine, p.setting)
        sink.error(p.code, p.message, span, p.hint)


def check_architecture(space: Compiled, assignment: dict[str, Any]) -> ConstraintResult:
    """The spec's constraints evaluated on one architecture of the space."""
    el, result, child = elaborate_child(space, assignment)
    return architecture_result(el, result.constraints, child)
