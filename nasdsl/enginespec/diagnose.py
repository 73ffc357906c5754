"""One engine against one compiled spec, as diagnostics: what `nasdsl check --engine E`
reports and what `nasdsl search` refuses before it builds anything.

The engine's settings resolve from its own defaults, its `search` block and --set; every
problem points at the setting's place in the spec (its block), at the part of the space
the engine cannot build, or at the decision it cannot search. Problems of --set values
carry no span and say so.
"""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import Diagnostic, Span
from nasdsl.enginespec import (CLI, ENGINES, SPEC, Problem, Resolved, blockers, check_block,
                               resolve, setting_problems, space_problems)

NOT_SEARCHABLE, NOTHING_TO_SEARCH = "E0429", "E0431"


def engine_diagnostics(compiled: Any, engine: str, overrides: dict[str, Any] | None = None,
                       pairing: bool = True) -> tuple[dict[str, Resolved], list[Diagnostic]]:
    """(resolved settings, errors) of running `engine` on `compiled` with --set
    `overrides`. The spec's own blocks were checked by sema; this adds the command line,
    the engine's cross-setting checks at the resolved values, the space checks and (with
    `pairing`) the decisions the engine cannot search."""
    block = compiled.search.get(engine, {})
    out: list[Diagnostic] = []
    if compiled.unit.kind != "space" or compiled.is_frozen:
        return resolve(engine, block), [nothing_to_search(compiled, engine)]
    cli = check_block(engine, overrides or {})
    out += [_diag(compiled, engine, p, CLI) for p in cli]
    resolved = resolve(engine, block, {k: v for k, v in (overrides or {}).items()
                                       if k not in {p.setting for p in cli}})
    if cli:
        return resolved, out
    out += [_diag(compiled, engine, p, resolved[p.setting].origin if p.setting else SPEC)
            for p in setting_problems(engine, resolved)]
    if pairing:
        out += [Diagnostic("error", NOT_SEARCHABLE, f"engine `{engine}` cannot search "
                           f"`{b.decision}`: it is a {b.kind} decision", _decision_span(
                               compiled, b.decision), f"{engine} searches "
                           f"{', '.join(ENGINES[engine].kinds)} decisions; engines for every "
                           "kind: enas, random")
                for b in blockers(engine, compiled.table, compiled.graph)]
    if not any(d.code == NOT_SEARCHABLE for d in out):   # a supernet to build at all
        out += [_diag(compiled, engine, p, SPEC)
                for p in space_problems(engine, compiled, resolved)]
    return resolved, out


def nothing_to_search(compiled: Any, engine: str | None = None) -> Diagnostic:
    n = len(compiled.decided) if compiled.decided else len(compiled.table)
    what = ("a genotype decides every choice" if compiled.unit.kind == "genotype"
            else f"{compiled.unit.kind} `{compiled.unit.name}` has no choices")
    who = f"`{engine}`" if engine else "a search engine"
    return Diagnostic("error", NOTHING_TO_SEARCH, f"nothing for {who} to search: {what}"
                      + (f" ({n} decided)" if n else ""), _head(compiled.unit.span),
                      ("search its space (the file after `of`), or train" if
                       compiled.unit.kind == "genotype" else "add a choice to search, or "
                       "train") + " this network with `nasdsl train`")


def _diag(compiled: Any, engine: str, p: Problem, origin: str) -> Diagnostic:
    if p.node_span is not None:
        span = p.node_span
    elif origin == CLI:
        return Diagnostic("error", p.code, f"--set: {p.message}", None, p.hint)
    else:
        span = setting_span(compiled.space_unit, engine, p.setting, p.on_value)
    return Diagnostic("error", p.code, p.message, span, p.hint)


def setting_span(unit: Any, engine: str, name: str | None, on_value: bool = True
                 ) -> Span | None:
    """Where `name` is set in `engine`'s search block (the block's `engine =` line when the
    value is a default), or None when the spec has no block for the engine."""
    from nasdsl.syntax import ast as A

    for s in unit.body:
        if not isinstance(s, A.Search):
            continue
        named = {st.name: st for st in s.settings}
        head = named.get("engine")
        if head is None or getattr(head.value, "id", None) != engine:
            continue
        st = named.get(name or "", head)
        return st.value.span if on_value else st.span
    return None


def _decision_span(compiled: Any, did: str) -> Span | None:
    p = compiled.table.get(did)
    return p.span if p is not None else None


def _head(span: Span) -> Span:
    return Span(span.file, span.start, span.start + 1)
