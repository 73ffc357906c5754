"""The decision table: every choice of a space as an ordered list of decision points.

Engines consume only this table (docs/SEARCH_IR.md). An architecture is an assignment
{id: label | tuple of labels}; `validate_assignment` says exactly which ids are missing,
unknown, out of domain or inactive, for engines and genotype files alike.

Kinds:
  value   one of `domain` (ints, names, tuples, booleans) — `choice x in [...]`
  op      an op of an op set: a cell edge, or a macro `choice b in ops`
  inputs  which candidates feed something: a subset of `labels` whose size is in `keep`
          — a cell node (`nodes ... keep k`) or `choice x from [...] keep ...`
A point is active when every `Cond` of its `condition` holds: `in` (the parent takes one
of `labels`) or `has` (the parent inputs decision keeps the candidate `labels[0]`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from nasdsl.diagnostics import suggest
from nasdsl.source import Span


@dataclass(frozen=True, slots=True)
class Cond:
    decision: str
    labels: tuple[str, ...]
    mode: str = "in"                  # in | has

    def holds(self, assignment: Mapping[str, Any]) -> bool:
        chosen = assignment.get(self.decision)
        if chosen is None:
            return False
        if self.mode == "has":
            return isinstance(chosen, tuple) and self.labels[0] in chosen
        return chosen in self.labels

    def describe(self) -> str:
        if self.mode == "has":
            return f"{self.decision} keeps {self.labels[0]}"
        return f"{self.decision} in [{', '.join(self.labels)}]"


@dataclass(frozen=True, slots=True)
class LabelInfo:
    label: str
    op: str | None = None             # registry op name (op points)
    role: str | None = None
    tags: frozenset[str] = frozenset()  # zero, pool, identity, param_free
    buildable: bool = True
    error: str | None = None          # why the label does not build


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
    role: str = "value"             # normal | down | up | macro | node | value | inputs
    structural: bool = False
    condition: tuple[Cond, ...] = ()
    info: tuple[LabelInfo, ...] = ()
    index: int = -1

    @property
    def optional(self) -> bool:
        return self.kind == "value" and set(self.labels) == {"false", "true"}

    @property
    def buildable_labels(self) -> tuple[str, ...]:
        if not self.info:
            return self.labels
        return tuple(i.label for i in self.info if i.buildable)

    def label_info(self, label: str) -> LabelInfo:
        for i in self.info:
            if i.label == label:
                return i
        return LabelInfo(label)

    @property
    def size(self) -> int:
        """Number of values (for inputs: number of allowed subsets)."""
        if self.kind != "inputs":
            return len(self.buildable_labels)
        n = len(self.domain)
        return sum(math.comb(n, k) for k in range(self.keep[0], self.keep[1] + 1))

    def describe_domain(self) -> str:
        if self.kind == "inputs":
            lo, hi = self.keep
            k = str(lo) if lo == hi else f"{lo}..{hi}"
            return f"{k} of [{', '.join(self.labels)}]"
        return "[" + ", ".join(self.labels) + "]"

    def accepts(self, chosen: Any) -> bool:
        if self.kind == "inputs":
            return (isinstance(chosen, tuple) and len(set(chosen)) == len(chosen)
                    and set(chosen) <= set(self.labels)
                    and self.keep[0] <= len(chosen) <= self.keep[1])
        return isinstance(chosen, str) and chosen in self.labels


@dataclass(frozen=True)
class DecisionTable:
    points: tuple[DecisionPoint, ...]
    # False when the exploration for conditional decisions ran out of budget (a huge
    # spec): decisions met only under untried assignments may be missing
    complete: bool = True

    def __iter__(self):
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def get(self, did: str) -> DecisionPoint | None:
        return self._by_id.get(did)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.points)

    @property
    def _by_id(self) -> dict[str, DecisionPoint]:
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {p.id: p for p in self.points}
            self.__dict__["_cache"] = cache
        return cache

    @property
    def fingerprint(self) -> str:
        """16 hex digits over ids, kinds, labels, keep and conditions: store it in
        checkpoints; a checkpoint of another table must not be loaded."""
        h = hashlib.sha256()
        for p in self.points:
            conds = [(c.decision, c.labels, c.mode) for c in p.condition]
            h.update(repr((p.id, p.kind, p.labels, p.keep, conds)).encode())
        return h.hexdigest()[:16]

    def children(self, did: str) -> list[DecisionPoint]:
        return [p for p in self.points if p.condition and p.condition[-1].decision == did]

    def is_active(self, p: DecisionPoint, assignment: Mapping[str, Any]) -> bool:
        return all(c.holds(assignment) for c in p.condition)

    def active(self, assignment: Mapping[str, Any]) -> list[DecisionPoint]:
        """Decisions that must be decided under an assignment (conditions hold)."""
        return [p for p in self.points if self.is_active(p, assignment)]

    def normalise(self, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """Engine values (`3`, `True`, lists) -> labels; unknown entries pass through."""
        out: dict[str, Any] = {}
        for did, v in assignment.items():
            p = self.get(did)
            out[did] = v if p is None else _to_label(p, v)
        return out

    def sample(self, rng) -> dict[str, Any]:
        """A uniformly drawn buildable label per active point (a `random.Random` is
        passed in): the random-search engine's proposal, and the tests' genotypes."""
        out: dict[str, Any] = {}
        for p in self.points:
            if not self.is_active(p, out):
                continue
            if p.kind == "inputs":
                k = rng.randint(p.keep[0], p.keep[1])
                chosen = set(rng.sample(range(len(p.labels)), k))
                out[p.id] = tuple(lab for i, lab in enumerate(p.labels) if i in chosen)
            else:
                out[p.id] = rng.choice(p.buildable_labels)
        return out

    def defaults(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self.points:
            if self.is_active(p, out):
                out[p.id] = p.default
        return out

    def log10_size(self) -> float:
        """log10 of the number of distinct (buildable) architectures the space holds."""
        roots = [p for p in self.points if not p.condition]
        return sum(math.log10(max(1, self._count(p))) for p in roots)

    def _count(self, p: DecisionPoint) -> int:
        kids = self.children(p.id)
        if p.kind == "inputs":
            per_label = {lab: 1 for lab in p.labels}
            for c in kids:
                per_label[c.condition[-1].labels[0]] *= self._count(c)
            return _subset_count(p, per_label)
        total = 0
        for lab in p.buildable_labels:
            n = 1
            for c in kids:
                if lab in c.condition[-1].labels:
                    n *= self._count(c)
            total += n
        return total


def _to_label(p: DecisionPoint, v: Any) -> Any:
    if p.kind == "inputs":
        if isinstance(v, (list, tuple, set, frozenset)):
            return tuple(v) if not isinstance(v, (set, frozenset)) else \
                tuple(lab for lab in p.labels if lab in v)
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_to_label(p, x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return v


def _subset_count(p: DecisionPoint, kid_sizes: dict[str, int]) -> int:
    """Sum over allowed subsets of the product of the chosen candidates' counts.

    NOTE: that sum is the elementary symmetric polynomial e_k of the sizes, computed by
    the usual O(n^2) recurrence rather than by enumerating subsets.
    """
    sizes = [kid_sizes.get(label, 1) for label in p.labels]
    e = [1] + [0] * len(sizes)
    for s in sizes:
        for k in range(len(sizes), 0, -1):
            e[k] += e[k - 1] * s
    return sum(e[k] for k in range(p.keep[0], p.keep[1] + 1))


# ---- validation ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Issue:
    """One problem of an assignment; callers turn it into a Diagnostic with a span."""
    code: str
    decision: str
    message: str
    hint: str | None = None


def validate_assignment(table: DecisionTable, assignment: Mapping[str, Any],
                        visited: Iterable[str] | None = None) -> list[Issue]:
    """Unknown (E0411), out-of-domain (E0412), missing (E0413) and inactive (E0416)
    decisions of an assignment. `visited` = the ids an elaboration under the assignment
    met (exact activity); without it the table's conditions decide."""
    issues: list[Issue] = []
    for did, chosen in assignment.items():
        p = table.get(did)
        if p is None:
            hint = suggest(did, table.ids) or ("this space has no choices" if not len(table)
                                               else "run `nasdsl check` on the space to "
                                               "list its choices")
            issues.append(Issue("E0411", did, f"unknown decision `{did}`", hint))
        elif not p.accepts(chosen):
            issues.append(_out_of_domain(p, chosen))
    if visited is None:
        active = {p.id for p in table.active(assignment)}
    else:  # cell edges are met whether or not their node keeps them
        active = {i for i in visited if (q := table.get(i)) is None or all(
            c.holds(assignment) for c in q.condition if c.mode == "has")}
    for p in table.points:
        given = p.id in assignment
        if p.id in active and not given:
            issues.append(Issue("E0413", p.id, f"choice `{p.id}` is not decided",
                                f"add `{p.id} = ...` with one of {p.describe_domain()}"))
        elif given and p.id not in active:
            why = " and ".join(c.describe() for c in p.condition) or "its parent choice"
            issues.append(Issue("E0416", p.id, f"choice `{p.id}` is not used by this "
                                "architecture", f"it applies only when {why}; remove it"))
    return issues


def _out_of_domain(p: DecisionPoint, chosen: Any) -> Issue:
    if p.kind == "inputs":
        if not isinstance(chosen, tuple):
            return Issue("E0412", p.id, f"`{p.id}` takes a list of inputs, found "
                         f"{chosen!r}", f"choose {p.describe_domain()}")
        bad = [c for c in chosen if c not in p.labels]
        if bad:
            return Issue("E0412", p.id, f"`{bad[0]}` is not a candidate of `{p.id}`",
                         suggest(str(bad[0]), p.labels) or
                         f"candidates: {', '.join(p.labels)}")
        lo, hi = p.keep
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        return Issue("E0412", p.id, f"`{p.id}` keeps {want} input(s), the assignment "
                     f"gives {len(chosen)}")
    return Issue("E0412", p.id, f"`{chosen}` is not a value of choice `{p.id}`",
                 suggest(str(chosen), p.labels) or f"choose one of {p.describe_domain()}")
