"""Training-memory estimate of a frozen network, before any tensor is allocated.

peak ~ weights + gradients + optimizer state (Adam: two moments) + saved activations.
Activations dominate for segmentation nets: each op keeps `OpDef.saved` output-sized
tensors for backward, at the batch size and patch size given. The factors were fitted
to autograd's saved tensors (bench/memory_estimate.py, BENCHMARKS.md). Known limits:
one factor per op cannot follow 2D vs 3D up/down ratios or inputs shared by several
edges, and backward-time gradients and library workspaces (cuBLAS/cuDNN) are not
modelled; a per-op `a * input + b * output` model is the next step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from nasdsl.analysis.resources import param_bounds
from nasdsl.ir.graph import Graph
from nasdsl.ops import REGISTRY

BYTES = 4  # float32


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    grads: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.grads + self.optimizer + self.activations

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def activation_elements(graph: Graph, input_size: tuple[int, ...]) -> float:
    """Output-sized elements autograd saves for one sample."""
    total = 0.0
    for n in graph.nodes:
        if n.op == "input":
            continue
        numel = n.type.channels * math.prod(n.type.size(input_size))
        total += REGISTRY[n.op].saved * numel
    return total


def estimate_training_memory(graph: Graph, input_size: tuple[int, ...], batch: int,
                             optimizer_moments: int = 2) -> MemoryEstimate:
    params = param_bounds(graph).hi
    acts = activation_elements(graph, input_size) * batch
    return MemoryEstimate(weights=params * BYTES, grads=params * BYTES,
                          optimizer=params * BYTES * optimizer_moments,
                          activations=int(acts * BYTES))
