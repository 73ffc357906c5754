"""Strategy hooks: how the relaxed supernet builds and runs its choice nodes.

An engine subclasses `Strategy` (docs/SEARCH_IR.md): discrete one-path (`OnePath`),
weighted sum (DARTS), partial channels (PC-DARTS: `build_edge` asks the bank for ops on
C/K channels), gated two-path (ProxylessNAS). Arch parameters are the engine's, keyed by
decision id; nodes that share a decision (cell instances, uses of one value choice)
share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from nasdsl.diagnostics import Diagnostic, NasError
from nasdsl.ir.decisions import LabelInfo
from nasdsl.ir.graph import Alternative, Node
from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY


@dataclass(eq=False)
class Edge:
    """One mixed node: a cell edge, a macro op choice, or an op whose attribute is a
    value choice. `candidates` holds the module of each label (None = inline identity)."""
    node: Node
    decision: str
    labels: tuple[str, ...]
    role: str                                   # normal | down | up | macro | value
    alternatives: tuple[Alternative, ...]
    in_types: tuple[TensorType, ...]
    info: tuple[LabelInfo, ...] = ()
    candidates: dict[str, nn.Module | None] = field(default_factory=dict)
    # every user is a cell node (`choose`): run_edge may return what the strategy's
    # run_choose takes (e.g. PC-DARTS's unshuffled parts) instead of a tensor
    joined: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return self.node.path

    @property
    def in_type(self) -> TensorType:
        return self.in_types[0]

    @property
    def out_type(self) -> TensorType:
        return self.node.type

    @property
    def channels(self) -> int:
        return self.node.type.channels

    @property
    def param_free(self) -> dict[str, bool]:
        return {a.label: REGISTRY[a.op].params(dict(a.attrs), self.in_types, self.out_type)
                == 0 for a in self.alternatives}

    def tags(self, label: str) -> frozenset[str]:
        for i in self.info:
            if i.label == label:
                return i.tags
        return frozenset()

    def run(self, label: str, *xs: torch.Tensor) -> torch.Tensor:
        module = self.candidates[label]
        return xs[0] if module is None else module(*xs)


@dataclass(eq=False)
class Choose:
    """One cell node: sums `keep` of its candidate edges (labels = their sources)."""
    node: Node
    decision: str
    labels: tuple[str, ...]
    keep: int

    @property
    def path(self) -> tuple[str, ...]:
        return self.node.path


Make = Callable[..., "nn.Module | None"]


class Strategy:
    # False: candidates and cell-internal norms are built without scale and shift during
    # the search (a weighted sum of candidates: DARTS appendix A.1.1)
    affine = True

    def search_modules(self) -> nn.Module | None:
        """Search-time modules outside the weight bank (e.g. PC-DARTS's pool BatchNorms),
        made by build_edge; the supernet adopts them into its module tree."""
        return None

    def build_edge(self, edge: Edge, make: Make) -> dict[str, nn.Module | None]:
        """Modules of the candidates; `make(label, channels=None)` fetches from the bank
        (channels: build the op on that many channels, e.g. C // K for PC-DARTS)."""
        return {label: make(label) for label in edge.labels}

    def run_edge(self, edge: Edge, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not run mixed nodes")

    def choose_inputs(self, node: Choose) -> tuple[str, ...] | None:
        """Candidate edges of a cell node to compute (None = all)."""
        return None

    def run_choose(self, node: Choose, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(inputs.values())).sum(0)


class OnePath(Strategy):
    """The discrete strategy: the label of each decision in `assignment`."""

    def __init__(self, assignment: dict[str, Any] | None = None):
        self.assignment = dict(assignment or {})

    def _label(self, decision: str) -> Any:
        if decision not in self.assignment:
            raise NasError([Diagnostic("error", "E0413", f"choice `{decision}` is not "
                                       "decided", None, "the one-path strategy needs a "
                                       "label for every decision of the relaxed graph")])
        return self.assignment[decision]

    def run_edge(self, edge: Edge, x: torch.Tensor) -> torch.Tensor:
        label = self._label(edge.decision)
        if label not in edge.candidates:
            raise NasError([Diagnostic("error", "E0412", f"`{label}` is not a value of "
                                       f"choice `{edge.decision}`", None)])
        return edge.run(label, x)

    def choose_inputs(self, node: Choose) -> tuple[str, ...] | None:
        return tuple(self._label(node.decision))

    def run_choose(self, node: Choose, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        values = list(inputs.values())
        return values[0] if len(values) == 1 else torch.stack(values).sum(0)
