"""What each search engine accepts, below the front end (no torch, no `nasdsl.engines`).

A spec holds one `search` block per engine; each block configures the engine it names,
and an engine run without a block of its own starts from its own published defaults
(catalog.py, each default with its source). `check_block` checks a block's names and
values; `resolve` gives every setting its value and origin (engine default / spec /
--set); `setting_problems` and `space_problems` run the engine's own checks (settings
that cannot take effect, parts of the space the engine cannot build); `blockers` lists
the decisions an engine cannot search (pairing.py).
"""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import suggest
from nasdsl.enginespec.catalog import ENGINES, REMOVED
from nasdsl.enginespec.pairing import KINDS, Blocker, blockers, decision_kinds
from nasdsl.enginespec.schema import (CLI, DEFAULT, SPEC, EngineSpec, Problem, Resolved,
                                      Setting, describe, values)

__all__ = ["CLI", "DEFAULT", "ENGINES", "KINDS", "SPEC", "Blocker", "EngineSpec", "Problem",
           "Resolved", "Setting", "blockers", "check_block", "decision_kinds",
           "engine_settings", "resolve", "setting_problems", "settings_lines",
           "space_problems", "values"]

BAD_NAME, BAD_VALUE = "E0424", "E0425"


def engine_settings(name: str) -> dict[str, Setting]:
    return ENGINES[name].by_name()


def check_block(engine: str, given: dict[str, Any]) -> list[Problem]:
    """Problems of one engine's settings (a `search` block or --set): unknown names,
    names that mean nothing to this engine, wrong types, out-of-range values."""
    spec = ENGINES[engine]
    known = spec.by_name()
    out: list[Problem] = []
    for name, value in given.items():
        if name == "engine":
            continue
        setting = known.get(name)
        if setting is None:
            out.append(_unknown(spec, name))
            continue
        msg = setting.check(value)
        if msg is not None:
            hint = f"default {describe(setting.default)}" + (f"; {setting.doc}"
                                                             if setting.doc else "")
            out.append(Problem(BAD_VALUE, f"search setting `{name}` {msg}", name, hint))
    return out


def _unknown(spec: EngineSpec, name: str) -> Problem:
    if name in spec.not_here:
        return Problem("E0428", f"search setting `{name}` has no effect for "
                       f"`{spec.name}`: {spec.not_here[name]}", name,
                       f"drop it, or move it to the `search` block of the engine it "
                       f"configures", on_value=False)
    if name in REMOVED:
        return Problem(BAD_NAME, f"search setting `{name}` {REMOVED[name]}", name,
                       on_value=False)
    known = spec.by_name()
    hint = suggest(name, known)
    if hint is None:
        others = [e for e in ENGINES if name in engine_settings(e)]
        hint = (f"`{name}` is a setting of {', '.join(others)}: put it in that engine's "
                "`search` block" if others else "settings: " + ", ".join(sorted(known)))
    return Problem(BAD_NAME, f"unknown search setting `{name}` for engine `{spec.name}`",
                   name, hint, on_value=False)


def resolve(engine: str, block: dict[str, Any] | None,
            overrides: dict[str, Any] | None = None) -> dict[str, Resolved]:
    """Every setting of `engine`: its own defaults <- its spec block <- --set."""
    return ENGINES[engine].resolve(block or {}, overrides)


def setting_problems(engine: str, resolved: dict[str, Resolved]) -> list[Problem]:
    return [p for check in ENGINES[engine].setting_checks for p in check(resolved)]


def space_problems(engine: str, compiled: Any, resolved: dict[str, Resolved]) -> list[Problem]:
    """The engine's checks against a compiled space (torch-free: IR and op registry)."""
    return [p for check in ENGINES[engine].space_checks for p in check(compiled, resolved)]


def settings_lines(engine: str, resolved: dict[str, Resolved]) -> list[str]:
    """One line per setting: `name = value   (origin: source)`."""
    width = max(len(n) for n in resolved)
    out = []
    for name, r in resolved.items():
        why = f"{r.origin}: {r.note}" if r.note else r.origin
        out.append(f"  {name:<{width}} = {describe(r.value):<10} ({why})")
    return [f"{engine} settings:"] + out
