"""The sampling engines: ENAS (controller + REINFORCE) and random search, both over one
set of shared child weights (children.py).

An epoch of either is an *episode*: `child_epochs` passes of shared-weight training, a
fresh child per minibatch (ENAS's default; RONASMIS does not say — our choice), then the
architecture phase with the shared weights frozen: ENAS samples `children_per_episode`
children, rewards each with its validation Dice plus entropy_weight * entropy (the
entropy bonus is added to the reward, as in the official ENAS), and takes one REINFORCE
step per `controller_steps` with the moving-average baseline; random search scores
`samples` fresh children and keeps the best seen. The two phases strictly alternate.
"""

from __future__ import annotations

import random
from typing import Any

import torch

from nasdsl.engines.base import Batch, Engine, SyncedStep, ValBatches, set_lr
from nasdsl.engines.children import SharedChildren, fit_to
from nasdsl.engines.controller import Controller
from nasdsl.train.step import train_step


class SamplingEngine(Engine):
    def __init__(self, space, settings, precision, classes):
        super().__init__(space, settings, precision, classes)
        torch.manual_seed(self.seed)
        self.children = SharedChildren(space, precision.device)
        self.opt = self._optimizer()
        self.children.on_new_parameter(lambda p: self.opt.add_param_group({"params": [p]}))
        self.steps_done = 0
        self.budget = space.budget("params")

    def _optimizer(self) -> torch.optim.Optimizer:
        """One group per shared tensor, in bank order (a bank grows as children appear;
        a placeholder group keeps an empty bank's optimizer valid)."""
        groups = [{"params": [torch.zeros(1, requires_grad=True)]}]
        groups += [{"params": [p]} for p in self.children.parameters()]
        return torch.optim.Adam(groups, lr=self.settings["weight_lr"],
                                weight_decay=self.settings["weight_decay"])

    def steps_multiplier(self) -> int:
        return max(1, int(self.settings["child_epochs"]))

    def propose(self, epoch: int, step: int) -> dict[str, Any]:
        raise NotImplementedError

    def step(self, batch: Batch, val: ValBatches, epoch: int, step: int) -> dict[str, Any]:
        child = self.propose(epoch, step)
        model = self.children.module(child)
        set_lr(self.opt, self.cosine_lr(self.settings["weight_lr"], self.steps_done))
        clip = self.settings["grad_clip"] or None
        result = train_step(model, fit_to(batch, self.children.input_size(child)),
                            self.loss_fn, SyncedStep(self.opt), self.precision, clip_grad=clip)
        self.steps_done += 1
        return {"loss": result.loss}

    def reward(self, child: dict[str, Any], batch: Batch) -> float:
        model = self.children.module(child)
        return self.batch_dice(model, fit_to(batch, self.children.input_size(child)))

    def uniform(self, gen: torch.Generator, tries: int = 100) -> dict[str, Any]:
        """A uniformly drawn legal architecture (valid and within the constraints)."""
        rnd = random.Random(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        for _ in range(tries):
            draw = self.space.table.sample(rnd)
            if self.space.legal(draw):
                return draw
        raise RuntimeError(f"no legal architecture in {tries} random draws (are the "
                           "constraints satisfiable?)")

    def export_weights(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.children.export(assignment)

    def supernet_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.children.net.state_dict().items()}

    def base_state(self) -> dict[str, Any]:
        return {"children": self.children.state_dict(), "opt": self.opt.state_dict(),
                "steps_done": self.steps_done}

    def load_base(self, state: dict[str, Any]) -> None:
        self.children.load_state_dict(state["children"])
        self.opt = self._optimizer()   # groups in bank order, as the run built them
        self.opt.load_state_dict(state["opt"])
        self.steps_done = int(state["steps_done"])


class EnasEngine(SamplingEngine):
    name = "enas"

    def __init__(self, space, settings, precision, classes):
        super().__init__(space, settings, precision, classes)
        s = settings
        gen_state = torch.get_rng_state()
        torch.manual_seed(self.seed + 1)
        self.controller = Controller(space, s["lstm_size"], s["lstm_layers"],
                                     s["temperature"], s["tanh_constant"])
        torch.set_rng_state(gen_state)
        self.c_opt = torch.optim.Adam(self.controller.parameters(), lr=s["controller_lr"])
        self.baseline: float | None = None
        self.last_entropy = float("nan")

    def propose(self, epoch: int, step: int) -> dict[str, Any]:
        if epoch == 0 and step == 0 and self.settings["first_child_max"]:
            return largest_child(self.space)
        gen = self.rng(epoch, step, "child")
        with torch.no_grad():
            for _ in range(20):
                child, _, _ = self.controller.sample(gen)
                if self.space.legal(child):
                    return child
        return self.uniform(gen)

    def end_epoch(self, epoch: int, val: ValBatches) -> dict[str, Any]:
        """Controller phase: shared weights frozen, REINFORCE over sampled children."""
        s = self.settings
        rewards = []
        for update in range(int(s["controller_steps"])):
            self.c_opt.zero_grad(set_to_none=True)
            loss = torch.zeros(())
            n = int(s["children_per_episode"])
            for i in range(n):
                gen = self.rng(epoch, update * n + i, "controller")
                child, logp, entropy = self.controller.sample(gen)
                # an illegal child (a combination that does not elaborate, or breaks a
                # constraint) is rewarded 0: the controller learns to avoid it
                r = self.reward(child, val(epoch, update * n + i)) \
                    if self.space.legal(child) else 0.0
                r += float(s["entropy_weight"]) * float(entropy.detach())
                b = r if self.baseline is None else self.baseline
                loss = loss - logp * (r - b)
                decay = float(s["baseline_decay"])
                self.baseline = decay * b + (1 - decay) * r
                rewards.append(r)
                self.last_entropy = float(entropy.detach())
            (loss / n).backward()
            self.c_opt.step()
        return {"reward": sum(rewards) / len(rewards), "baseline": self.baseline}

    def derive(self, top_k=None, budget=None) -> dict[str, Any]:
        """The controller's most likely architecture (greedy); with a budget, the most
        likely of 64 samples that fits it."""
        with torch.no_grad():
            best, _, _ = self.controller.sample(torch.Generator(), greedy=True)
        budget = budget if budget is not None else self.budget
        if budget is None or self.space.cost(best) <= budget:
            return best
        gen = torch.Generator().manual_seed(self.seed)
        fits = []
        with torch.no_grad():
            for _ in range(64):
                child, logp, _ = self.controller.sample(gen)
                if self.space.legal(child) and self.space.cost(child) <= budget:
                    fits.append((float(logp), child))
        if not fits:
            from nasdsl.engines.budget import BudgetError
            raise BudgetError(f"no sampled architecture fits params <= {budget:,.0f}")
        return max(fits, key=lambda f: f[0])[1]

    def entropy(self) -> float:
        return self.last_entropy

    def probabilities(self) -> dict[str, list[float]]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {**self.base_state(), "controller": self.controller.state_dict(),
                "c_opt": self.c_opt.state_dict(), "baseline": self.baseline,
                "last_entropy": self.last_entropy}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_base(state)
        self.controller.load_state_dict(state["controller"])
        self.c_opt.load_state_dict(state["c_opt"])
        self.baseline = state["baseline"]
        self.last_entropy = float(state["last_entropy"])


class RandomEngine(SamplingEngine):
    name = "random"

    def __init__(self, space, settings, precision, classes):
        super().__init__(space, settings, precision, classes)
        self.best: tuple[float, dict[str, Any]] | None = None

    def propose(self, epoch: int, step: int) -> dict[str, Any]:
        return self.uniform(self.rng(epoch, step, "child"))

    def end_epoch(self, epoch: int, val: ValBatches) -> dict[str, Any]:
        scores = []
        for i in range(int(self.settings["samples"])):
            child = self.uniform(self.rng(epoch, i, "candidate"))
            if self.budget is not None and self.space.cost(child) > self.budget:
                continue
            dice = self.reward(child, val(epoch, i))
            scores.append(dice)
            if self.best is None or dice > self.best[0]:
                self.best = (dice, child)
        return {"best_dice": self.best[0] if self.best else None,
                "mean_dice": sum(scores) / len(scores) if scores else None}

    def derive(self, top_k=None, budget=None) -> dict[str, Any]:
        if self.best is not None:
            return self.best[1]
        return self.uniform(torch.Generator().manual_seed(self.seed))

    def state_dict(self) -> dict[str, Any]:
        best = None if self.best is None else {"dice": self.best[0],
                                                "child": _plain(self.best[1])}
        return {**self.base_state(), "best": best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_base(state)
        b = state["best"]
        self.best = None if b is None else (float(b["dice"]), _unplain(b["child"]))


def largest_child(space) -> dict[str, Any]:
    """RONASMIS's first child: per decision the largest numeric value (patch, strides,
    dilations), every optional input kept, otherwise the first label."""
    out: dict[str, Any] = {}
    for p in space.table:
        if not space.table.is_active(p, out):
            continue
        if p.kind == "inputs":
            out[p.id] = tuple(p.labels[: p.keep[1]])
            continue
        ok = set(p.buildable_labels)
        numeric = [(float(v), lab) for v, lab in zip(p.domain, p.labels)
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and lab in ok]
        out[p.id] = max(numeric)[1] if numeric else p.labels[0]
    return out


def _plain(a: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()}


def _unplain(a: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
