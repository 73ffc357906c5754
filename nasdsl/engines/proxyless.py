"""ProxylessNAS: binary gates over sampled paths (mit-han-lab/proxylessnas, mix_op.py).

Weight step: one op per edge sampled from softmax(alpha), only it runs. Arch step:
  two      two distinct ops sampled, the active one drawn from their re-softmaxed pair;
           out = g_a o_a + g_b stopgrad(o_b) (value o_a, dL/dg_j = <dL/dout, o_j>);
           after the Adam step the pair's alphas are shifted so that the other ops'
           probabilities stay unchanged
  full_v2  only the active op runs; a backward hook recomputes every other candidate on
           the saved input under no_grad for its gate gradient (one path's memory)
alpha's gradient is the binary-gate chain rule dL/dalpha_i = sum_j dL/dg_j p_j (d_ij - p_i)
(no gradient when the active op is the zero op). Cell nodes (k of n edges) are gated
the same way (beta, one entry per candidate edge): in an arch step k + 1 edges are
sampled, k of them active and one inactive (stop-gradient), a `two`-style update
within the sampled set, rescaled so the unsampled edges keep their probabilities. The expected cost (parameters or FLOPs of
each label, summed over the cell instances sharing a decision, times the probability
that an edge is kept) is a differentiable term added to the loss.
"""

from __future__ import annotations

import torch

from nasdsl.backends.supernet import Choose, Edge, Strategy
from nasdsl.engines.archparams import ArchParams
from nasdsl.space import SearchSpace


