"""One search step of each engine on the same space, batch and input (issue 10).

Rows: DARTS (all candidates, weight step), PC-DARTS (K=4, weight step), ProxylessNAS
(`two` mode arch step: two paths gated), an ENAS child (one-path train step on the
shared weights) and the derived standalone network (the emitted module). Each row runs
in its own process so that the peak RSS (CPU) / peak allocated memory (CUDA) is that
row's alone; step time is the median of the timed repeats after one warm-up.

Default configuration: the NAS-Unet authors' search net (C=16, depth 4, M=3) on a
2x1x256^2 batch, the issue's reference (their DARTS: ~1.65 s forward+backward, 2.3 GiB
peak RSS on a 2-core CPU). Run from the repository root:
  .venv/bin/python bench/engines_bench.py                 # all rows, prints Markdown
  .venv/bin/python bench/engines_bench.py --quick         # C=8, depth 2, 64^2
Writes build/bench/engines.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
ROWS = ("darts", "pc_darts", "proxyless_two", "enas_child", "standalone")


def _setup(args):
    import torch

    from nasdsl.space import SearchSpace

    torch.manual_seed(0)
    overrides = {"C": args.C, "depth": args.depth, "M": 3, "patch": args.size}
    space = SearchSpace.load(str(ROOT / "specs" / "nas_unet.nas"), overrides)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    x = torch.randn(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(0, 2, (args.batch, 1, args.size, args.size), device=device)
    return space, device, {"image": x, "label": y}


def _engine(name: str, space, device):
    from nasdsl.engines.loop import ENGINE_CLASSES
    from nasdsl.enginespec import engine_settings, resolve, values
    from nasdsl.train.step import Precision

    known = engine_settings(name)
    settings = values(resolve(name, {}, {k: v for k, v in {"k": 4, "mode": "two"}.items()
                                         if k in known}))
    return ENGINE_CLASSES[name](space, settings, Precision.for_device(device), 2)


def _step_fn(row: str, space, device, batch):
    """A callable doing one search step of `row`."""
    from nasdsl.train.step import train_step

    if row in ("darts", "pc_darts"):
        e = _engine(row, space, device)
        return lambda: train_step(e.model, batch, e.loss_fn, e.w_opt, e.precision)
    if row == "proxyless_two":
        e = _engine("proxyless", space, device)
        return lambda: e.arch_step(batch, 0, 0)
    e = _engine("enas", space, device)
    import torch

    child, _, _ = e.controller.sample(torch.Generator().manual_seed(0))
    if row == "enas_child":
        model = e.children.module(child)
        return lambda: train_step(model, batch, e.loss_fn, e.opt, e.precision)
    return _standalone_step(space, child, device, batch, e)


def _standalone_step(space, child, device, batch, e):
    import importlib.util

    import torch

    from nasdsl.backends.standalone import compile_to
    from nasdsl.train.step import train_step

    tmp = Path(tempfile.mkdtemp()) / "derived.py"
    compile_to(space.child(child), "torch", tmp)
    spec = importlib.util.spec_from_file_location("derived", tmp)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.Model().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    return lambda: train_step(model, batch, e.loss_fn, opt, e.precision)


def run_row(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    space, device, batch = _setup(args)
    step = _step_fn(args.row, space, device, batch)
    _reset_peak()
    base_rss = _status("VmRSS")
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    out = {"row": args.row, "device": str(device), "step_s": statistics.median(times),
           "times": times,
           "peak_rss_gib": _status("VmHWM"), "rss_before_gib": base_rss,
           "step_rss_gib": _status("VmHWM") - base_rss}
    if device.type == "cuda":
        out["cuda_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def _status(field: str) -> float:
    """A /proc/self/status memory figure in GiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS, so the peak is the step's own (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--row", choices=ROWS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--C", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.C, args.depth, args.size = 8, 2, 64
    if args.row:
        print(json.dumps(run_row(args)))
        return
    rows = []
    load = os.getloadavg()[0]
    for row in ROWS:
        cmd = [sys.executable, __file__, "--row", row, "--C", str(args.C), "--depth",
               str(args.depth), "--size", str(args.size), "--batch", str(args.batch),
               "--repeats", str(args.repeats), "--threads", str(args.threads)]
        cmd += ["--cpu"] if args.cpu else []
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode:
            rows.append({"row": row, "error": done.stderr[-800:]})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {"config": vars(args), "machine": platform.platform(),
              "cpus": os.cpu_count(), "load_before": load, "load_after": os.getloadavg()[0],
              "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "engines.json").write_text(json.dumps(report, indent=2))
    print(_table(report))


def _table(report: dict) -> str:
    rows = {r["row"]: r for r in report["rows"]}
    darts = rows.get("darts", {})
    alone = rows.get("standalone", {})
    lines = [f"load average {report['load_before']:.1f} -> {report['load_after']:.1f} on {report['cpus']} CPUs", "", "| step | time (s) | peak RSS (GiB) | step RSS (GiB) | CUDA peak (GiB) | "
             "step memory vs DARTS | vs standalone |", "|---|---|---|---|---|---|---|"]
    for name in ROWS:
        r = rows.get(name, {})
        if "error" in r or not r:
            lines.append(f"| {name} | failed | | | | |")
            continue
        mem = r.get("cuda_peak_gib", r["step_rss_gib"])
        ref_d = darts.get("cuda_peak_gib", darts.get("step_rss_gib", float("nan")))
        ref_s = alone.get("cuda_peak_gib", alone.get("step_rss_gib", float("nan")))
        lines.append(f"| {name} | {r['step_s']:.3f} | {r['peak_rss_gib']:.2f} | "
                     f"{r['step_rss_gib']:.2f} | {r.get('cuda_peak_gib', float('nan')):.2f} | "
                     f"{mem / ref_d:.2f}x | {mem / ref_s:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
