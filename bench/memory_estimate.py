"""Static training-memory estimate vs the measured peak of one Adam step.

For each frozen spec below, compares
    nasdsl.analysis.memory.estimate_training_memory(graph, input_size, batch)
(weights + grads + Adam's two moments + saved activations from OpDef.saved factors)
with one Adam training step (forward, backward, optimizer.step) of the emitted module:

  CPU  hook: bytes autograd saves for backward (saved-tensor hook, unique storages,
             parameters and the input excluded) + 4 x parameter bytes
             (weights, grads, two Adam moments);
       RSS:  RSS high-water delta of the step + 3 x parameter bytes (weights and Adam
             moments are resident before the step; grads are allocated in it). Each spec
             runs in a fresh process with a fixed glibc mmap threshold so freed memory
             is returned at once.
  CUDA       max_memory_allocated over the step (weights, Adam state and all).

It also attributes every saved storage to the op modules that saved it (forward hooks on
the emitted op modules; a storage saved by several ops, e.g. one op's output that the
next op saves as its input, is split equally among them) and divides by the op's output
bytes: the per-op `saved` factor that would make the estimate match. Pooled over the
specs, these factors are then put back into the estimate to show the remaining error.

Usage (from the repository root):
    .venv/bin/python bench/memory_estimate.py [--batch 2] [--device cpu|cuda]
Writes build/bench/memory.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (BUILD, ROOT, SavedTensorMeter, compile_emitted, machine_info,  # noqa: E402
                     mib, param_bytes, rss_peak_delta)

import torch  # noqa: E402

# spec, overrides, input size (None = the spec's own), label
SPECS = [
    ("specs/unet.nas", {}, (128, 128), "unet 2D 128^2"),
    ("specs/genotypes/nas_unet_v2.nas", {}, (128, 128), "nas_unet_v2 2D 128^2"),
    ("specs/genotypes/ronasmis_a.nas", {}, (64, 64, 16), "ronasmis_a 3D 64x64x16"),
    ("specs/genotypes/thrifty_nas_a.nas", {}, (128, 128), "thrifty_nas_a 2D 128^2"),
]
TOLERANCE = 0.20


def loss_of(out) -> torch.Tensor:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return sum(o.float().mean() for o in outs)


def op_modules(compiled, model: torch.nn.Module) -> list[tuple[object, torch.nn.Module]]:
    """(graph node, emitted module) for every node the emitter made a module for."""
    from nasdsl.backends.torch_src import build_context
    from nasdsl.ops import REGISTRY

    decls = [d for d in build_context(compiled)["modules"] if d.cls != "nn.Module"]
    nodes = [n for n in compiled.graph.nodes
             if n.op != "input" and REGISTRY[n.op].impl is not None]
    if len(nodes) != len(decls):
        raise RuntimeError(f"{len(nodes)} impl nodes but {len(decls)} emitted modules")
    return [(n, model.get_submodule(d.attr)) for n, d in zip(nodes, decls)]


def measure(spec: str, overrides: dict, input_size: tuple[int, ...] | None, batch: int,
            device: str, threads: int) -> dict:
    """One spec, in this (fresh) process."""
    from nasdsl.analysis.memory import estimate_training_memory
    from nasdsl.ops import REGISTRY

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    compiled, module = compile_emitted(spec, overrides, input_size=input_size,
                                       out=BUILD / "memory" / (Path(spec).stem + ".py"))
    size = tuple(input_size or compiled.input_size)
    est = estimate_training_memory(compiled.graph, size, batch)
    model = module.Model().to(device).train()
    channels = compiled.graph.node(compiled.graph.inputs[0]).type.channels
    x = torch.randn(batch, channels, *size, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    pbytes = param_bytes(model)

    def step():
        loss_of(model(x)).backward()
        opt.step()

    step()  # warm-up: Adam state, one-time allocations
    opt.zero_grad(set_to_none=True)
    result: dict = {"spec": spec, "input_size": list(size), "batch": batch,
                    "params": sum(p.numel() for p in model.parameters()),
                    "estimate": est.as_dict()}
    if device == "cpu":
        with rss_peak_delta() as rss:
            step()
        result["rss"] = rss
        result["measured_rss_total"] = rss["delta"] + 3 * pbytes
    else:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        result["cuda_peak"] = torch.cuda.max_memory_allocated()
    opt.zero_grad(set_to_none=True)

    # Saved tensors, attributed per op module.
    pairs = op_modules(compiled, model)
    meter = SavedTensorMeter(exclude=list(model.parameters()) + [x])
    outputs: dict[int, int] = {}
    handles = []
    for node, mod in pairs:
        handles.append(mod.register_forward_pre_hook(
            lambda m, a, node=node: setattr(meter, "owner", node.id)))
        handles.append(mod.register_forward_hook(
            lambda m, a, o: setattr(meter, "owner", None)))
    with meter:
        out = model(x)
    for h in handles:
        h.remove()
    loss_of(out).backward()
    opt.zero_grad(set_to_none=True)
    result["saved_activation_bytes"] = meter.total
    result["param_bytes"] = pbytes
    by_owner = meter.by_owner
    result["measured_hook_total"] = meter.total + 4 * pbytes

    per_op: dict[str, dict] = {}
    for node in compiled.graph.nodes:
        if node.op == "input":
            continue
        numel = node.type.channels * math.prod(node.type.size(size)) * batch
        d = per_op.setdefault(node.op, {"nodes": 0, "out_bytes": 0, "saved_bytes": 0,
                                        "factor": REGISTRY[node.op].saved})
        d["nodes"] += 1
        d["out_bytes"] += numel * 4
        d["saved_bytes"] += by_owner.get(node.id, 0)
    inline = by_owner.get(None, 0)
    result["per_op"] = per_op
    result["unattributed_saved_bytes"] = inline
    return result


def run_child(spec, overrides, input_size, args) -> dict:
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    payload = json.dumps({"spec": spec, "overrides": overrides,
                          "input_size": list(input_size) if input_size else None})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", payload, "--batch",
           str(args.batch), "--device", args.device, "--threads", str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if res.returncode != 0:
        return {"spec": spec, "error": (res.stderr or res.stdout).strip().splitlines()[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, default=BUILD / "memory.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        job = json.loads(args.child)
        size = tuple(job["input_size"]) if job["input_size"] else None
        print(json.dumps(measure(job["spec"], job["overrides"], size, args.batch,
                                 args.device, args.threads)))
        return

    rows = []
    for spec, overrides, size, label in SPECS:
        r = run_child(spec, overrides, size, args)
        r["label"] = label
        rows.append(r)
        print(f"  measured {label}", file=sys.stderr, flush=True)
    sug = suggest(rows)
    for r in rows:
        if "per_op" in r:
            acts = sum(sug[op]["measured"] * d["out_bytes"] for op, d in r["per_op"].items())
            r["tuned_estimate_total"] = int(acts + r["unattributed_saved_bytes"]
                                            + 4 * r["param_bytes"])
    out = {"date": "2026-11-24", "machine": machine_info(), "device": args.device,
           "batch": args.batch, "tolerance": TOLERANCE, "results": rows,
           "suggested_saved_factors": sug}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    report(out)
    print(f"\nwrote {args.json}")


def measured_total(r: dict) -> int:
    """The hook-based total: saved activations + weights, grads and Adam's moments."""
    return r["measured_hook_total"]


