"""The ENAS controller: an LSTM that emits every decision of the table in order.

Per decision one LSTM step. Op and value decisions: a linear decoder per decision gives
logits, divided by the temperature and squashed by tanh_constant * tanh (ENAS), sampled;
the next input is the chosen label's embedding. Inputs decisions (cell nodes, skip
points, optional inputs): attention q_j = v^T tanh(W1 a_j + W2 h) over the candidates'
anchors — the stored hidden state of the earlier decision a candidate names (a cell's
earlier node), or a learned anchor for candidates outside the table (cell inputs,
encoder features); exactly-k choices are drawn one at a time with the chosen ones
masked (no repetition); a range of sizes (`keep 0..1`) draws an independent keep/drop
per candidate, as ENAS's skip connections, and clips the count into the range. The
next input is the mean of the selected anchors. Decisions whose parent edge was not
chosen (or whose condition does not hold) are skipped: they are inactive.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from nasdsl.space import SearchSpace


class Controller(nn.Module):
    def __init__(self, space: SearchSpace, size: int, layers: int, temperature: float,
                 tanh_constant: float):
        super().__init__()
        self.table = space.table
        self.points = list(space.table)
        # labels that do not elaborate (a stride the patch does not allow) are never drawn
        self.blocked = {p.id: torch.tensor([not i.buildable for i in p.info])
                        if p.info and len(p.info) == len(p.labels) else None
                        for p in self.points}
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.offsets: dict[str, int] = {}
        n = 1
        for p in self.points:
            self.offsets[p.id] = n
            n += len(p.labels)
        self.embed = nn.Embedding(n, size)
        self.lstm = nn.LSTM(size, size, layers)
        self.decoders = nn.ModuleDict({_k(p.id): nn.Linear(size, len(p.labels))
                                       for p in self.points if p.kind != "inputs"})
        self.w_anchor = nn.Linear(size, size, bias=False)
        self.w_query = nn.Linear(size, size, bias=False)
        self.v = nn.Linear(size, 1, bias=False)
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def _squash(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature > 0:
            logits = logits / self.temperature
        if self.tanh_constant > 0:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def sample(self, gen: torch.Generator, greedy: bool = False
               ) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
        """An assignment, its summed log-probability and summed entropy."""
        out: dict[str, Any] = {}
        logp = torch.zeros(())
        entropy = torch.zeros(())
        anchors: dict[str, torch.Tensor] = {}
        inp = self.embed.weight[0]
        state = None
        for p in self.points:
            if not self.table.is_active(p, out):
                continue
            h, state = self.lstm(inp.view(1, 1, -1), state)
            h = h.view(-1)
            if p.kind == "inputs":
                chosen, lp, ent, inp = self._inputs(p, h, anchors, gen, greedy)
                out[p.id] = tuple(p.labels[j] for j in chosen)
            else:
                logits = self._squash(self.decoders[_k(p.id)](h))
                blocked = self.blocked.get(p.id)
                if blocked is not None and bool(blocked.any()) and not bool(blocked.all()):
                    logits = logits.masked_fill(blocked, float("-inf"))
                j, lp, ent = _draw(logits, gen, greedy)
                out[p.id] = p.labels[j]
                inp = self.embed.weight[self.offsets[p.id] + j]
            anchors[p.id] = h
            logp, entropy = logp + lp, entropy + ent
        return out, logp, entropy

    def _inputs(self, p, h, anchors, gen, greedy):
        vecs = [self._anchor(p, j, label, anchors) for j, label in enumerate(p.labels)]
        a = torch.stack(vecs)
        q = self.v(torch.tanh(self.w_anchor(a) + self.w_query(h))).view(-1)
        q = self._squash(q)
        lo, hi = p.keep
        if lo == hi:
            chosen, lp, ent = _draw_k(q, lo, gen, greedy)
        else:
            chosen, lp, ent = _draw_bits(q, lo, hi, gen, greedy)
        nxt = a[chosen].sum(0) / (1 + len(chosen)) if chosen else self.embed.weight[0]
        return sorted(chosen), lp, ent, nxt

    def _anchor(self, p, j: int, label: str, anchors: dict[str, torch.Tensor]) -> torch.Tensor:
        scope = p.id.rsplit(".", 1)[0] + "." if "." in p.id else ""
        named = anchors.get(scope + label)
        if named is not None:
            return named
        return self.embed.weight[self.offsets[p.id] + j]


def _k(did: str) -> str:
    return did.replace(".", "/")


def _draw(logits: torch.Tensor, gen, greedy) -> tuple[int, torch.Tensor, torch.Tensor]:
    logprobs = torch.log_softmax(logits, -1)
    probs = logprobs.exp()
    if greedy:
        j = int(probs.argmax())
    else:
        j = int(torch.multinomial(probs.detach(), 1, generator=gen).item())
    return j, logprobs[j], -(probs * logprobs.clamp_min(-1e9)).sum()


def _draw_k(q: torch.Tensor, k: int, gen, greedy):
    """k distinct candidates, one at a time, the chosen masked."""
    chosen: list[int] = []
    lp = torch.zeros(())
    ent = torch.zeros(())
    mask = torch.zeros_like(q, dtype=torch.bool)
    for _ in range(min(k, len(q))):
        j, lp_j, ent_j = _draw(q.masked_fill(mask, float("-inf")), gen, greedy)
        chosen.append(j)
        lp = lp + lp_j
        ent = ent + ent_j
        mask = mask.clone()
        mask[j] = True
    return chosen, lp, ent


def _draw_bits(q: torch.Tensor, lo: int, hi: int, gen, greedy):
    """Independent keep/drop per candidate (ENAS skips), clipped into [lo, hi]."""
    p_keep = torch.sigmoid(q)
    if greedy:
        bits = (p_keep > 0.5)
    else:
        bits = torch.rand(len(q), generator=gen) < p_keep.detach()
    order = torch.argsort(q.detach(), descending=True).tolist()
    chosen = [j for j in order if bits[j]][:hi]
    for j in order:
        if len(chosen) >= lo:
            break
        if j not in chosen:
            chosen.append(j)
    keep = torch.zeros_like(q, dtype=torch.bool)
    keep[chosen] = True
    eps = 1e-8
    lp = torch.where(keep, torch.log(p_keep + eps), torch.log(1 - p_keep + eps)).sum()
    ent = -(p_keep * torch.log(p_keep + eps) + (1 - p_keep) * torch.log(1 - p_keep + eps)).sum()
    return chosen, lp, ent