class ProxylessStrategy(Strategy):
    def __init__(self, space: SearchSpace, arch: ArchParams, mode: str):
        self.space = space
        self.arch = arch
        self.mode = mode
        self.active: dict[str, list[int]] = {}   # decision -> active label / edge indices
        self.sampled: dict[str, list[int]] = {}  # arch step: the gated set (pair in `two`)
        self.gates: dict[str, torch.Tensor] = {}
        self.extra_grad: dict[str, torch.Tensor] = {}
        self.arch_phase = False

    # ---- sampling ----------------------------------------------------------------------
    def sample(self, gen: torch.Generator, arch_phase: bool) -> None:
        """Draw this step's paths (the same for every instance of a decision)."""
        self.arch_phase = arch_phase
        self.active, self.sampled, self.gates, self.extra_grad = {}, {}, {}, {}
        for did in self.arch.ids:
            p = torch.softmax(self.arch[did].detach().float().cpu(), -1)
            point = self.space.point(did)
            if point.kind == "inputs":
                k = point.keep[1]
                if arch_phase and len(p) > k:
                    # k active edges and one inactive (stop-gradient) edge, as `two`'s
                    # pair: gating only the k kept edges gives beta no gradient at all
                    # when k = 1 (softmax over one entry)
                    pool = torch.multinomial(p, k + 1, replacement=False, generator=gen)
                    pp = torch.softmax(self.arch[did].detach().float().cpu()[pool], -1)
                    act = pool[torch.multinomial(pp, k, replacement=False, generator=gen)]
                    self.sampled[did] = pool.sort().values.tolist()
                    self.active[did] = act.sort().values.tolist()
                else:
                    idx = torch.multinomial(p, k, replacement=False, generator=gen).sort().values
                    self.active[did] = idx.tolist()
                    self.sampled[did] = idx.tolist()
            elif arch_phase and self.mode == "two" and len(p) > 1:
                pair = torch.multinomial(p, 2, replacement=False, generator=gen)
                pp = torch.softmax(self.arch[did].detach().float().cpu()[pair], -1)
                a = pair[torch.multinomial(pp, 1, generator=gen)].item()
                self.sampled[did] = pair.tolist()
                self.active[did] = [int(a)]
            else:
                a = int(torch.multinomial(p, 1, generator=gen).item())
                self.active[did] = [a]
                self.sampled[did] = list(range(len(p)))
            if arch_phase:
                g = torch.zeros(len(p))
                g[self.active[did]] = 1.0
                self.gates[did] = g.requires_grad_(True)
                self.extra_grad[did] = torch.zeros(len(p))

    # ---- hooks ------------------------------------------------------------------------
    def choose_inputs(self, node: Choose) -> tuple[str, ...] | None:
        keep = (self.sampled if self.arch_phase else self.active).get(node.decision)
        return None if keep is None else tuple(node.labels[j] for j in keep)

    def run_edge(self, edge: Edge, x: torch.Tensor) -> torch.Tensor:
        did = edge.decision
        a = self.active[did][0]
        if not self.arch_phase:
            return edge.run(edge.labels[a], x)
        g = self.gates[did].to(x.device)
        out = g[a] * edge.run(edge.labels[a], x)
        if self.mode == "two":
            for j in self.sampled[did]:
                if j != a:
                    with torch.no_grad():
                        other = edge.run(edge.labels[j], x)
                    out = out + g[j] * other
        elif out.requires_grad:
            out.register_hook(self._recompute_hook(edge, x.detach(), a))
        return out

    def _recompute_hook(self, edge: Edge, x: torch.Tensor, active: int):
        def hook(grad: torch.Tensor) -> None:
            with torch.no_grad():
                for j, label in enumerate(edge.labels):
                    if j != active:
                        o = edge.run(label, x)
                        self.extra_grad[edge.decision][j] += float((o * grad).sum())
        return hook

    def run_choose(self, node: Choose, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        g = self.gates.get(node.decision)
        active = set(self.active.get(node.decision, ()))
        total = None
        for j, label in enumerate(node.labels):
            if label not in inputs:
                continue
            a = inputs[label]
            if g is not None and j not in active:
                a = a.detach()    # inactive: no value change, dL/dg_j = <dL/dout, a_j>
            term = a if g is None else g[j].to(a.device) * a
            total = term if total is None else total + term
        return total

    # ---- alpha gradients ---------------------------------------------------------------
    def gate_to_alpha(self) -> dict[str, tuple[list[int], torch.Tensor]]:
        """Set alpha.grad from the gate gradients; returns the gated sets and their old
        alphas (for the `two` rescale)."""
        old = {}
        for did, g in self.gates.items():
            point = self.space.point(did)
            if point.kind != "inputs" and self.active[did][0] in self.space.zero_labels(did):
                continue  # no alpha gradient through a zero path
            alpha = self.arch[did]
            grad_g = (g.grad if g.grad is not None else torch.zeros_like(g)) + \
                self.extra_grad[did]
            idx = self.sampled[did]
            p = torch.softmax(alpha.detach().float().cpu()[idx], -1)
            gg = grad_g[idx]
            # dL/dalpha_i = sum_j gg_j p_j (delta_ij - p_i)
            d = p * gg - p * (p * gg).sum()
            full = torch.zeros(alpha.shape)
            full[idx] = d
            full = full.to(alpha.device, alpha.dtype)
            alpha.grad = full if alpha.grad is None else alpha.grad + full
            old[did] = (idx, alpha.detach()[idx].clone())
        return old

    def rescale(self, old: dict[str, tuple[list[int], torch.Tensor]]) -> None:
        """`two`: keep the unsampled ops' probabilities after the update."""
        with torch.no_grad():
            for did, (idx, before) in old.items():
                alpha = self.arch[did]
                after = alpha[idx]
                offset = torch.logsumexp(after, 0) - torch.logsumexp(before, 0)
                alpha[idx] = after - offset


def expected_cost(space: SearchSpace, arch: ArchParams, metric: str) -> torch.Tensor:
    """Differentiable expected cost: base + sum over decisions of sum_l p(l) cost(l),
    each cell edge weighted by the probability that its node keeps it."""
    dev = next(arch.parameters()).device
    costs = space.label_costs(metric)
    kept: dict[str, torch.Tensor] = {}     # edge op decision -> P(edge kept)
    for n in space.choose_nodes():
        did = n.attr("decision")
        if did not in arch:
            continue
        k = space.point(did).keep[1]
        p = torch.softmax(arch[did], -1)
        kids = space.edge_children(did)
        for j, label in enumerate(space.point(did).labels):
            if label in kids:
                kept[kids[label].id] = torch.clamp(k * p[j], max=1.0)
    total = torch.tensor(space.base_cost(metric), device=dev)
    for did, per in costs.items():
        if did not in arch:
            continue
        edge = (torch.softmax(arch[did], -1) * torch.tensor(per, device=dev)).sum()
        total = total + kept.get(did, torch.ones((), device=dev)) * edge
    return total


# ---- the engine ------------------------------------------------------------------------------
from nasdsl.engines.base import Batch  # noqa: E402
from nasdsl.engines.base import allreduce_grads  # noqa: E402
from nasdsl.engines.gradient import GradientEngine  # noqa: E402
from nasdsl.train import distributed as dist  # noqa: E402


class ProxylessEngine(GradientEngine):
    """Weight steps on single sampled paths; an arch step every `arch_every` weight steps
    after the warm-up; Adam with `arch_beta1` (0 in ProxylessNAS) for alpha."""
    name = "proxyless"
    use_ddp = False    # single sampled paths: gradients all-reduced by SyncedStep
    nesterov = True    # the authors' weight SGD is Nesterov (proxylessnas search/)

    def __init__(self, space, settings, precision, classes):
        super().__init__(space, settings, precision, classes)
        self.metric = settings["cost"]
        self.budget = space.budget(self.metric)

    def make_strategy(self) -> ProxylessStrategy:
        return ProxylessStrategy(self.space, self.arch, self.settings["mode"])

    def arch_due(self, step: int) -> bool:
        return step % int(self.settings["arch_every"]) == 0

    def before_weight_step(self, epoch: int, step: int) -> None:
        self.strategy.sample(self.rng(epoch, step, "weight"), arch_phase=False)

    def arch_step(self, batch: Batch, epoch: int, step: int) -> float:
        self.strategy.sample(self.rng(epoch, step, "arch"), arch_phase=True)
        self.a_opt.zero_grad(set_to_none=True)
        loss = self.seg_loss(self.net, batch)
        total = loss + self.cost_term()
        total.backward()
        self.net.zero_grad(set_to_none=True)
        old = self.strategy.gate_to_alpha()
        allreduce_grads(list(self.arch.parameters()))
        self.a_opt.step()
        if self.settings["mode"] != "two":   # full_v2 gates every op: only the
            old = {d: v for d, v in old.items()  # inputs decisions' subsets rescale
                   if self.space.point(d).kind == "inputs"}
        self.strategy.rescale(old)
        self.strategy.arch_phase = False
        return dist.mean_scalar(float(loss.detach()))

    def cost_term(self) -> torch.Tensor:
        """add#linear: lambda (E[cost] - ref) / ref, ref = the spec's budget."""
        weight = float(self.settings["cost_weight"])
        if self.budget is None or weight == 0:
            return torch.zeros((), device=self.precision.device)
        expected = expected_cost(self.space, self.arch, self.metric)
        return weight * (expected - self.budget) / self.budget

    def derive(self, top_k=None, budget=None):
        return super().derive(top_k, budget if budget is not None else self.budget)
