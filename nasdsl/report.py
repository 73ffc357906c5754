"""Human and JSON summaries of a checked spec (what `nasdsl check` prints)."""

from __future__ import annotations

from typing import Any

from nasdsl.api import Compiled, summarize
from nasdsl.sema.values import show
from nasdsl.spec_files import printable


def _dims(c: Compiled) -> str:
    return f"{c.graph.dims}D"


def _size(c: Compiled) -> str:
    return "x".join(map(str, c.input_size)) if c.input_size else "?"


def _human(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def _setting(v) -> str:
    return v if isinstance(v, str) else show(v)  # engine names print bare


def headline(c: Compiled) -> str:
    of = f" of {printable(c.unit.space_path or '')}" if c.unit.kind == "genotype" else ""
    return f"{printable(c.path)}: {c.unit.kind} `{c.unit.name}`{of} ({_dims(c)}) ok"


def render(c: Compiled, batch: int | None = None, quiet: bool = False) -> str:
    s = summarize(c)
    lines = [headline(c)]
    if quiet:
        return lines[0]
    params = ", ".join(f"{k}={show(v)}" for k, v in c.params.items())
    lines.append(f"  params:     {params}")
    if c.search and c.unit.kind == "space":
        for engine, block in c.search.items():
            lines.append(f"  search:     engine={engine}" + "".join(
                f", {k}={_setting(v)}" for k, v in block.items()))
    if s.exact:
        lines.append(f"  parameters: {s.params.lo:,} ({_human(s.params.lo)}), exact")
        if s.flops is not None:
            lines.append(f"  FLOPs:      {s.flops.lo:,} ({_human(s.flops.lo)}) at "
                         f"{_size(c)} per sample")
        else:
            lines.append("  FLOPs:      give --input-size (or `size=` on the input)")
        if batch is not None:
            lines.extend(_memory_lines(c, batch))
        if c.decided:
            lines.append(f"  decisions:  {len(c.decided)} decided")
    else:
        n = len(c.table)
        lines.append(f"  choices:    {n} decision points, 10^{s.log10_size:.1f} architectures")
        lines.append(f"  parameters: {_human(s.params.lo)} .. {_human(s.params.hi)} "
                     f"({s.params.lo:,} .. {s.params.hi:,}); supernet "
                     f"{_human(s.supernet_params or 0)}")
        if s.flops is not None:
            lines.append(f"  FLOPs:      {_human(s.flops.lo)} .. {_human(s.flops.hi)} at "
                         f"{_size(c)} per sample")
        lines.append(f"  table:      fingerprint {c.table.fingerprint}; (child) = "
                     "re-elaborated per architecture, else lowered to mixed nodes")
        width = max((len(p.id) for p in c.table), default=0)
        for p in c.table:
            lines.append(f"    {p.id:<{width}}  {p.kind:<6}  {p.describe_domain()}"
                         + _lowering(p))
    return "\n".join(lines)


def _lowering(p) -> str:
    conds = [c.describe() for c in p.condition if c.mode != "has"]
    return ("  (child)" if p.structural else "") + \
        (f"  if {' and '.join(conds)}" if conds else "")


def _memory_lines(c: Compiled, batch: int) -> list[str]:
    if c.input_size is None:
        return ["  memory:     give --input-size to estimate training memory"]
    from nasdsl.analysis.memory import estimate_training_memory

    m = estimate_training_memory(c.graph, c.input_size, batch)
    return [f"  memory:     ~{m.total / 2**20:,.0f} MiB peak to train at batch {batch} "
            f"({_size(c)}): weights {m.weights / 2**20:,.1f}, grads "
            f"{m.grads / 2**20:,.1f}, Adam state {m.optimizer / 2**20:,.1f}, "
            f"activations {m.activations / 2**20:,.0f} MiB"]


def as_dict(c: Compiled, batch: int | None = None) -> dict[str, Any]:
    s = summarize(c)
    out: dict[str, Any] = {
        "file": c.path, "kind": c.unit.kind, "name": c.unit.name, "dims": c.graph.dims,
        "space": c.space_path if c.unit.kind == "genotype" else None,
        "params": {k: show(v) for k, v in c.params.items()},
        "input_size": list(c.input_size) if c.input_size else None,
        "parameters": {"min": s.params.lo, "max": s.params.hi, "exact": s.exact},
        "flops": None if s.flops is None else {"min": s.flops.lo, "max": s.flops.hi},
        "search": {e: {k: _setting(v) for k, v in b.items()} for e, b in c.search.items()},
    }
    if s.exact:
        out["decisions"] = {k: list(v) if isinstance(v, tuple) else v
                            for k, v in c.decided.items()}
        if batch is not None and c.input_size is not None:
            from nasdsl.analysis.memory import estimate_training_memory

            out["memory"] = estimate_training_memory(c.graph, c.input_size, batch).as_dict()
    else:
        out["log10_size"] = round(s.log10_size, 3)
        out["supernet_parameters"] = s.supernet_params
        out["fingerprint"] = c.table.fingerprint
        out["decision_points"] = [_point_dict(p) for p in c.table]
    return out


def _point_dict(p) -> dict[str, Any]:
    return {"id": p.id, "index": p.index, "kind": p.kind, "role": p.role,
            "domain": list(p.labels), "keep": list(p.keep),
            "parent": list(p.parent) if p.parent else None,
            "structural": p.structural,
            "condition": [{"decision": c.decision, "labels": list(c.labels), "mode": c.mode}
                          for c in p.condition],
            "labels": [{"label": i.label, "op": i.op, "tags": sorted(i.tags),
                        "buildable": i.buildable} for i in p.info]}
