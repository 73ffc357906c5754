"""Does the search beat random? (issue 14, "The evidence, redone"; run through
`nasdsl trials`, issue 17)

On the built-in MNI task (2D slices, grey/white matter, held-out test volumes no search,
training or checkpoint choice sees), for `nas_unet.nas` at a small training scale:
  1. each engine of --engines searches the space at the stated budget; the number of
     architecture steps it took and its entropy start -> end are logged, and a search
     that took no architecture step is refused (exit 2), not reported;
  2. one trials table (OUT/trials.toml) holds the searched genotypes and K random ones
     drawn uniformly by the table's own [draw] (legal architectures only, at most the
     first engine's genotype's parameters), every genotype x --seeds seeds, trained for
     the same number of STEPS and scored on the test volumes (`evaluate = ["test"]`:
     mean of grey and white matter on the original grids, the `nasdsl eval` path);
  3. `nasdsl trials OUT/trials.toml --out OUT/trials` runs them (local Ray by default,
     --workers 0 in one process): one run directory per training, summary with mean,
     95% t interval and rank per genotype; a second call reuses finished trainings, so an
     interrupted benchmark is resumed by running it again;
  4. each searched genotype's rank among the random ones (1 = best) by its mean.
Writes OUT/search_vs_random.json (OUT = build/bench/search_vs_random) and prints Markdown
tables, e.g.
  .venv/bin/python bench/search_vs_random.py --engines pc_darts,darts --randoms 8 --seeds 3

Every search of an OUT is kept (OUT/searches/<name>/bench_row.json) and stays in the
table: a later call with longer searches (`--tag -long --search-epochs 50 --max-params
N`) adds its genotypes, and with the same --max-params the random genotypes are the same
draws, so their trainings are reused, not repeated. `--search-only` stops after the
search (searches of one OUT can run side by side), `--engines ""` searches nothing and
runs the table of the recorded searches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
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
OUT = tb.OUT / "search_vs_random"


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
    """One search (or a finished one of an earlier call), with its evidence; its row is
    named `<engine><tag>` (the trials' label of its genotype)."""
    if reuse is not None:
        out = reuse
        manifest = json.loads((out / "manifest.json").read_text())
        if manifest["engine"] != engine:
            raise SystemExit(f"{out} is not a {engine} search")
        found, settings, wall = manifest["final"], manifest["settings"], None
    else:
        out = OUT / "searches" / f"{engine}{args.tag}"
        if (out / "manifest.json").exists():
            raise SystemExit(f"{out} holds a search: reuse it with --search-from, or move "
                             "it away")
        settings = search_settings(engine, args)
        t0 = time.perf_counter()
        found = search(SearchOptions(str(SPEC), str(data), str(out), engine, overrides,
                                     settings, progress=False))
        wall = time.perf_counter() - t0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    arch_steps = sum(1 for r in records if "arch_loss" in r)
    _, start, _, _ = load_engine_from_run(out, restore=False)
    _, end, _, _ = load_engine_from_run(out)
    row = {"name": f"{engine}{args.tag}", "engine": engine, "settings": settings, "search_s": wall, "arch_steps": arch_steps,
           "weight_steps": sum(1 for r in records if "loss" in r and "event" not in r),
           "entropy_start": start.entropy(), "entropy_end": end.entropy(),
           "assignment": found["assignment"], "params": found["params"], "run": str(out)}
    print(json.dumps({k: v for k, v in row.items() if k != "assignment"}), flush=True)
    if arch_steps == 0:
        raise SystemExit(f"refused: the {engine} search took no architecture step (its "
                         "genotype is a derivation from initial noise); give it more epochs "
                         "than its warm-up")
    row["recorded"] = time.time()
    (out / "bench_row.json").write_text(json.dumps(row, indent=1, default=str))
    return row


def recorded_searches() -> list[dict[str, Any]]:
    """Every search of this OUT, earliest first."""
    rows = [json.loads(p.read_text()) for p in (OUT / "searches").glob("*/bench_row.json")]
    return sorted(rows, key=lambda r: r["recorded"])


def write_genotype(space: SearchSpace, row: dict[str, Any]) -> Path:
    """The searched genotype as a file of its own (named after its engine: the trials'
    label), pointing at the space by a path relative to it."""
    from nasdsl.engines.genotype_out import genotype_text
    from nasdsl.outputs import write_atomic

    target = OUT / "genotypes" / f"{row['name']}.nas"
    target.parent.mkdir(parents=True, exist_ok=True)
    assignment = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in row["assignment"].items()}
    write_atomic(target, genotype_text(space, assignment, target, "Searched", [
        f"derived by the {row['engine']} search in {row['run']}",
        f"{row['arch_steps']} architecture steps, entropy {row['entropy_start']:.4f} -> "
        f"{row['entropy_end']:.4f}"]))
    return target


