"""A spec's constraints (`constraint params <= 2e6`) evaluated on one architecture.

At compile time a frozen network must satisfy them (E0423); a space is not judged by its
default network: engines ask for each architecture (`check_architecture`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nasdsl.analysis.resources import flop_bounds, param_bounds
from nasdsl.compiled import Compiled
from nasdsl.diagnostics import DiagnosticSink, NasError, by_position
from nasdsl.sema.elaborate import Elaborator, Env
from nasdsl.sema.budget import Exhausted
from nasdsl.sema.choices import Structural
from nasdsl.sema.exprs import EvalError, Silent
from nasdsl.sema.values import show
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr


def check_constraints(el: Elaborator, constraints, c: Compiled, sink: DiagnosticSink) -> None:
    """Constraints hold for every architecture; a space is not judged by its default
    network (engines evaluate each architecture: `space.constraints(a)`)."""
    if not constraints or not c.is_frozen:
        return
    values = cost_values(c)
    for con, ok in eval_constraints(el, constraints, values, sink):
        if ok is False:
            sink.error("E0423", "constraint does not hold for this network", con.span,
                       f"params = {values['params']:,}")


def cost_values(c: Compiled) -> dict[str, int]:
    """The names a constraint may use besides the spec's own: `params`, `flops`."""
    values = {"params": param_bounds(c.graph).lo}
    if c.input_size is not None:
        values["flops"] = flop_bounds(c.graph, c.input_size).lo
    return values


def eval_constraints(el: Elaborator, constraints, values: dict[str, int],
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


def architecture_result(el: Elaborator, constraints, child: Compiled) -> ConstraintResult:
    """The constraints on one elaborated architecture; NasError if one cannot be
    evaluated."""
    sink = DiagnosticSink()
    values = cost_values(child)
    checked = eval_constraints(el, constraints, values, sink)
    if sink.has_errors:
        raise NasError(sorted(sink.errors, key=by_position))
    failed = [fmt_expr(con.expr) for con, ok in checked if ok is False]
    return ConstraintResult(not failed, values, failed)


BUDGET_METRICS = ("params", "flops")


def budgets(el: Elaborator, constraints) -> dict[str, float]:
    """Per metric, the tightest N of the spec's `constraint params <= N` (or `<`,
    `flops`): the budget that cost-aware engines steer towards. Read once, when the spec
    is compiled, from the constraints the elaborator recorded and in its environment; a
    bound that needs the network (`params <= flops`) or a choice of the space to evaluate
    is no budget."""
    found: dict[str, float] = {}
    for con in constraints:
        e = con.expr
        if not (isinstance(e, A.BinOp) and e.op in ("<=", "<") and isinstance(e.left, A.Name)
                and e.left.id in BUDGET_METRICS):
            continue
        try:
            value = el.eval(e.right, Env(el.root_env))
        except (EvalError, Silent, Exhausted, Structural):
            continue   # Structural: it depends on a choice of the space
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[e.left.id] = min(float(value), found.get(e.left.id, float("inf")))
    return found
