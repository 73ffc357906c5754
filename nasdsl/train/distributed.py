"""torch.distributed through torchrun's environment (never a home-made launcher).

`torchrun --nproc_per_node=N --no-python nasdsl train ...` sets WORLD_SIZE/RANK/LOCAL_RANK;
without them every helper here is the single-process identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist


@dataclass(frozen=True)
class DistInfo:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def from_env() -> DistInfo:
    return DistInfo(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")),
                    int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: str | None = None) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes; pick this rank's device.

    NCCL on CUDA, gloo on CPU. `device` forces one ("cpu" for the gloo tests)."""
    info = from_env()
    cuda = torch.cuda.is_available() and device != "cpu"
    if device is not None and device != "cpu":
        dev = torch.device(device)
    elif cuda:
        dev = torch.device("cuda", info.local_rank)
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if info.enabled and not tdist.is_initialized():
        tdist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return info, dev


def teardown() -> None:
    if tdist.is_initialized():
        tdist.destroy_process_group()


def active() -> bool:
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def all_true(flag: bool) -> bool:
    """True on every rank only if it is true on every rank."""
    if not active():
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_device())
    tdist.all_reduce(t, op=tdist.ReduceOp.MIN)
    return bool(t.item())


def any_true(flag: bool) -> bool:
    return not all_true(not flag)


def mean_scalar(value: float) -> float:
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_device())
    tdist.all_reduce(t)
    return float(t.item()) / tdist.get_world_size()


def sum_tensor(t: torch.Tensor) -> torch.Tensor:
    if active():
        t = t.to(_device())
        tdist.all_reduce(t)
    return t.cpu()


def barrier() -> None:
    if active():
        tdist.barrier()


def _device() -> torch.device:
    if tdist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


__all__ = ["DistInfo", "from_env", "setup", "teardown", "active", "all_true", "any_true",
           "mean_scalar", "sum_tensor", "barrier"]
