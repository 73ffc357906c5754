"""Benchmarks of training and inference (issue 9). Results: BENCHMARKS.md.

  throughput  images/s of nasdsl's loop (`fit`: data module with patch sampling and
              augmentation, train_step, logging) vs a bare PyTorch loop on one fixed
              in-memory batch; same module (GenotypeNet of unet.nas), loss, optimizer
  infer       sliding-window inference time per volume, PyTorch vs ONNX Runtime
  mni         test Dice on the built-in MNI task of unet.nas, the NAS-Unet genotype and
              MONAI's BasicUNet, each trained for the same time budget

Run from the repository root, e.g.
  .venv/bin/python bench/train_bench.py throughput
  .venv/bin/python bench/train_bench.py infer
  .venv/bin/python bench/train_bench.py mni --budget 240
Each writes build/bench/train_<name>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = ROOT / "build" / "bench"

import torch  # noqa: E402

from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.runs import RunDir  # noqa: E402
from nasdsl.train import (GenotypeNet, InferShape, Precision, SegLoss,  # noqa: E402
                          TrainConfig, fit, net_info, train_step)


def machine() -> dict[str, Any]:
    import onnxruntime

    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "load_avg_1m": os.getloadavg()[0],
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def save(name: str, result: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"train_{name}.json").write_text(json.dumps(result, indent=2))


def data_module(root: Path, dims: int, patch: list[int], batch: int, steps: int,
                seed: int = 0, workers: int = 0, folds: int = 5):
    from nasdsl import data as D

    index = D.load_dataset(root)
    plan = D.make_plan(index, D.fingerprint(index), dims=dims, patch_size=patch)
    split = D.make_split(index, seed, folds, 0)
    dm = D.DataModule(index, plan, split, seed=seed, batch_size=batch,
                      batches_per_epoch=steps, num_workers=workers)
    return index, plan, dm


# ---- throughput ----------------------------------------------------------------------------
def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Rounds of (bare loop, fit with 0 workers, fit with 1 worker, loader alone),
    interleaved so that load changes on a shared machine hit every variant alike."""
    from nasdsl.data import make_synthetic_dataset

    tmp = Path(tempfile.mkdtemp())
    make_synthetic_dataset(tmp / "synth", dims=2, cases=8, tests=0, size=args.size + 32)
    patch = [args.size, args.size]
    c = compile_spec(str(ROOT / "specs/unet.nas"), {"base": args.base, "depth": 4,
                                                    "classes": 4})
    precision = Precision.for_device(torch.device(args.device))
    modules = {w: data_module(tmp / "synth", 2, patch, args.batch, args.steps, workers=w)[2]
               for w in (0, 1)}
    for dm in modules.values():
        dm.train_dataset()  # preprocessing is start-up cost, not per-step cost
    batch = next(iter(modules[0].train_loader(0)))
    rounds = []
    for r in range(args.repeats + 1):  # round 0 warms up
        w0, w0_compute = _fit_step(c, modules[0], args, patch, precision, tmp)
        w1, w1_compute = _fit_step(c, modules[1], args, patch, precision, tmp)
        row = {"bare": _bare_loop(c, batch, args.steps, precision)[0], "fit_w0": w0,
               "fit_w1": w1, "loader_w0": _loader_step(modules[0]),
               "within_w0": w0 / w0_compute - 1, "within_w1": w1 / w1_compute - 1}
        if r:
            rounds.append(row)
    best = {k: min(r[k] for r in rounds) for k in rounds[0]}
    ratio = {k: sorted(r[k] / r["bare"] for r in rounds)[len(rounds) // 2] - 1
             for k in ("fit_w0", "fit_w1")}
    within = {k: sorted(r[f"within_{k[-2:]}"] for r in rounds)[len(rounds) // 2]
              for k in ("fit_w0", "fit_w1")}
    result = {"machine": machine(), "model": f"unet.nas base={args.base} depth=4",
              "params": sum(p.numel() for p in GenotypeNet(c).parameters()),
              "batch": args.batch, "patch": patch, "steps": args.steps, "rounds": rounds,
              "best_s_per_step": best, "median_overhead": ratio,
              "median_within_run_overhead": within}
    print(f"| variant | s / step (best of {len(rounds)}) | images/s | vs bare loop (median "
          "of per-round ratios) | step time outside train_step (same run, median) |\n"
          "|---|---|---|---|---|")
    print(f"| bare PyTorch loop, one fixed batch | {best['bare']:.3f} | "
          f"{args.batch / best['bare']:.2f} | - | - |")
    for k, name in (("fit_w0", "nasdsl fit, 0 workers"), ("fit_w1", "nasdsl fit, 1 worker")):
        print(f"| {name} | {best[k]:.3f} | {args.batch / best[k]:.2f} | "
              f"{100 * ratio[k]:+.1f} % | {100 * within[k]:+.1f} % |")
    print(f"| data pipeline alone (sample + augment + collate, 0 workers) | "
          f"{best['loader_w0']:.3f} | {args.batch / best['loader_w0']:.2f} | - | - |")
    return result


def _fit_step(c, dm, args, patch, precision: Precision, tmp: Path) -> tuple[float, float]:
    """Steady-state seconds per step of `fit` (from the step timestamps, first excluded),
    and the part of it spent in `train_step` (so the rest is data + bookkeeping)."""
    from nasdsl.train.session import ModuleBatches

    cfg = TrainConfig(epochs=1, steps_per_epoch=args.steps, batch_size=args.batch,
                      progress=False, checkpoint_every=0)
    run = RunDir.create(tmp / f"run{time.monotonic_ns()}", {})
    fit(lambda: GenotypeNet(c), SegLoss(4), ModuleBatches(dm, 1, 0), [], cfg, run,
        precision, InferShape(2, 4, tuple(patch), (16, 16)))
    steps = [r for r in run.records() if "loss" in r]
    interval = (steps[-1]["time"] - steps[0]["time"]) / (len(steps) - 1)
    compute = sum(r["step_s"] for r in steps[1:]) / (len(steps) - 1)
    return interval, compute


def _loader_step(dm) -> float:
    it = iter(dm.train_loader(1))
    next(it)
    t0 = time.perf_counter()
    n = sum(1 for _ in it)
    return (time.perf_counter() - t0) / max(1, n)


def _bare_loop(c, batch: dict, steps: int, precision: Precision) -> tuple[float, float]:
    """The same model, loss, optimizer and step count on one fixed in-memory batch:
    (s per step after the first, wall time incl. building model and optimizer)."""
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = precision.prepare_model(GenotypeNet(c), 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=3e-5)
    loss_fn = SegLoss(4)
    x, y = precision.input(batch["image"]), batch["label"].to(precision.device)
    t1 = 0.0
    for step in range(steps):
        if step == 1:
            t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with precision.autocast():
            out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 12.0)
        opt.step()
        float(loss.detach())  # the loop logs the loss every step: same sync point
    end = time.perf_counter()
    return (end - t1) / max(1, steps - 1), end - t0


# ---- inference -----------------------------------------------------------------------------
def infer(args: argparse.Namespace) -> dict[str, Any]:
    import onnxruntime as ort

    from nasdsl.backends.onnx_export import export
    from nasdsl.infer.predict import ort_providers
    from nasdsl.train.sliding import predict_probabilities

    c = compile_spec(str(ROOT / "specs/unet.nas"), {"dims": 3, "base": args.base,
                                                    "depth": 3, "classes": 3})
    net = GenotypeNet(c).eval()
    window = (args.window,) * 3
    path = OUT / "train_infer_unet3d.onnx"
    OUT.mkdir(parents=True, exist_ok=True)
    export(net, torch.randn(1, 1, *window), path, ["y"])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), opts, providers=ort_providers())

    def run_ort(x):
        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])

    def run_torch(x):
        with torch.no_grad():
            return net(x)
    volume = torch.randn(1, 1, *args.volume)
    rows = []
    for name, fn in (("pytorch", run_torch), ("onnxruntime", run_ort)):
        kw = dict(mode="sliding", window=window, multiple=(8, 8, 8), overlap=0.5)
        predict_probabilities(fn, volume, **kw)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            predict_probabilities(fn, volume, **kw)
            times.append(time.perf_counter() - t0)
        rows.append({"backend": name, "provider": session.get_providers()[0]
                     if name == "onnxruntime" else "cpu", "s_per_volume": min(times),
                     "all": times})
    result = {"machine": machine(), "model": f"unet.nas dims=3 base={args.base} depth=3",
              "volume": args.volume, "window": window, "overlap": 0.5, "rows": rows}
    print("| backend | s / volume |\n|---|---|")
    for r in rows:
        print(f"| {r['backend']} ({r['provider']}) | {r['s_per_volume']:.2f} |")
    return result


