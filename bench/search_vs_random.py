"""Does the search beat random on this task? (issue 14, "The evidence, redone")

On the built-in MNI task (2D slices, grey/white matter, test cases no search or
training sees), for `nas_unet.nas` at a small training scale:
  1. each engine of --engines searches the space at the stated budget; the number of
     architecture steps it took and its entropy start -> end are logged, and a search
     that took no architecture step is refused (exit 2), not reported;
  2. K random genotypes are drawn uniformly (the decision table's own sampler, legal
     architectures only) under the parameter count of the first engine's genotype;
  3. every genotype is trained from scratch for the same number of STEPS (not seconds)
     with each of --seeds seeds, and scored by test Dice (mean of grey and white matter
     on the original grids, the `nasdsl eval` path) on the final weights;
  4. per genotype: mean test Dice over seeds with a 95% t confidence interval; each
     searched genotype's rank among the random ones (1 = best) by that mean.
Writes build/bench/search_vs_random.json and prints a Markdown table, e.g.
  .venv/bin/python bench/search_vs_random.py --engines pc_darts --randoms 8 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import torch  # noqa: E402

import train_bench as tb  # noqa: E402
from nasdsl.engines.loop import SearchOptions, load_engine_from_run, search  # noqa: E402
from nasdsl.space import SearchSpace  # noqa: E402

SPEC = ROOT / "specs" / "nas_unet.nas"
# two-sided 97.5% quantiles of Student's t (n - 1 degrees of freedom)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228}


def ci95(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% t interval)."""
    m = statistics.mean(values)
    if len(values) < 2:
        return m, math.nan
    return m, T975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))


