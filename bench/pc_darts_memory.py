"""PC-DARTS against DARTS: saved-tensor bytes of one search forward (issue 14, finding 9).

Rows, each in its own process (one relaxed supernet in memory at a time), on the same
space, batch and input: DARTS (every candidate at C), PC-DARTS K=4 as implemented
(node = shuffle(cat(Σ β α o(xs), Σ β bypass)), bypass recomputed in backward) and
PC-DARTS K=4 with the reference's node formula (Σ_j β_j shuffle(cat(mixed_j, bypass_j)),
which keeps every edge's full-width output for β's gradient). Bytes: the unique
storages autograd saves during one training-mode forward (saved_tensors_hooks,
bench/_common.SavedTensorMeter; parameters excluded). The step's RSS growth is in
bench/engines_bench.py (rows darts, pc_darts).

Default: the authors' search scale, NAS-Unet C=16, depth 4, M=3, 2x1x256². Run from the
repository root:
  .venv/bin/python bench/pc_darts_memory.py            # prints Markdown rows
  .venv/bin/python bench/pc_darts_memory.py --quick    # C=16, depth 2, 64²
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("darts", "pc_darts", "pc_darts_reference_node")


def run_row(args) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import torch
    from _common import SavedTensorMeter

    from nasdsl.backends.supernet import Supernet
    from nasdsl.engines.archparams import ArchParams
    from nasdsl.engines.relaxed import (DartsStrategy, PcDartsStrategy, resample_to,
                                        channel_shuffle)
    from nasdsl.space import SearchSpace

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = SearchSpace.load(str(ROOT / "specs" / "nas_unet.nas"),
                             {"C": args.C, "depth": args.depth, "M": 3, "patch": args.size})
    gen = torch.Generator().manual_seed(0)
    if args.row == "darts":
        strategy = DartsStrategy(ArchParams(space, ("op",), gen))
    else:
        strategy = PcDartsStrategy(ArchParams(space, ("op", "inputs"), gen), 4, 2)
    if args.row == "pc_darts_reference_node":
        def reference(self, node, inputs):
            beta = torch.softmax(self.arch[node.decision], -1)
            total = None
            for j, label in enumerate(node.labels):
                p = inputs[label]
                mixed = self.weighted(p.edge, p.xs, p.w)
                edge = channel_shuffle(torch.cat(
                    [mixed, resample_to(p.xt, tuple(mixed.shape[2:]))], 1), self.k)
                total = beta[j] * edge if total is None else total + beta[j] * edge
            return total
        PcDartsStrategy.run_choose = reference
    net = Supernet(space, strategy).train()
    x = torch.randn(args.batch, 1, args.size, args.size)
    meter = SavedTensorMeter(exclude=list(net.parameters()) + [x])
    with meter:
        y = net(x)
    saved = meter.total
    y.float().square().mean().backward()   # the step completes (no error in backward)
    return {"row": args.row, "saved_bytes": saved}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--row", choices=ROWS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--C", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.depth, args.size = 2, 64
    if args.row:
        print(json.dumps(run_row(args)))
        return
    load = os.getloadavg()
    rows = {}
    for row in ROWS:
        cmd = [sys.executable, __file__, "--row", row, "--C", str(args.C), "--depth",
               str(args.depth), "--size", str(args.size), "--batch", str(args.batch),
               "--threads", str(args.threads)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        rows[row] = json.loads(done.stdout.strip().splitlines()[-1])["saved_bytes"]
    print(f"C={args.C}, depth {args.depth}, {args.batch}x1x{args.size}^2; load average "
          f"{load[0]:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| forward | saved bytes (MiB) | vs DARTS |\n|---|---|---|")
    for row in ROWS:
        print(f"| {row} | {rows[row] / 2**20:.1f} | {rows[row] / rows['darts']:.3f}x |")


if __name__ == "__main__":
    main()
