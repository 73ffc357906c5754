"""The decision table: every choice of a space as an ordered list of decision points.

Engines consume only this table. A genotype is an assignment {id: value}; checking one
against a table says exactly which ids are missing, unknown or out of domain.

Kinds:
  value   one of `domain` (ints, names, tuples, ops) — `choice x in [...]`
  op      the op on a cell edge: one label of an op set
  inputs  which candidates feed a node: a subset of `domain` (labels) whose size is in
          `keep` — a cell node (`nodes ... keep k`) or `choice x from [...] keep ...`
An `op` decision of a cell edge is *active* only when its edge is among the node's
chosen inputs: `parent` = (inputs decision id, candidate label).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nasdsl.source import Span


@dataclass(frozen=True, slots=True)
class DecisionPoint:
    id: str
    kind: str                       # value | op | inputs
    domain: tuple[Any, ...]         # values (value), labels (op, inputs)
    labels: tuple[str, ...]         # spec-syntax text of each domain element
    span: Span = field(compare=False)
    keep: tuple[int, int] = (1, 1)  # inputs: min and max subset size
    parent: tuple[str, str] | None = None
    default: Any = None

    @property
    def size(self) -> int:
        """Number of values (for inputs: number of allowed subsets)."""
        if self.kind != "inputs":
            return len(self.domain)
        n = len(self.domain)
        return sum(math.comb(n, k) for k in range(self.keep[0], self.keep[1] + 1))

    def describe_domain(self) -> str:
        if self.kind == "inputs":
            lo, hi = self.keep
            k = str(lo) if lo == hi else f"{lo}..{hi}"
            return f"{k} of [{', '.join(self.labels)}]"
        return "[" + ", ".join(self.labels) + "]"


@dataclass(frozen=True)
class DecisionTable:
    points: tuple[DecisionPoint, ...]

    def __iter__(self):
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def get(self, did: str) -> DecisionPoint | None:
        return self._by_id.get(did)

    @property
    def _by_id(self) -> dict[str, DecisionPoint]:
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {p.id: p for p in self.points}
            self.__dict__["_cache"] = cache
        return cache

    def children(self, did: str) -> list[DecisionPoint]:
        return [p for p in self.points if p.parent and p.parent[0] == did]

    def log10_size(self) -> float:
        """log10 of the number of distinct architectures the space holds."""
        total = 0.0
        for p in self.points:
            if p.parent is not None:
                continue
            kids = {c.parent[1]: c.size for c in self.children(p.id)}  # type: ignore[index]
            if p.kind == "inputs" and kids:
                total += math.log10(max(1, _subset_count(p, kids)))
            else:
                total += math.log10(max(1, p.size))
        return total

    def sample(self, rng) -> dict[str, Any]:
        """A uniformly drawn label per point (a `random.Random` is passed in): the
        random-search engine's proposal, and the tests' random genotypes."""
        out: dict[str, Any] = {}
        for p in self.points:
            if p.kind == "inputs":
                k = rng.randint(p.keep[0], p.keep[1])
                chosen = set(rng.sample(range(len(p.labels)), k))
                out[p.id] = tuple(lab for i, lab in enumerate(p.labels) if i in chosen)
            else:
                out[p.id] = rng.choice(p.labels)
        return out

    def active(self, assignment: dict[str, Any]) -> list[DecisionPoint]:
        """Decisions that must be decided under an assignment (parents satisfied)."""
        out = []
        for p in self.points:
            if p.parent is None:
                out.append(p)
                continue
            chosen = assignment.get(p.parent[0])
            if isinstance(chosen, tuple) and p.parent[1] in chosen:
                out.append(p)
        return out


def _subset_count(p: DecisionPoint, kid_sizes: dict[str, int]) -> int:
    """Sum over allowed subsets of the product of the chosen edges' op counts.

    NOTE: that sum is the elementary symmetric polynomial e_k of the sizes, computed by
    the usual O(n^2) recurrence rather than by enumerating subsets.
    """
    sizes = [kid_sizes.get(label, 1) for label in p.labels]
    e = [1] + [0] * len(sizes)
    for s in sizes:
        for k in range(len(sizes), 0, -1):
            e[k] += e[k - 1] * s
    return sum(e[k] for k in range(p.keep[0], p.keep[1] + 1))
