"""The sampling engines: ENAS (controller + REINFORCE) and random search, both over one
set of shared child weights (children.py).

An epoch of either is an *episode*: `child_epochs` passes of shared-weight training, a
fresh child per minibatch (ENAS's default; RONASMIS does not say — our choice), with
Adam (RONASMIS's). Then ENAS's architecture phase, the shared weights frozen:
`controller_steps` REINFORCE updates (ENAS: 50), each over `children_per_episode`
sampled children (ENAS and RONASMIS: 20) rewarded with their validation Dice plus
entropy_weight * entropy (the entropy bonus is added to the reward, as in the official
ENAS) against the moving-average baseline. After the last episode both engines choose
as their papers
(selection.py): ENAS samples `derive_samples` architectures from the controller and
keeps the best on a fixed validation subset; random search scores `samples` uniform
draws on that subset and re-evaluates the best `rerank` on the whole validation split,
the ranking going to the run directory (`ranking.json`).
"""

from __future__ import annotations

import random
from typing import Any, Callable

import torch

from nasdsl.engines import selection
from nasdsl.engines.base import Batch, Engine, SyncedStep, ValBatches, set_lr
from nasdsl.engines.budget import BudgetError
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
        self.val_cases: Callable[[], list[Any]] | None = None
        self.ranking: list[dict[str, Any]] = []     # the end-of-search choice, best first

    def _optimizer(self) -> torch.optim.Optimizer:
        """One group per shared tensor, in bank order (a bank grows as children appear;
        a placeholder group keeps an empty bank's optimizer valid)."""
        groups = [{"params": [torch.zeros(1, requires_grad=True)]}]
        groups += [{"params": [p]} for p in self.children.parameters()]
        return torch.optim.Adam(groups, lr=self.settings["weight_lr"],
                                weight_decay=self.settings["weight_decay"])

    def attach_validation(self, cases: Callable[[], list[Any]]) -> None:
        """Whole validation cases (this rank's share), for the final re-evaluation."""
        self.val_cases = cases

    def last_epoch(self, epoch: int) -> bool:
        return epoch + 1 >= int(self.settings["epochs"])

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

    def subset_score(self, child: dict[str, Any], batches: list[Batch]) -> float:
        """Mean Dice over the fixed validation subset (0 for an illegal child)."""
        if not self.space.legal(child):
            return 0.0
        return sum(self.reward(child, b) for b in batches) / len(batches)

    def whole_val_dice(self, child: dict[str, Any]) -> float:
        """Mean foreground Dice of the child over every validation case."""
        from nasdsl.train.model import net_info
        from nasdsl.train.validate import InferShape, validate

        if self.val_cases is None:
            raise RuntimeError("no validation split attached (attach_validation)")
        info = net_info(self.space.child(child))
        window = self.children.input_size(child) or info.patch
        shape = InferShape(info.dims, self.classes, tuple(window), info.stride_multiple,
                           main_output=info.main_output)
        return validate(self.children.module(child), self.val_cases(), self.precision,
                        shape).mean

    def ranked(self, budget: float | None, what: str) -> dict[str, Any] | None:
        """The best entry of the final ranking within the budget (None: no ranking)."""
        if not self.ranking:
            return None
        best = selection.best_within(self.ranking, budget)
        if best is None:
            raise BudgetError(selection.budget_message(self.ranking, budget, what))
        return best["assignment"]

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
                "steps_done": self.steps_done,
                "ranking": selection.plain_rows(self.ranking)}

    def load_base(self, state: dict[str, Any]) -> None:
        self.children.load_state_dict(state["children"])
        self.opt = self._optimizer()   # groups in bank order, as the run built them
        self.opt.load_state_dict(state["opt"])
        self.steps_done = int(state["steps_done"])
        self.ranking = selection.unplain_rows(state.get("ranking", []))


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
        self.controller_updates = 0

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
        """Controller phase: shared weights frozen, REINFORCE over sampled children;
        after the last episode, the sampled derivation."""
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
            self.controller_updates += 1
        record = {"reward": sum(rewards) / len(rewards), "baseline": self.baseline,
                  "controller_updates": self.controller_updates}
        if self.last_epoch(epoch):
            self.ranking = self._sampled_derivation(val)
            record["derived_subset_dice"] = self.ranking[0]["subset_dice"]
        return record

    def _sampled_derivation(self, val: ValBatches) -> list[dict[str, Any]]:
        """`derive_samples` architectures from the controller, scored on the fixed
        validation subset (ENAS: keep the best by validation reward)."""
        gen = self.rng(-1, 0, "derive")
        drawn = []
        with torch.no_grad():
            for _ in range(int(self.settings["derive_samples"])):
                child, _, _ = self.controller.sample(gen)
                if self.space.legal(child):
                    drawn.append(child)
        if not drawn:   # the controller only proposes illegal children: its mode then
            drawn = [self._greedy()]
        batches = selection.fixed_subset(val, int(self.settings["derive_batches"]))
        return selection.score_all(selection.unique(drawn),
                                   lambda c: self.subset_score(c, batches), self.space.cost)

    def _greedy(self) -> dict[str, Any]:
        with torch.no_grad():
            return self.controller.sample(torch.Generator(), greedy=True)[0]

    def derive(self, top_k=None, budget=None) -> dict[str, Any]:
        """After the last episode: the best of the sampled derivation (within the
        budget). Before it (per-epoch logs, an interrupted run): the controller's most
        likely architecture, or with a budget the most likely of 64 samples fitting it."""
        budget = budget if budget is not None else self.budget
        chosen = self.ranked(budget, f"of the {len(self.ranking)} scored at derivation")
        if chosen is not None:
            return chosen
        best = self._greedy()
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
            raise BudgetError(f"no sampled architecture fits params <= {budget:,.0f}")
        return max(fits, key=lambda f: f[0])[1]

    def entropy(self) -> float:
        return self.last_entropy

    def probabilities(self) -> dict[str, list[float]]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {**self.base_state(), "controller": self.controller.state_dict(),
                "c_opt": self.c_opt.state_dict(), "baseline": self.baseline,
                "last_entropy": self.last_entropy,
                "controller_updates": self.controller_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_base(state)
        self.controller.load_state_dict(state["controller"])
        self.c_opt.load_state_dict(state["c_opt"])
        self.baseline = state["baseline"]
        self.last_entropy = float(state["last_entropy"])
        self.controller_updates = int(state.get("controller_updates", 0))


class RandomEngine(SamplingEngine):
    name = "random"

    def propose(self, epoch: int, step: int) -> dict[str, Any]:
        return self.uniform(self.rng(epoch, step, "child"))

    def end_epoch(self, epoch: int, val: ValBatches) -> dict[str, Any]:
        if not self.last_epoch(epoch):
            return {}
        s = self.settings
        drawn = [self.uniform(self.rng(-1, i, "candidate")) for i in range(int(s["samples"]))]
        batches = selection.fixed_subset(val, int(s["derive_batches"]))
        rows = selection.score_all(selection.unique(drawn),
                                   lambda c: self.subset_score(c, batches), self.space.cost)
        top = rows[: int(s["rerank"])]
        for r in top:
            r["val_dice"] = self.whole_val_dice(r["assignment"])
        # the re-evaluated ones first, by whole-split Dice; then the rest by subset Dice
        order = sorted(range(len(top)), key=lambda i: (-top[i]["val_dice"], i))
        self.ranking = [top[i] for i in order] + rows[len(top):]
        return {"candidates": len(rows), "reranked": len(top),
                "best_val_dice": self.ranking[0]["val_dice"]}

    def derive(self, top_k=None, budget=None) -> dict[str, Any]:
        budget = budget if budget is not None else self.budget
        chosen = self.ranked(budget, f"of the {len(self.ranking)} the search evaluated")
        if chosen is not None:
            return chosen
        # before the final evaluation (per-epoch logs, an interrupted run): a fixed draw
        draw = self.uniform(torch.Generator().manual_seed(self.seed))
        if budget is not None and self.space.cost(draw) > budget:
            raise BudgetError(f"the search did not finish its evaluation; no evaluated "
                              f"architecture to fit params <= {budget:,.0f}")
        return draw

    def state_dict(self) -> dict[str, Any]:
        return self.base_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_base(state)


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

