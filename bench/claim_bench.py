"""The seeds' claim on real MRI (issue 11): a searched net with <= 1M parameters vs U-Net.

On the built-in MNI task (test cases that search and training never see), trains
  - the genotype `nasdsl search` found (default: runs/demo/genotype.nas, written by
    scripts/demo.sh), at the training size given by --nas-c / --nas-depth,
  - specs/unet.nas at the UNet++ paper's configuration (7,759,521 parameters),
  - a small U-Net: specs/unet.nas with the `base` width whose size is closest to the
    searched net's,
  - MONAI's BasicUNet (2D, defaults),
each for the same number of optimizer steps (--train-steps; the same poly learning-rate
schedule, validation every --steps steps), with the given seeds, and reports mean test
Dice per class with the spread over seeds, parameters, steps and training seconds, and
sliding-window inference latency per test case. Steps, not a wall-clock budget: on a
shared machine a time budget gives networks very different step counts, so it measures
the machine's load as much as the architecture (issue 14). Writes build/bench/claim.json
and prints a Markdown table. Run from the repository root, e.g.
  scripts/demo.sh && .venv/bin/python bench/claim_bench.py --train-steps 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import torch  # noqa: E402

from nasdsl.analysis.resources import param_bounds  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.runs import RunDir  # noqa: E402
from nasdsl.train import (GenotypeNet, InferShape, Precision, SegLoss, TrainConfig,  # noqa: E402
                          fit, net_info)
from nasdsl.train.session import ModuleBatches  # noqa: E402
from train_bench import OUT, _test_dice, machine, mni_task  # noqa: E402

Factory = Callable[[], torch.nn.Module]


def _params(factory: Factory) -> int:
    return sum(p.numel() for p in factory().parameters())


def models(args: argparse.Namespace) -> list[tuple[str, Factory, tuple[int, ...]]]:
    from monai.networks.nets import BasicUNet

    searched = compile_spec(args.genotype, {"classes": 3, "C": args.nas_c,
                                            "depth": args.nas_depth})
    n_searched = _params(lambda: GenotypeNet(searched))
    if n_searched > 1_000_000:
        raise SystemExit(f"the searched net has {n_searched:,} parameters (> 1M): lower "
                         "--nas-c / --nas-depth")
    unet = compile_spec(str(ROOT / "specs/unet.nas"), {"classes": 3})
    # the static count (== the built module's, tested) avoids building 31 networks
    small_base = min(range(2, 33), key=lambda b: abs(param_bounds(compile_spec(
        str(ROOT / "specs/unet.nas"), {"classes": 3, "base": b}).graph).lo - n_searched))
    small = compile_spec(str(ROOT / "specs/unet.nas"), {"classes": 3, "base": small_base})
    return [(f"searched ({Path(args.genotype).name}, C={args.nas_c}, depth {args.nas_depth})",
             lambda: GenotypeNet(searched), net_info(searched).stride_multiple),
            ("unet.nas (paper size)", lambda: GenotypeNet(unet), net_info(unet).stride_multiple),
            (f"small U-Net (unet.nas base={small_base})", lambda: GenotypeNet(small),
             net_info(small).stride_multiple),
            ("MONAI BasicUNet", lambda: BasicUNet(2, 1, 3), (16, 16))]


def _latency(model: torch.nn.Module, plan, shape: InferShape, index) -> float:
    """Median seconds of sliding-window inference per test case (PyTorch, this CPU)."""
    from nasdsl import data as D
    from nasdsl.infer.predict import LoadedModel, segment_indices
    from nasdsl.train.validate import torch_predictor

    predictor = torch_predictor(model.eval(), Precision.for_device("cpu"))
    loaded = LoadedModel(lambda x: predictor(x).detach(), shape, 1, plan.to_dict(), "pt")
    times = []
    with torch.no_grad():
        for case in index.test_cases:
            data = D.load_case(index, case)
            t0 = time.perf_counter()
            segment_indices(loaded, data.image, data.geometry)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def train_one(name: str, factory: Factory, multiple, seed: int, args, dm, val, plan,
              index, patch) -> dict[str, Any]:
    torch.manual_seed(seed)
    run = RunDir.create(Path(tempfile.mkdtemp()) / "run", {})
    shape = InferShape(2, 3, tuple(patch), multiple)
    cfg = TrainConfig(epochs=args.train_steps // args.steps, steps_per_epoch=args.steps,
                      batch_size=args.batch, time_budget=None, progress=False,
                      lr=args.lr, seed=seed, checkpoint_every=0)
    out = fit(factory, SegLoss(3), ModuleBatches(dm, 1, 0), val, cfg, run,
              Precision.for_device("cpu"), shape)
    out.model.load_state_dict(run.load("best")["model"])
    dice = _test_dice(out.model, plan, shape, index)
    return {"model": name, "seed": seed, "params": _params(factory),
            "steps": out.position.global_step, "train_s": out.position.elapsed,
            "best_val_dice": out.position.best,
            "latency_s": _latency(out.model, plan, shape, index), **dice}


def _spread(rows: list[dict[str, Any]], key: str) -> str:
    vals = [r[key] for r in rows]
    half = (max(vals) - min(vals)) / 2
    return f"{statistics.mean(vals):.3f} ± {half:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genotype", default=str(ROOT / "runs/demo/genotype.nas"))
    p.add_argument("--nas-c", type=int, default=32)
    p.add_argument("--nas-depth", type=int, default=4)
    p.add_argument("--train-steps", type=int, default=500,
                   help="optimizer steps per model and seed (a multiple of --steps)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--cases", type=int, default=12)
    p.add_argument("--tests", type=int, default=4)
    p.add_argument("--resolution", type=float, default=2.0)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=50, help="steps between validations")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--root", default=None, help="the MNI task (written if absent)")
    args = p.parse_args()
    if args.steps < 1 or args.train_steps < args.steps or args.train_steps % args.steps:
        p.error("--train-steps must be a positive multiple of --steps")
    index, plan, dm, val, patch = mni_task(args)
    rows = []
    for name, factory, multiple in models(args):
        for seed in args.seeds:
            rows.append(train_one(name, factory, multiple, seed, args, dm, val, plan,
                                  index, patch))
            print(json.dumps(rows[-1]), flush=True)
    result = {"machine": machine(), "args": vars(args), "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "claim.json").write_text(json.dumps(result, indent=2))
    print(f"| model | parameters | steps (per seed) | train s (per seed) | test Dice GM | "
          f"test Dice WM | test mean | latency / case |\n|---|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        steps = "/".join(str(r["steps"]) for r in rs)
        secs = "/".join(f"{r['train_s']:.0f}" for r in rs)
        lat = statistics.median(r["latency_s"] for r in rs)
        print(f"| {name} | {rs[0]['params']:,} | {steps} | {secs} | {_spread(rs, 'dice_gm')} | "
              f"{_spread(rs, 'dice_wm')} | {_spread(rs, 'dice_mean')} | {lat * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