def trials_table(data: Path, genotypes: list[Path], budget: int,
                 args: argparse.Namespace) -> Path:
    """Searched and random genotypes x seeds, equal steps, scored on the test volumes."""
    defines = [f"C={args.C}", f"depth={args.depth}", f"patch={args.patch}", "classes=3"]
    text = "\n".join([
        "# written by bench/search_vs_random.py: searched vs random genotypes",
        f"data = {json.dumps(str(data))}",
        f"genotypes = {json.dumps([str(g) for g in genotypes])}",
        f"seeds = {json.dumps(list(range(args.seeds)))}",
        "folds = [0]",
        "k_folds = 5",
        f"defines = {json.dumps(defines)}",
        'evaluate = ["test"]',
        'rank_by = "test"',
        "",
        "[train]",
        f"epochs = {args.train_epochs}",
        f"steps_per_epoch = {args.train_steps}",
        f"batch = {args.batch}",
        f'patch = "{args.patch}x{args.patch}"',
        f"lr = {args.lr}",
        # one validation, at the end: the scored weights are the final ones (no
        # checkpoint selection), as for every genotype alike
        f"val_every = {args.train_epochs}",
        "",
        "[draw]",
        f"space = {json.dumps(str(SPEC))}",
        f"count = {args.randoms}",
        "seed = 1",
        f"max_params = {budget}",
        ""])
    path = OUT / "trials.toml"
    path.write_text(text)
    return path


def run_trials(table: Path, args: argparse.Namespace) -> dict[str, Any]:
    """`nasdsl trials` itself, as a user runs it; its summary."""
    out = OUT / "trials"
    cmd = [sys.executable, "-m", "nasdsl", "trials", str(table), "--out", str(out),
           "--workers", str(args.workers)]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    code = subprocess.call(cmd)
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"nasdsl trials exited {code}; run this again to resume")
    summary = json.loads((out / "summary.json").read_text())
    summary["wall_s"] = wall
    return summary