def peak_total(r: dict) -> tuple[str, int | None]:
    """The measured peak of the step: RSS-based on CPU, max_memory_allocated on CUDA."""
    if "cuda_peak" in r:
        return "CUDA peak", r["cuda_peak"]
    return "RSS total", r.get("measured_rss_total")


def suggest(rows: list[dict]) -> dict:
    """Per op type, pooled over all specs: saved bytes / output bytes."""
    pooled: dict[str, dict] = {}
    for r in rows:
        for op, d in r.get("per_op", {}).items():
            p = pooled.setdefault(op, {"current": d["factor"], "nodes": 0, "out_bytes": 0,
                                       "saved_bytes": 0, "per_spec": {}})
            p["nodes"] += d["nodes"]
            p["out_bytes"] += d["out_bytes"]
            p["saved_bytes"] += d["saved_bytes"]
            p["per_spec"][r["label"]] = round(d["saved_bytes"] / d["out_bytes"], 3)
    for p in pooled.values():
        p["measured"] = round(p["saved_bytes"] / p["out_bytes"], 2) if p["out_bytes"] else 0
    return pooled


def _table(rows: list[tuple[str, ...]]) -> None:
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(s.ljust(w[0]) if j == 0 else s.rjust(w[j]) for j, s in enumerate(row)))
        if i == 0:
            print("  ".join("-" * x for x in w))


def report(out: dict) -> None:
    print(f"Training-memory estimate vs one Adam step, batch {out['batch']}, "
          f"{out['device']}, torch {out['machine']['torch']} (MiB)")
    ok = [r for r in out["results"] if "error" not in r]
    peak_name = peak_total(ok[0])[0] if ok else "peak"
    rows = [("spec", "params", "est acts", "est total", "saved acts", "hook total",
             "est/hook", peak_name, "est/peak")]
    for r in out["results"]:
        if "error" in r:
            print(f"{r['label']}: error: {r['error']}")
            continue
        e = r["estimate"]
        peak = peak_total(r)[1]
        rows.append((r["label"], f"{r['params']:,}", mib(e["activations"]), mib(e["total"]),
                     mib(r["saved_activation_bytes"]), mib(measured_total(r)),
                     f"{e['total'] / measured_total(r):.2f}", mib(peak) if peak else "-",
                     f"{e['total'] / peak:.2f}" if peak else "-"))
    if not ok:
        print("\nno spec could be measured")
        return
    _table(rows)
    off = [r for r in ok if abs(r["estimate"]["total"] / measured_total(r) - 1)
           > out["tolerance"]]
    if not off:
        print(f"\nall estimates within {out['tolerance']:.0%} of the hook-measured total")
    else:
        print(f"\n{len(off)} estimate(s) off by more than {out['tolerance']:.0%} of the "
              "hook-measured total")
    print("\nmeasured `saved` factors per op (saved bytes / output bytes; a storage saved "
          "by several ops is split among them; 'pooled' = over all specs):")
    sug = out["suggested_saved_factors"]
    labels = [r["label"] for r in ok]
    rows = [("op", "nodes", "current", "pooled", *labels)]
    for op in sorted(sug, key=lambda o: -sug[o]["saved_bytes"]):
        p = sug[op]
        rows.append((op, str(p["nodes"]), f"{p['current']:g}", f"{p['measured']:.2f}",
                     *[f"{p['per_spec'][lb]:.2f}" if lb in p["per_spec"] else "-"
                       for lb in labels]))
    _table(rows)
    print("\nwith the pooled factors the estimate becomes:")
    for r in ok:
        t = r["tuned_estimate_total"]
        name, peak = peak_total(r)
        print(f"  {r['label']}: {mib(t)} MiB, est/hook {t / measured_total(r):.2f}"
              + (f", est/{name} {t / peak:.2f}" if peak else ""))
    for r in ok:
        if r.get("unattributed_saved_bytes"):
            print(f"{r['label']}: {mib(r['unattributed_saved_bytes'])} MiB saved outside "
                  "op modules (inline ops)")


if __name__ == "__main__":
    main()
