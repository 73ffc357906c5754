"""Pairing: which decisions of a space an engine cannot search.

Decision kinds, as an engine sees them:
  op          a mixed node of the supernet: one candidate op per label (cell edges,
              macro layer choices, per-value candidates of a same-shape value choice)
  inputs      a `choose` node of the supernet: k of n incoming edges
  structural  a decision the supernet cannot hold as a mixed/choose node (patch size,
              strides, optional stages): each child is re-elaborated, its modules come
              from one shared weight bank
The relaxed engines (DARTS, PC-DARTS) need every decision inside the supernet; the
sampling engines (ENAS, random) take any decision; ProxylessNAS gates op and inputs
decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

KINDS = ("op", "inputs", "structural")


@dataclass(frozen=True, slots=True)
class Blocker:
    decision: str
    kind: str
    reason: str


def decision_kinds(table: Iterable[Any], graph: Any) -> dict[str, str]:
    """Kind of every decision as engines see it: op / inputs held by the supernet's
    mixed / choose nodes, anything else structural."""
    held: dict[str, str] = {}
    for n in graph.nodes:
        if n.op == "mixed":
            held[n.attr("decision")] = "op"
        elif n.op == "choose":
            held[n.attr("decision")] = "inputs"
    return {p.id: held.get(p.id, "structural") for p in table}


def blockers(engine: str, table: Iterable[Any], graph: Any) -> list[Blocker]:
    """Decisions of the space that `engine` cannot search (empty: the pairing works)."""
    from nasdsl.enginespec.catalog import ENGINES

    spec = ENGINES[engine]
    out = []
    for did, kind in decision_kinds(table, graph).items():
        if kind not in spec.kinds:
            out.append(Blocker(did, kind, f"{engine} searches {', '.join(spec.kinds)} "
                               f"decisions; `{did}` is {kind} (it changes the network's "
                               "structure, so the supernet cannot hold its candidates)"))
    return out
