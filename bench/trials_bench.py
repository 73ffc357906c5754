"""`nasdsl trials`: wall time of one table in this process vs through a local Ray.

Writes build/bench/trials.json. Each configuration is a fresh `python -m nasdsl trials`
process (what a user runs: imports, table, Ray start/stop, summary and plot included),
on its own output folder, in interleaved rounds:

  sequential   --workers 0   (in-process, no Ray)
  ray-1        --workers 1   (Ray, one trial at a time: the difference to `sequential`
                              is Ray's overhead, start-up plus per-trial scheduling)
  ray-2        --workers 2   (Ray, two trials at once on the 2 cores)

and, separately, a bare `ray.init(num_cpus=2) + ray.shutdown()` to split the overhead into
start-up and per-trial parts. Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python bench/trials_bench.py --trials 8 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"

TABLE = """\
data = "{data}"
genotypes = ["{spec}"]
seeds = {seeds}
folds = [0]
k_folds = 3
defines = ["base=4", "depth=2", "classes=4"]
[train]
epochs = 2
steps_per_epoch = {steps}
batch = 2
patch = "32x32"
checkpoint_every = 4
"""

CONFIGS = {"sequential": ["--workers", "0"], "ray-1": ["--workers", "1"],
           "ray-2": ["--workers", "2"]}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nasdsl.cli", *args], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                         f"\n{proc.stderr[-3000:]}")
    return took


def _ray_start_stop(env: dict[str, str]) -> float:
    code = ("import time, logging, ray; t=time.perf_counter(); "
            "ray.init(num_cpus=2, object_store_memory=100*1024**2, include_dashboard=False,"
            " logging_level=logging.ERROR); ray.get(ray.remote(lambda: 1).remote()); "
            "ray.shutdown(); print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8, help="steps per epoch (2 epochs)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from nasdsl.data import make_synthetic_dataset

    work = BUILD / "trials_work"
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    make_synthetic_dataset(work / "data", dims=2, cases=6, tests=2, size=40)
    table = work / "trials.toml"
    table.write_text(TABLE.format(data=work / "data", spec=ROOT / "specs" / "unet.nas",
                                  seeds=list(range(args.trials)), steps=args.steps))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    rows = []
    for r in range(args.rounds):
        for name, flags in CONFIGS.items():
            out = work / f"{name}-{r}"
            before = _load()
            took = _run(["trials", str(table), "--out", str(out), *flags], env)
            rows.append({"config": name, "round": r, "wall_s": round(took, 2),
                         "load_before": before, "load_after": _load()})
            print(json.dumps(rows[-1]), flush=True)
        rows.append({"config": "ray-start-stop", "round": r,
                     "wall_s": round(_ray_start_stop(env), 2), "load_after": _load()})
        print(json.dumps(rows[-1]), flush=True)
    import ray
    import torch

    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__, "ray": ray.__version__},
              "trials": args.trials, "steps_per_trial": 2 * args.steps, "rows": rows}
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "trials.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {BUILD / 'trials.json'}")


if __name__ == "__main__":
    main()