# ---- MNI test Dice at equal budget ---------------------------------------------------------
def mni_task(args: argparse.Namespace):
    """The MNI task of --root (written there, or under build/bench, when absent) as a 2D
    data module: (index, plan, data module, validation cases, patch)."""
    from nasdsl.data import make_mni_dataset

    name = f"mni_{args.cases}_{args.tests}_{args.resolution}"
    root = Path(args.root) if args.root else OUT / name
    if not (root / "dataset.json").exists():
        make_mni_dataset(root, cases=args.cases, tests=args.tests, seed=0,
                         resolution=args.resolution)
    patch = [args.patch, args.patch]
    index, plan, dm = data_module(root, 2, patch, args.batch, args.steps, folds=5)
    return index, plan, dm, dm.val_cases(), patch


def mni(args: argparse.Namespace) -> dict[str, Any]:
    from nasdsl.train.session import ModuleBatches

    index, plan, dm, val, patch = mni_task(args)
    results = []
    for name, factory, multiple in _models(args):
        torch.manual_seed(0)
        params = sum(p.numel() for p in factory().parameters())
        run = RunDir.create(Path(tempfile.mkdtemp()) / name, {})
        shape = InferShape(2, 3, tuple(patch), multiple)
        cfg = TrainConfig(epochs=args.max_epochs, steps_per_epoch=args.steps,
                          batch_size=args.batch, time_budget=args.budget, progress=False,
                          lr=args.lr, checkpoint_every=0)
        t0 = time.perf_counter()
        out = fit(factory, SegLoss(3), ModuleBatches(dm, 1, 0), val, cfg, run,
                  Precision.for_device("cpu"), shape)
        wall = time.perf_counter() - t0
        best = run.load("best")["model"]
        out.model.load_state_dict(best)
        dice = _test_dice(out.model, plan, shape, index)
        results.append({"model": name, "params": params, "steps": out.position.global_step,
                        "train_s": out.position.elapsed, "wall_s": wall,
                        "best_val_dice": out.position.best, **dice})
        print(json.dumps(results[-1]), flush=True)
    print("| model | parameters | steps | train s | val Dice | test Dice GM | test Dice WM "
          "| test mean |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['params']:,} | {r['steps']} | {r['train_s']:.0f} | "
              f"{r['best_val_dice']:.3f} | {r['dice_gm']:.3f} | {r['dice_wm']:.3f} | "
              f"{r['dice_mean']:.3f} |")
    return {"machine": machine(), "budget_s": args.budget, "patch": patch,
            "batch": args.batch, "cases": args.cases, "tests": args.tests,
            "resolution_mm": args.resolution, "results": results}


