"""Engines' own checks: settings that cannot take effect together, and what an engine
cannot build in a compiled space. Each returns Problems; the callers turn them into
diagnostics (spec spans) or command-line errors (--set)."""

from __future__ import annotations

from typing import Any

from nasdsl.enginespec.schema import (CLI, DEFAULT, SPEC, Problem, Resolved, explicit,
                                      origin_text)

IDLE = "E0428"        # a setting with no effect in this configuration
UNBUILDABLE = "E0421"  # the engine cannot build part of the space


def arch_steps_run(r: dict[str, Resolved]) -> list[Problem]:
    """A warm-up as long as the search leaves no architecture step: the derivation would
    be the initial noise (#14 finding 1)."""
    epochs, warm = r["epochs"].value, r["warmup_epochs"].value
    if warm < epochs:
        return []
    name = "warmup_epochs" if explicit(r, "warmup_epochs") else "epochs"
    return [Problem(IDLE, f"no architecture step would run: {origin_text(r, 'warmup_epochs')}"
                    f" covers all {origin_text(r, 'epochs')}", name,
                    f"give warmup_epochs below epochs (at most {epochs - 1})")]


_RANK = {DEFAULT: 0, SPEC: 1, CLI: 2}


def patience_can_stop(r: dict[str, Resolved]) -> list[Problem]:
    """Patience counts unchanged derivations after the warm-up; one that needs more epochs
    than remain never stops the search. (A spec's patience under a shorter `--set epochs`
    is left alone: the run does what the command asked, and prints both.)"""
    if not explicit(r, "patience") or _RANK[r["patience"].origin] < _RANK[r["epochs"].origin]:
        return []
    patience, epochs, warm = (r[k].value for k in ("patience", "epochs", "warmup_epochs"))
    left = epochs - warm
    if patience == 0 or patience < left:
        return []
    return [Problem(IDLE, f"`patience` has no effect: {origin_text(r, 'patience')} needs more "
                    f"than the {left} epoch(s) after the warm-up ({origin_text(r, 'epochs')},"
                    f" {origin_text(r, 'warmup_epochs')})", "patience",
                    "lower it, or 0 to never stop early")]


def cost_has_budget(space: Any, r: dict[str, Resolved]) -> list[Problem]:
    """ProxylessNAS's cost term is relative to the spec's budget: without a
    `constraint <metric> <= N` it is zero, so `cost` and `cost_weight` do nothing. The
    budget is the one the engine reads (Compiled.budgets)."""
    metric = r["cost"].value
    given = [n for n in ("cost", "cost_weight") if explicit(r, n)]
    if not given:
        return []
    if metric in space.budgets:
        if explicit(r, "cost") and r["cost_weight"].value == 0:
            return [Problem(IDLE, f"`cost` has no effect: {origin_text(r, 'cost_weight')} "
                            "turns the cost term off", "cost", "drop `cost` or give a "
                            "positive cost_weight")]
        return []
    return [Problem(IDLE, f"`{n}` has no effect: the expected-cost term is relative to the "
                    f"spec's budget, and it declares no `constraint {metric} <= N` (with N "
                    "known before any choice)", n,
                    f"add `constraint {metric} <= N` to the space, or drop `{n}`")
            for n in given]


def partial_channels(space: Any, r: dict[str, Resolved]) -> list[Problem]:
    """PC-DARTS builds every candidate of a mixed edge on C/k channels: each candidate must
    be buildable at that width (e.g. FactorizedReduce on a down edge needs an even count;
    C/k = 1 gave a conv with 0 output channels, #18.1)."""
    from nasdsl.ops import REGISTRY
    from nasdsl.ops.registry import OpError

    k = r["k"].value
    graph = space.graph
    for n in graph.nodes:
        if n.op != "mixed":
            continue
        where = ".".join(n.path)
        ins = tuple(graph.node(i).type for i in n.inputs)
        c = n.type.channels
        hint = (f"choose widths whose 1/{k} every candidate accepts, or another `k` "
                f"({origin_text(r, 'k')})")
        if any(t.channels != c for t in ins):
            return [Problem(UNBUILDABLE, f"PC-DARTS cannot run the edge `{where}` on a channel "
                            f"subset: it changes the channel count", "k", hint, True, n.span)]
        if c % k or c < k:
            return [Problem(UNBUILDABLE, f"PC-DARTS samples 1/{k} of the channels, but the "
                            f"edge `{where}` has {c} channels", "k", hint, True, n.span)]
        part = c // k
        small = tuple(t.with_channels(part) for t in ins)
        for a in n.attr("alternatives"):
            try:
                REGISTRY[a.op].infer(dict(a.attrs), small)
            except OpError as err:
                why = f"{err.hint}; " if err.hint else ""
                return [Problem(UNBUILDABLE, f"PC-DARTS builds the candidates of `{where}` on "
                                f"{c}/{k} = {part} channel(s), and `{a.label}` cannot: "
                                f"{err.message}", "k", why + hint, True, n.span)]
    return []


def derive_rule_matters(space: Any, r: dict[str, Resolved]) -> list[Problem]:
    """`derive` only changes a genotype where a cell node's edges have op sets of
    different sizes (NAS-Unet's down/up against normal edges): elsewhere the authors'
    scale is 1 and both rules rank alike."""
    if not explicit(r, "derive"):
        return []
    graph = space.graph
    for n in graph.nodes:
        if n.op == "choose" and len({len(graph.node(i).attr("alternatives") or ())
                                     for i in n.inputs}) > 1:
            return []
    return [Problem(IDLE, f"`derive` has no effect: every cell node's edges have op sets "
                    f"of one size, where the rules rank alike ({origin_text(r, 'derive')})",
                    "derive", "drop `derive`")]