def evidence(searched: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per genotype: its trials' test Dice per seed, mean, 95% CI; searched ranks."""
    per_trial: dict[str, list[dict[str, Any]]] = {}
    for t in summary["trials"]:
        per_trial.setdefault(t["group"], []).append(t)
    rows = []
    for g in summary["groups"]:
        trials = sorted(per_trial[g["group"]], key=lambda t: t["seed"])
        rows.append({"name": g["group"], "params": trials[0]["params"],
                     "dice": [t["test_dice"] for t in trials],
                     "steps": sorted({t["steps"] for t in trials}),
                     "mean": g["mean"], "ci95": [g["ci95_low"], g["ci95_high"]],
                     "failed": g["failed"]})
    names = {s["name"] for s in searched}
    rand = [r for r in rows if r["name"] not in names]
    for s in searched:
        row = next(r for r in rows if r["name"] == s["name"])
        s["rank"] = 1 + sum(r["mean"] > row["mean"] for r in rand)
        s["of"] = len(rand) + 1
    return rows


def print_tables(searched: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    print("| search | search s | epochs x steps | arch steps | entropy start -> end | params "
          "| rank among random (1 = best) |\n|---|---|---|---|---|---|---|")
    for s in searched:
        secs = "reused" if s["search_s"] is None else f"{s['search_s']:.0f}"
        budget = f"{s['settings']['epochs']} x {s['settings']['steps_per_epoch']}"
        print(f"| {s['name']} | {secs} | {budget} | {s['arch_steps']} | {s['entropy_start']:.4f} -> "
              f"{s['entropy_end']:.4f} | {s['params']:,} | {s['rank']} of {s['of']} |")
    print("\n| genotype | parameters | steps | test Dice per seed | mean | 95% CI |"
          "\n|---|---|---|---|---|---|")
    for r in rows:
        per = " / ".join(f"{d:.3f}" for d in r["dice"])
        ci = (f"{r['ci95'][0]:.3f} .. {r['ci95'][1]:.3f}" if r["ci95"][0] is not None
              else "n/a")
        print(f"| {r['name']} | {r['params']:,} | {'/'.join(map(str, r['steps']))} | {per} "
              f"| {r['mean']:.3f} | {ci} |")


def main() -> None:
    global OUT
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
    ap.add_argument("--train-epochs", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=50, help="steps per training epoch")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the searches")
    ap.add_argument("--workers", type=int, default=2,
                    help="`nasdsl trials --workers`: parallel trainings on a local Ray "
                         "(0: one after another in one process)")
    ap.add_argument("--search-from", default=None,
                    help="comma-separated finished search run folders to reuse "
                         "(one per engine, same order) instead of searching again")
    ap.add_argument("--tag", default="", help="suffix of this call's searches' names "
                    "(e.g. -long): searches of earlier calls stay in the table")
    ap.add_argument("--max-params", type=int, default=None,
                    help="the random genotypes' parameter budget (default: the first "
                         "search's genotype of the first call)")
    ap.add_argument("--search-only", action="store_true",
                    help="search and record, then stop (no trainings)")
    ap.add_argument("--root", default=None, help="MNI task folder (default build/bench)")
    ap.add_argument("--out", default=None, help="folder for searches, genotypes, the "
                    "trials table and runs, and the report (default build/bench/search_vs_random)")
    args = ap.parse_args()
    OUT = Path(args.out).resolve() if args.out else OUT
    torch.set_num_threads(args.threads)
    from nasdsl.data import make_mni_dataset

    # the MNI task of train_bench / claim_bench: 12 training + 4 test volumes at 2 mm
    data = Path(args.root) if args.root else tb.OUT / "mni_12_4_2.0"
    if not (data / "dataset.json").exists():
        make_mni_dataset(data, cases=12, tests=4, seed=0, resolution=2.0)
    overrides = {"C": args.C, "depth": args.depth, "patch": args.patch, "classes": 3}
    space = SearchSpace.load(str(SPEC), overrides)
    engines = [e for e in args.engines.split(",") if e]
    reuse = args.search_from.split(",") if args.search_from else [None] * len(engines)
    for e, r in zip(engines, reuse):
        run_search(e, overrides, data, args, Path(r) if r else None)
    if args.search_only:
        return
    searched = recorded_searches()
    if not searched:
        raise SystemExit(f"no search recorded under {OUT / 'searches'}: give --engines")
    budget = args.max_params or searched[0]["params"]
    genotypes = [write_genotype(space, s) for s in searched]
    table = trials_table(data.resolve(), genotypes, budget, args)
    summary = run_trials(table, args)
    rows = evidence(searched, summary)
    report = {"machine": tb.machine(), "config": vars(args),
              "param_budget": budget, "trials_wall_s": summary["wall_s"],
              "metric": summary["metric"], "searches": searched, "rows": rows}
    (OUT / "search_vs_random.json").write_text(json.dumps(report, indent=1, default=str))
    print_tables(searched, rows)


if __name__ == "__main__":
    main()