def _models(args: argparse.Namespace) -> list[tuple[str, Callable, tuple[int, int]]]:
    from monai.networks.nets import BasicUNet

    unet = compile_spec(str(ROOT / "specs/unet.nas"), {"classes": 3, "base": args.unet_base})
    nas = compile_spec(str(ROOT / "specs/genotypes/nas_unet_v2.nas"),
                       {"classes": 3, "C": args.nas_c, "depth": args.nas_depth})
    return [("unet.nas", lambda: GenotypeNet(unet), net_info(unet).stride_multiple),
            ("NAS-Unet (nas_unet_v2.nas)", lambda: GenotypeNet(nas),
             net_info(nas).stride_multiple),
            ("MONAI BasicUNet", lambda: BasicUNet(2, 1, 3), (16, 16))]


def _test_dice(model, plan, shape: InferShape, index) -> dict[str, float]:
    """Mean test Dice per class on the original grids (the `nasdsl eval` path)."""
    from nasdsl import data as D
    from nasdsl.infer.predict import LoadedModel, segment_indices
    from nasdsl.train.metrics import case_scores, mean_scores
    from nasdsl.train.validate import torch_predictor

    precision = Precision.for_device("cpu")
    predictor = torch_predictor(model.eval(), precision)
    loaded = LoadedModel(lambda x: predictor(x).detach(), shape, 1, plan.to_dict(), "pt")
    scores = []
    with torch.no_grad():
        for case in index.test_cases:
            data = D.load_case(index, case)
            pred = segment_indices(loaded, data.image, data.geometry)
            scores.append(case_scores(case.id, pred, data.label[0], 3,
                                      data.geometry.spacing))
    mean = mean_scores(scores)["dice"]
    return {"dice_gm": mean[1], "dice_wm": mean[2], "dice_mean": (mean[1] + mean[2]) / 2,
            "test_cases": len(scores)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--size", type=int, default=96)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--steps", type=int, default=15)
    t.add_argument("--base", type=int, default=16)
    t.add_argument("--repeats", type=int, default=3)
    t.add_argument("--device", default="cpu")
    i = sub.add_parser("infer")
    i.add_argument("--volume", type=int, nargs=3, default=[96, 112, 96])
    i.add_argument("--window", type=int, default=64)
    i.add_argument("--base", type=int, default=16)
    i.add_argument("--repeats", type=int, default=3)
    m = sub.add_parser("mni")
    m.add_argument("--budget", type=float, default=240.0, help="training seconds per model")
    m.add_argument("--cases", type=int, default=12)
    m.add_argument("--tests", type=int, default=4)
    m.add_argument("--resolution", type=float, default=2.0)
    m.add_argument("--patch", type=int, default=96)
    m.add_argument("--batch", type=int, default=8)
    m.add_argument("--steps", type=int, default=50)
    m.add_argument("--max-epochs", type=int, default=1000)
    m.add_argument("--unet-base", type=int, default=16, help="unet.nas `base`")
    m.add_argument("--nas-c", type=int, default=32, help="NAS-Unet `C` (shipped: 32)")
    m.add_argument("--nas-depth", type=int, default=5, help="NAS-Unet `depth` (shipped: 5)")
    m.add_argument("--lr", type=float, default=3e-3)
    m.add_argument("--root", default=None, help="where the MNI task is (written if absent)")
    for sp in (t, i, m):
        sp.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"throughput": throughput, "infer": infer, "mni": mni}[args.what](args)
    result["command"] = " ".join(sys.argv)
    save(args.what, result)


if __name__ == "__main__":
    main()
