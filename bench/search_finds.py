"""Does the search find anything? (issue 10) The PC-DARTS genotype of `nas_unet.nas`
against 5 random genotypes of the same space within the same parameter budget, each
trained from scratch with the same training-time budget on the built-in MNI task,
test Dice reported whatever it shows.

  .venv/bin/python bench/search_finds.py --budget 60 --search-epochs 3
Writes build/bench/search_finds.json and prints a Markdown table. Reuses the MNI task,
data module and test scoring of bench/train_bench.py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402

import train_bench as tb  # noqa: E402
from nasdsl.engines.loop import SearchOptions, search  # noqa: E402
from nasdsl.space import SearchSpace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60.0, help="training seconds per net")
    ap.add_argument("--search-epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--randoms", type=int, default=5)
    ap.add_argument("--C", type=int, default=8)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from nasdsl.data import make_mni_dataset

    root = tb.OUT / "mni_12_4_2.0"
    if not (root / "dataset.json").exists():
        make_mni_dataset(root, cases=12, tests=4, seed=0, resolution=2.0)
    overrides = {"C": args.C, "depth": args.depth, "patch": args.patch, "classes": 3}
    space = SearchSpace.load(str(ROOT / "specs/nas_unet.nas"), overrides)
    t0 = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "search"
    found = search(SearchOptions(str(ROOT / "specs/nas_unet.nas"), str(root), str(out),
                                 "pc_darts", overrides,
                                 {"epochs": args.search_epochs, "steps_per_epoch": args.steps,
                                  "batch_size": args.batch, "warmup_epochs": 1, "k": 4},
                                 progress=False))
    search_s = time.perf_counter() - t0
    budget = found["params"]
    rnd = random.Random(0)
    randoms = []
    while len(randoms) < args.randoms:
        a = space.table.sample(rnd)
        if space.cost(a) <= budget:
            randoms.append(a)
    rows = [("PC-DARTS", found["assignment"])] + [(f"random {i + 1}", a)
                                                  for i, a in enumerate(randoms)]
    results = [train_and_test(name, space, a, root, args) for name, a in rows]
    rand = [r["dice_mean"] for r in results[1:]]
    report = {"machine": tb.machine(), "search_s": search_s, "param_budget": budget,
              "config": vars(args), "results": results,
              "random_mean": statistics.mean(rand), "random_best": max(rand),
              "random_sd": statistics.pstdev(rand)}
    tb.OUT.mkdir(parents=True, exist_ok=True)
    (tb.OUT / "search_finds.json").write_text(json.dumps(report, indent=2))
    print("| genotype | parameters | steps | test Dice GM | test Dice WM | mean |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['params']:,} | {r['steps']} | {r['dice_gm']:.3f} | "
              f"{r['dice_wm']:.3f} | {r['dice_mean']:.3f} |")
    print(f"random: mean {report['random_mean']:.3f} ± {report['random_sd']:.3f}, "
          f"best {report['random_best']:.3f}; search {search_s:.0f} s")


def train_and_test(name: str, space: SearchSpace, assignment, root: Path, args) -> dict:
    from nasdsl.runs import RunDir
    from nasdsl.train import (GenotypeNet, InferShape, Precision, SegLoss, TrainConfig, fit,
                              net_info)
    from nasdsl.train.session import ModuleBatches

    compiled = space.child(assignment)
    patch = [args.patch, args.patch]
    index, plan, dm = tb.data_module(root, 2, patch, args.batch, args.steps, folds=5)
    shape = InferShape(2, 3, tuple(patch), net_info(compiled).stride_multiple)
    torch.manual_seed(0)
    run = RunDir.create(Path(tempfile.mkdtemp()) / "train", {})
    cfg = TrainConfig(epochs=1000, steps_per_epoch=args.steps, batch_size=args.batch,
                      time_budget=args.budget, progress=False, lr=3e-3, checkpoint_every=0)
    out = fit(lambda: GenotypeNet(compiled), SegLoss(3), ModuleBatches(dm, 1, 0),
              dm.val_cases(), cfg, run, Precision.for_device("cpu"), shape)
    out.model.load_state_dict(run.load("best")["model"])
    dice = tb._test_dice(out.model, plan, shape, index)
    params = sum(p.numel() for p in out.model.parameters())
    row = {"name": name, "params": params, "steps": out.position.global_step, **dice}
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()