def search_settings(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """The engine's own defaults except the budget; warm-up scaled to the budget as the
    papers' fractions (PC-DARTS 15 of 50 epochs; NAS-Unet's DARTS 10 of 300)."""
    from nasdsl.enginespec import engine_settings

    # every setting at the engine's own default: the spec's `search` block is DARTS's,
    # and a value it holds must not leak into another engine (issue 14 finding 1)
    s: dict[str, Any] = {k: v.normalise(v.default) for k, v in engine_settings(engine).items()}
    s.update({"epochs": args.search_epochs, "steps_per_epoch": args.search_steps,
              "batch_size": args.batch, "seed": 0, "patience": 0})
    if engine == "pc_darts":
        s.update(warmup_epochs=max(1, round(args.search_epochs * 15 / 50)), k=args.k)
    if engine == "darts":
        s.update(warmup_epochs=max(1, round(args.search_epochs * 10 / 300)))
    if engine == "proxyless":
        s.update(warmup_epochs=max(1, round(args.search_epochs * 40 / 160)))
    if args.arch_lr is not None:
        s["arch_lr"] = args.arch_lr
    return s


def run_search(engine: str, overrides: dict[str, Any], data: Path,
               args: argparse.Namespace, reuse: Path | None = None) -> dict[str, Any]:
    settings = search_settings(engine, args)
    if reuse is not None:      # a finished search of an earlier invocation
        out = reuse
        found = json.loads((out / "manifest.json").read_text())["final"]
        if json.loads((out / "manifest.json").read_text())["engine"] != engine:
            raise SystemExit(f"{out} is not a {engine} search")
        settings = json.loads((out / "manifest.json").read_text())["settings"]
        wall = float("nan")
    else:
        out = Path(tempfile.mkdtemp(prefix=f"svr_{engine}_")) / "search"
        t0 = time.perf_counter()
        found = search(SearchOptions(str(SPEC), str(data), str(out), engine, overrides,
                                     settings, progress=False))
        wall = time.perf_counter() - t0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    arch_steps = sum(1 for r in records if "arch_loss" in r)
    _, start, _, _ = load_engine_from_run(out, restore=False)
    _, end, _, _ = load_engine_from_run(out)
    row = {"engine": engine, "settings": settings, "search_s": wall, "arch_steps": arch_steps,
           "weight_steps": sum(1 for r in records if "loss" in r and "event" not in r),
           "entropy_start": start.entropy(), "entropy_end": end.entropy(),
           "assignment": found["assignment"], "params": found["params"], "run": str(out)}
    print(json.dumps({k: v for k, v in row.items() if k != "assignment"}), flush=True)
    if arch_steps == 0:
        raise SystemExit(f"refused: the {engine} search took no architecture step (its "
                         "genotype is a derivation from initial noise); give it more epochs "
                         "than its warm-up")
    return row


def draw_randoms(space: SearchSpace, budget: int, k: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out, tries = [], 0
    while len(out) < k:
        tries += 1
        if tries > 100_000:
            raise SystemExit(f"fewer than {k} legal genotypes under {budget:,} parameters")
        a = space.table.sample(rnd)
        if space.legal(a) and space.cost(a) <= budget:
            out.append(a)
    return out


def train_and_test(space: SearchSpace, assignment: dict[str, Any], seed: int, task,
                   args: argparse.Namespace) -> dict[str, Any]:
    from nasdsl.runs import RunDir
    from nasdsl.train import (GenotypeNet, InferShape, Precision, SegLoss, TrainConfig, fit,
                              net_info)
    from nasdsl.train.session import ModuleBatches

    index, plan, dm, _, patch = task
    compiled = space.child(_tuples(assignment))
    shape = InferShape(2, 3, tuple(patch), net_info(compiled).stride_multiple)
    torch.manual_seed(seed)
    run = RunDir.create(Path(tempfile.mkdtemp(prefix="svr_train_")) / "train", {})
    cfg = TrainConfig(epochs=args.train_epochs, steps_per_epoch=args.train_steps,
                      batch_size=args.batch, time_budget=None, progress=False, lr=args.lr,
                      checkpoint_every=0, seed=seed)
    t0 = time.perf_counter()
    out = fit(lambda: GenotypeNet(compiled), SegLoss(3), ModuleBatches(dm, 1, 0), [], cfg,
              run, Precision.for_device("cpu"), shape)
    wall = time.perf_counter() - t0
    dice = tb._test_dice(out.model, plan, shape, index)
    return {"seed": seed, "steps": out.position.global_step, "train_s": wall, **dice}


def _train_job(overrides: dict[str, Any], assignment: dict[str, Any], seed: int,
               task_args: argparse.Namespace, args: dict[str, Any]) -> dict[str, Any]:
    """One training in a worker process (one torch thread each)."""
    torch.set_num_threads(args["threads"])
    space = SearchSpace.load(str(SPEC), overrides)
    return train_and_test(space, assignment, seed, tb.mni_task(task_args),
                          argparse.Namespace(**args))


def _tuples(a: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="pc_darts", help="comma-separated gradient engines")
    ap.add_argument("--randoms", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--C", type=int, default=8)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--k", type=int, default=4, help="PC-DARTS partial-channel K")
    ap.add_argument("--search-epochs", type=int, default=6)
    ap.add_argument("--search-steps", type=int, default=20)
    ap.add_argument("--arch-lr", type=float, default=None,
                    help="architecture learning rate (default: each engine's own)")
    ap.add_argument("--train-epochs", type=int, default=4)
    ap.add_argument("--train-steps", type=int, default=50, help="steps per training epoch")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--workers", type=int, default=2, help="trainings run in parallel")
    ap.add_argument("--summarise", action="store_true",
                    help="print the table from the trainings logged so far (needs "
                         "--search-from)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the trainings build/bench/search_vs_random.jsonl holds (same "
                         "searches and randoms) and run the rest")
    ap.add_argument("--search-from", default=None,
                    help="comma-separated finished search run folders to reuse "
                         "(one per engine, same order) instead of searching again")
    ap.add_argument("--only-time", action="store_true",
                    help="train one random genotype once and print its time (sizing)")
    ap.add_argument("--root", default=None, help="MNI task folder (default build/bench)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # the MNI task of train_bench / claim_bench: 12 training + 4 test volumes at 2 mm
    task_args = argparse.Namespace(cases=12, tests=4, resolution=2.0, root=args.root,
                                   patch=args.patch, batch=args.batch, steps=args.train_steps)
    task = tb.mni_task(task_args)
    data = _task_root(task_args)
    overrides = {"C": args.C, "depth": args.depth, "patch": args.patch, "classes": 3}
    space = SearchSpace.load(str(SPEC), overrides)
    if args.summarise:    # the table from build/bench/search_vs_random.jsonl so far
        summarise(args)
        return
    if args.only_time:
        a = draw_randoms(space, 10**12, 1, 0)[0]
        print(json.dumps({"params": space.cost(a), **train_and_test(space, a, 0, task, args)}))
        return
    engines = args.engines.split(",")
    reuse = args.search_from.split(",") if args.search_from else [None] * len(engines)
    searched = [run_search(e, overrides, data, args, Path(r) if r else None)
                for e, r in zip(engines, reuse)]
    budget = searched[0]["params"]
    randoms = draw_randoms(space, budget, args.randoms, seed=1)
    rows = [{"name": f"{s['engine']} (searched)", "assignment": s["assignment"],
             "params": s["params"]} for s in searched]
    rows += [{"name": f"random {i + 1}", "assignment": a, "params": space.cost(a)}
             for i, a in enumerate(randoms)]
    jobs = [(i, seed) for seed in range(args.seeds) for i in range(len(rows))]
    log = tb.OUT / "search_vs_random.jsonl"     # one line per training, as they finish
    log.parent.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[int, int], dict[str, Any]] = {}
    if args.resume and log.exists():     # trainings an interrupted invocation finished
        index = {(r["name"], r["params"]): i for i, r in enumerate(rows)}
        for line in log.read_text().splitlines():
            d = json.loads(line)
            i = index.get((d.pop("name"), d.pop("params")))
            if i is not None:
                results[i, d["seed"]] = d
        jobs = [j for j in jobs if j not in results]
    else:
        log.write_text("")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        futures = {pool.submit(_train_job, overrides, rows[i]["assignment"], seed,
                               task_args, vars(args)): (i, seed) for i, seed in jobs}
        for fut in as_completed(futures):
            i, seed = futures[fut]
            results[i, seed] = fut.result()
            line = {"name": rows[i]["name"], "params": rows[i]["params"], **results[i, seed]}
            print(json.dumps(line), flush=True)
            with log.open("a") as f:
                f.write(json.dumps(line) + "\n")
    for i, row in enumerate(rows):
        row["runs"] = [results[i, seed] for seed in range(args.seeds)]
    report_and_save(searched, rows, budget, args)


def report_and_save(searched: list[dict[str, Any]], rows: list[dict[str, Any]], budget: int,
                    args: argparse.Namespace) -> None:
    """The table from the trainings each row holds (`runs`): mean test Dice, 95% CI over
    seeds, each searched genotype's rank among the random ones."""
    for row in rows:
        row["dice_mean"], row["dice_ci95"] = ci95([r["dice_mean"] for r in row["runs"]])
    rand = [r for r in rows if r["name"].startswith("random")]
    for s, row in zip(searched, rows):
        s["rank"] = 1 + sum(r["dice_mean"] > row["dice_mean"] for r in rand)
    report = {"machine": tb.machine(), "config": vars(args), "param_budget": budget,
              "searches": searched, "rows": rows,
              "random_mean": ci95([r["dice_mean"] for r in rand])}
    tb.OUT.mkdir(parents=True, exist_ok=True)
    (tb.OUT / "search_vs_random.json").write_text(json.dumps(report, indent=1, default=str))
    print_table(report, args)


def summarise(args: argparse.Namespace) -> None:
    """Rows from the per-training log (an unfinished run: fewer seeds where cut off),
    searches from the --search-from folders."""
    lines = [json.loads(x) for x in (tb.OUT / "search_vs_random.jsonl").read_text().splitlines()]
    order: dict[str, dict[str, Any]] = {}
    for d in lines:
        row = order.setdefault(d["name"], {"name": d["name"], "params": d["params"], "runs": []})
        row["runs"].append({k: v for k, v in d.items() if k not in ("name", "params")})
    rows = sorted(order.values(), key=lambda r: (not r["name"].endswith("(searched)"),
                                                 r["name"]))
    engines = args.engines.split(",")
    overrides = {"C": args.C, "depth": args.depth, "patch": args.patch, "classes": 3}
    searched = [run_search(e, overrides, Path("."), args, Path(r))
                for e, r in zip(engines, args.search_from.split(","))]
    rows.sort(key=lambda r: [s["engine"] + " (searched)" for s in searched].index(r["name"])
              if r["name"].endswith("(searched)") else len(searched) + int(r["name"].split()[1]))
    report_and_save(searched, rows, searched[0]["params"], args)


def _task_root(a: argparse.Namespace) -> Path:
    return Path(a.root) if a.root else tb.OUT / f"mni_{a.cases}_{a.tests}_{a.resolution}"


def print_table(report: dict[str, Any], args: argparse.Namespace) -> None:
    print("| engine | search s | arch steps | entropy start -> end | params | rank among "
          f"{args.randoms} random |\n|---|---|---|---|---|---|")
    for s in report["searches"]:
        print(f"| {s['engine']} | {s['search_s']:.0f} | {s['arch_steps']} | "
              f"{s['entropy_start']:.4f} -> {s['entropy_end']:.4f} | {s['params']:,} | "
              f"{s['rank']} of {args.randoms + 1} |")
    print("\n| genotype | parameters | seeds | test Dice per seed | mean | 95% CI |"
          "\n|---|---|---|---|---|---|")
    for r in report["rows"]:
        per = ", ".join(f"{x['dice_mean']:.3f}" for x in sorted(r["runs"],
                                                                  key=lambda x: x["seed"]))
        print(f"| {r['name']} | {r['params']:,} | {len(r['runs'])} | {per} | "
              f"{r['dice_mean']:.3f} | ± {r['dice_ci95']:.3f} |")
    m, h = report["random_mean"]
    print(f"\nrandom genotypes: mean {m:.3f} ± {h:.3f} (95% CI over the {args.randoms} "
          "genotypes' means)")


if __name__ == "__main__":
    main()
