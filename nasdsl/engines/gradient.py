"""The gradient engines' common loop (DARTS, PC-DARTS, ProxylessNAS): a relaxed supernet,
a weight optimizer (SGD, cosine) on the training split and an architecture optimizer
(Adam) on the validation split, first order, alternating per batch."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from nasdsl.engines.archparams import ArchParams, derive
from nasdsl.engines.base import (Batch, Engine, SyncedStep, ValBatches, allreduce_grads,
                                 set_lr)
from nasdsl.engines.budget import fit_budget
from nasdsl.engines.relaxed import DartsStrategy, PcDartsStrategy
from nasdsl.backends.supernet import Strategy, Supernet
from nasdsl.train import distributed as dist
from nasdsl.train.step import train_step


class GradientEngine(Engine):
    ranks_edges = True   # derivation ranks a cell node's edges: `derive --top-k` applies
    arch_kinds: tuple[str, ...] = ("op", "inputs")
    use_ddp = True     # every candidate runs each step: a static graph for DDP
    nesterov = False   # DARTS, PC-DARTS, NAS-Unet: plain momentum

    def __init__(self, space, settings, precision, classes):
        super().__init__(space, settings, precision, classes)
        init = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)   # candidate weights: same on every rank
        self.arch = ArchParams(space, self.arch_kinds, init)
        self.strategy = self.make_strategy()
        # (the strategy's search-time modules, PC-DARTS's pool BatchNorms, are in the
        # supernet's module tree: moved, put in eval mode and saved with it)
        self.net = precision.prepare_model(Supernet(space, self.strategy), space.graph.dims)
        self.arch.to(precision.device)
        self.model = self.net
        if dist.active() and self.use_ddp:
            self.model = DistributedDataParallel(self.net)
        s = settings
        self.w_opt = torch.optim.SGD(self.net.parameters(), lr=s["weight_lr"],
                                     momentum=s["weight_momentum"],
                                     nesterov=self.nesterov and s["weight_momentum"] > 0,
                                     weight_decay=s["weight_decay"])
        self.a_opt = torch.optim.Adam(self.arch.parameters(), lr=s["arch_lr"],
                                      betas=(float(s["arch_beta1"]), 0.999),
                                      weight_decay=s["arch_weight_decay"])
        self.steps_done = 0

    def make_strategy(self) -> Strategy:
        raise NotImplementedError

    def arch_start(self) -> int:
        """Weights only before this epoch (the authors' warm-up / alpha_begin)."""
        return int(self.settings["warmup_epochs"])

    # ---- one step ---------------------------------------------------------------------
    def step(self, batch: Batch, val: ValBatches, epoch: int, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if epoch >= self.arch_start() and self.arch_due(step):
            out["arch_loss"] = self.arch_step(val(epoch, step), epoch, step)
        set_lr(self.w_opt, self.cosine_lr(self.settings["weight_lr"], self.steps_done))
        self.before_weight_step(epoch, step)
        clip = self.settings["grad_clip"] or None
        opt = self.w_opt if self.use_ddp else SyncedStep(self.w_opt)
        result = train_step(self.model, batch, self.loss_fn, opt, self.precision,
                            clip_grad=clip)
        self.steps_done += 1
        out["loss"] = result.loss
        return out

    def arch_due(self, step: int) -> bool:
        return True

    def before_weight_step(self, epoch: int, step: int) -> None:
        pass

    def arch_step(self, batch: Batch, epoch: int, step: int) -> float:
        self.a_opt.zero_grad(set_to_none=True)
        loss = self.seg_loss(self.net, batch)
        loss.backward()
        self.net.zero_grad(set_to_none=True)   # first order: weights untouched here
        allreduce_grads(list(self.arch.parameters()))
        self.a_opt.step()
        return dist.mean_scalar(float(loss.detach()))

    def end_epoch(self, epoch: int, val: ValBatches) -> dict[str, Any]:
        """Dice of the supernet (the current relaxation) on one validation batch."""
        return {"val_dice": self.batch_dice(self.net, val(epoch, 1_000_000))}

    # ---- derivation -----------------------------------------------------------------
    def op_weight(self, did: str) -> list[float]:
        return torch.softmax(self.arch[did].detach().float(), -1).tolist()

    def edge_weight(self, did: str, j: int) -> float:
        if did not in self.arch:
            return 1.0
        return float(torch.softmax(self.arch[did].detach().float(), -1)[j])

    def derive(self, top_k: int | None = None, budget: float | None = None) -> dict[str, Any]:
        assignment = derive(self.space, self.op_weight, self.edge_weight, top_k,
                            rule=str(self.settings["derive"]))
        if budget is not None:
            assignment = fit_budget(self.space, assignment, self.op_weight, budget)
        return assignment

    def entropy(self) -> float:
        return self.arch.entropy()

    def probabilities(self) -> dict[str, list[float]]:
        return self.arch.probs()

    # ---- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "arch": self.arch.state_dict(),
                "w_opt": self.w_opt.state_dict(), "a_opt": self.a_opt.state_dict(),
                "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.arch.load_state_dict(state["arch"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.steps_done = int(state["steps_done"])

    def supernet_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.net.state_dict().items()}

    def export_weights(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        return {k: v.detach().cpu() for k, v in self.net.child_state_dict(assignment).items()}


class DartsEngine(GradientEngine):
    """First-order DARTS: nodes sum all their edges; no beta (the NAS-Unet authors')."""
    name = "darts"
    arch_kinds = ("op",)

    def make_strategy(self) -> Strategy:
        return DartsStrategy(self.arch)


class PcDartsEngine(GradientEngine):
    name = "pc_darts"
    shares_weights = False

    def make_strategy(self) -> Strategy:
        return PcDartsStrategy(self.arch, int(self.settings["k"]), self.space.graph.dims)

    def export_weights(self, assignment: dict[str, Any]) -> None:
        return None   # candidates hold C/K channels: nothing hands over
