"""Before `train` or `search` allocates a network: will it fit?

The estimate is the one `nasdsl check` prints (analysis/memory.py: weights, gradients,
Adam state and saved activations at the batch and patch given). It is compared with the
memory the device has free now: on CUDA what `torch.cuda.mem_get_info` reports; on the
CPU the kernel's MemAvailable, lowered to the cgroup's limit when one is set (a
container's limit is what the allocator actually meets). When the estimate is larger,
the command stops with both numbers instead of failing in the allocator minutes later.
The estimate can be wrong both ways (BENCHMARKS.md), so `NASDSL_MEMORY_CHECK=off` skips
the comparison.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from nasdsl.errors import UsageError

ENV = "NASDSL_MEMORY_CHECK"


class MemoryCheckError(UsageError):
    """The network's training-memory estimate exceeds the memory available."""


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.1f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.0f} MiB"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """limit - usage of this process's memory cgroup (v2, else v1), None when unlimited."""
    pairs = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
              "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    for limit_file, usage_file in pairs:
        try:
            raw = Path(limit_file).read_text().strip()
            if raw == "max":
                return None
            limit, usage = int(raw), int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit >= 1 << 60:            # v1 writes "unlimited" as a huge number
            return None
        return max(limit - usage, 0)
    return None


def available_memory(device: Any) -> tuple[int | None, str]:
    """(bytes free for training on `device`, what was measured); None when unknown."""
    dev = str(device or "cpu")
    if dev.startswith("cuda"):
        import torch

        try:
            free, _total = torch.cuda.mem_get_info(torch.device(dev))
        except (RuntimeError, AssertionError, ValueError):
            return None, dev
        return int(free), f"free on {dev}"
    room = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    return (min(room) if room else None), "available RAM (CPU training)"


def check_fits(graph: Any, input_size: Sequence[int], batch: int, device: Any,
               what: str, lower_bound: bool = False) -> None:
    """Refuse (MemoryCheckError, exit 2) when the estimate exceeds the free memory."""
    if os.environ.get(ENV, "").strip().lower() in ("off", "0", "no", "false"):
        return
    from nasdsl.analysis.memory import estimate_training_memory

    estimate = estimate_training_memory(graph, tuple(int(s) for s in input_size), int(batch))
    free, where = available_memory(device)
    if free is None or estimate.total <= free:
        return
    size = "x".join(str(int(s)) for s in input_size)
    bound = "at least " if lower_bound else "about "
    raise MemoryCheckError(
        f"{what}: training needs {bound}{_gib(estimate.total)} at batch {batch} and patch "
        f"{size} (the estimate `nasdsl check` prints: activations "
        f"{_gib(estimate.activations)}, weights + gradients + Adam state "
        f"{_gib(estimate.weights + estimate.grads + estimate.optimizer)}), but only "
        f"{_gib(free)} is {where}; use a smaller --patch or --batch, or set {ENV}=off "
        "to try anyway")


__all__ = ["available_memory", "check_fits", "MemoryCheckError", "ENV"]
