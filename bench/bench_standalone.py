"""Emitted NAS-Unet (NAS_UNET_V2) vs a hand-written PyTorch one, and ONNX Runtime vs eager.

One run measures:
  (a) training-step time, forward + backward (optimizer step excluded for both), of the
      module nasdsl emits for specs/genotypes/nas_unet_v2.nas vs bench/handwritten_nas_unet.py;
      repetitions rotate between the models after a warm-up, and the median is reported
      with the ratio emitted / hand-written and the paired per-round ratio (95% bootstrap
      interval). A second copy of the hand-written model runs in the same rotation as an
      A/A control: its ratio to the first copy shows the noise floor of the machine; the
      flat form of the emitted module (`nasdsl compile --flat`) runs in it too, so the
      outlined (default) form is also compared with the flat one;
  (b) training memory: on CPU the bytes autograd saves for backward (a saved-tensor hook
      summing unique storages, parameters excluded) and the RSS high-water delta of one
      step, measured in a fresh subprocess per model; on CUDA max_memory_allocated;
  (c) inference latency at batch 1: ONNX Runtime (CPUExecutionProvider, model exported
      with nasdsl.backends.onnx_export.export) vs PyTorch eager (no_grad), interleaved.

Usage (from the repository root):
    .venv/bin/python bench/bench_standalone.py [--size 128] [--batch 2] [--repeats 40]
        [--device auto|cpu|cuda] [--threads N]
Writes build/bench/standalone.json (and the emitted module to build/bench/nas_unet_v2.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (BUILD, ROOT, SavedTensorMeter, busy_warning,  # noqa: E402
                     compile_emitted, interleaved, load_module, machine_info, mib, n_params,
                     param_bytes, paired_ratio, rss_peak_delta, summary, transfer_weights)

import torch  # noqa: E402

SPEC = "specs/genotypes/nas_unet_v2.nas"
EMITTED_PY = BUILD / "nas_unet_v2.py"
FLAT_PY = BUILD / "nas_unet_v2_flat.py"


def build(which: str, dims: int = 2) -> torch.nn.Module:
    if which == "emitted":
        return load_module(EMITTED_PY).Model()
    if which == "flat":
        return load_module(FLAT_PY, "nas_unet_v2_flat").Model()
    from handwritten_nas_unet import NasUnetV2

    return NasUnetV2(in_channels=1, classes=2, c=32, depth=5, dims=dims)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def module_pairs(depth: int = 5) -> list[tuple[str, str | tuple[str, ...]]]:
    """(hand-written submodule, emitted submodule) for every parameterised op.

    Emitted module paths follow the spec (specs/nas_unet.nas): enc[0], enc[1] the stems,
    enc[i+2] DownSC i, dec[i] UpSC i, y the head; inside a cell p0/p1 are the preprocesses
    and n_k.<input> the edge of node k from that input (a preprocess's layers sit in
    p0.out in some emitter versions, directly in p0 in others).
    """
    pairs = [("stem0.0", "enc_0.conv"), ("stem0.1", "enc_0.norm"),
             ("stem1.0", "enc_1.conv"), ("stem1.1", "enc_1.norm"), ("head", "y.conv")]
    cells = [(f"down.{i}", f"enc_{i + 2}") for i in range(depth)]
    cells += [(f"up.{i}", f"dec_{i}") for i in range(depth + 1)]
    for hand, emitted in cells:
        for pre, p in (("pre0", "p0"), ("pre1", "p1")):
            pairs += [(f"{hand}.{pre}.1", (f"{emitted}.{p}.conv", f"{emitted}.{p}.out.conv")),
                      (f"{hand}.{pre}.2", (f"{emitted}.{p}.norm", f"{emitted}.{p}.out.norm"))]
    down_edges = {"n0_s1": "n_0.p1", "n0_s0": "n_0.p0", "n1_s1": "n_1.p1",
                  "n1_s0": "n_1.p0", "n2_s1": "n_2.p1", "n2_s0": "n_2.p0"}
    up_edges = {"n0_s1": "n_0.p1", "n1_s1": "n_1.p1", "n2_n1": "n_2.n_1", "n2_s1": "n_2.p1"}
    for hand, emitted in cells:
        edges = down_edges if hand.startswith("down") else up_edges
        pairs += [(f"{hand}.{a}", f"{emitted}.{b}") for a, b in edges.items()]
    return pairs


def train_step(model: torch.nn.Module, x: torch.Tensor):
    def step():
        out = model(x)
        out.float().mean().backward()
    return step


def zero(model: torch.nn.Module) -> None:
    model.zero_grad(set_to_none=True)


# --------------------------------------------------------------------------- memory


def saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    zero(model)
    with SavedTensorMeter(exclude=list(model.parameters()) + [x]) as meter:
        out = model(x)
    out.float().mean().backward()
    zero(model)
    return meter.total


def rss_child(which: str, size: int, batch: int, threads: int) -> dict:
    """Runs in a fresh process: RSS high-water delta of one fwd+bwd step (after warm-up)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(which).train()
    x = torch.randn(batch, 1, size, size)
    step = train_step(model, x)
    step()  # warm-up: one-time allocations (oneDNN primitives, thread pools)
    zero(model)
    with rss_peak_delta() as rss:
        step()
    return rss


def rss_in_subprocess(which: str, args) -> dict:
    env = dict(os.environ)
    # Fixed mmap threshold: freed blocks >= 64 KiB go back to the OS at once, so the RSS
    # high-water mark of the measured step is not hidden by memory glibc kept cached.
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-rss", which,
           "--size", str(args.size), "--batch", str(args.batch), "--threads",
           str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def cuda_memory(model: torch.nn.Module, x: torch.Tensor) -> dict:
    step = train_step(model, x)
    step()
    zero(model)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    zero(model)
    return {"baseline": base, "peak": peak, "delta": peak - base}


# --------------------------------------------------------------------------- sections


def section_train(models: dict, args, device: str) -> dict:
    x = torch.randn(args.batch, 1, args.size, args.size, device=device)
    for m in models.values():
        m.to(device).train()
    fns = {k: train_step(m, x) for k, m in models.items()}
    t0 = time.perf_counter()
    times = interleaved(fns, args.repeats, args.warmup, device,
                        prepare=lambda k: zero(models[k]))
    log(f"  {device} timing: {time.perf_counter() - t0:.0f} s")
    res = {k: summary(v) for k, v in times.items()}
    res["ratio_emitted_over_handwritten"] = (res["emitted"]["median_s"]
                                             / res["handwritten"]["median_s"])
    res["paired_ratio"] = paired_ratio(times["emitted"], times["handwritten"])
    if "flat" in times:
        res["ratio_emitted_over_flat"] = res["emitted"]["median_s"] / res["flat"]["median_s"]
        res["flat_paired_ratio"] = paired_ratio(times["emitted"], times["flat"])
    if "control" in times:
        res["control_ratio"] = res["control"]["median_s"] / res["handwritten"]["median_s"]
        res["control_paired_ratio"] = paired_ratio(times["control"], times["handwritten"])
    res["times_s"] = times
    mem = {}
    if device == "cpu":
        for k, m in models.items():
            if k == "control":
                continue
            mem[k] = {"saved_activation_bytes": saved_bytes(m, x),
                      "param_bytes": param_bytes(m),
                      "rss": rss_in_subprocess(k, args)}
    else:
        for k, m in models.items():
            if k != "control":
                mem[k] = cuda_memory(m, x)
    res["memory"] = mem
    for m in models.values():
        zero(m)
        m.to("cpu")
    return res


def section_onnx(emitted: torch.nn.Module, compiled, args) -> dict:
    import onnxruntime as ort

    from nasdsl.backends.onnx_export import export

    emitted = emitted.to("cpu").eval()
    x = torch.randn(1, 1, args.size, args.size)
    path = BUILD / "nas_unet_v2.onnx"
    names = [name for name, _ in compiled.graph.outputs] if compiled is not None else ["y"]
    export(emitted, x, path, names)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    # no spin-waiting after a run: ORT's idle threads would steal the cores from the
    # interleaved eager runs
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    with torch.no_grad():
        expected = emitted(x)
    got = sess.run(None, feed)[0]
    diff = float((expected - torch.from_numpy(got)).abs().max())

    def eager():
        with torch.no_grad():
            emitted(x)

    times = interleaved({"onnxruntime": lambda: sess.run(None, feed), "eager": eager},
                        args.repeats, args.warmup, "cpu")
    res = {k: summary(v) for k, v in times.items()}
    res["ratio_ort_over_eager"] = res["onnxruntime"]["median_s"] / res["eager"]["median_s"]
    res["max_abs_diff"] = diff
    res["onnx_file_bytes"] = path.stat().st_size
    return res


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=128, help="input H = W (default 128)")
    ap.add_argument("--batch", type=int, default=2, help="training batch (default 2)")
    ap.add_argument("--repeats", type=int, default=40, help="timed repetitions per model")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions per model")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto = CPU, plus CUDA when available")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch and ONNX Runtime intra-op threads (default: all cores)")
    ap.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime section")
    ap.add_argument("--no-control", action="store_true",
                    help="skip the A/A control (a second hand-written copy)")
    ap.add_argument("--json", type=Path, default=BUILD / "standalone.json")
    ap.add_argument("--spec", default=SPEC, help=f"genotype to compile (default {SPEC})")
    ap.add_argument("--emitted", type=Path,
                    help="use this already emitted module instead of compiling --spec")
    ap.add_argument("--no-flat", action="store_true",
                    help="skip the flat emitted form (`nasdsl compile --flat`)")
    ap.add_argument("--child-rss", choices=("emitted", "handwritten", "flat"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child_rss:
        print(json.dumps(rss_child(args.child_rss, args.size, args.batch, args.threads)))
        return

    torch.set_num_threads(args.threads)
    warning = busy_warning(args.threads)
    if warning:
        log(warning)

    if args.emitted:
        compiled = None
        if args.emitted.resolve() != EMITTED_PY.resolve():
            EMITTED_PY.parent.mkdir(parents=True, exist_ok=True)
            EMITTED_PY.write_text(args.emitted.read_text())
    else:
        from nasdsl.analysis.resources import param_bounds

        compiled, _ = compile_emitted(args.spec, out=EMITTED_PY)
        if not args.no_flat:
            compile_emitted(args.spec, out=FLAT_PY, flat=True)
    torch.manual_seed(0)
    models = {"emitted": build("emitted"), "handwritten": build("handwritten")}
    if compiled is not None and not args.no_flat:
        models["flat"] = build("flat")
        models["flat"].load_state_dict(models["emitted"].state_dict())  # same keys
    counts = {k: n_params(m) for k, m in models.items()}
    counts["static"] = (param_bounds(compiled.graph).lo if compiled is not None
                        else load_module(EMITTED_PY).NUM_PARAMETERS)
    if not args.no_control:
        models["control"] = build("handwritten")
        models["control"].load_state_dict(models["handwritten"].state_dict())

    # Same weights in both (paired by spec path), then compare outputs.
    probe = torch.randn(2, 1, args.size, args.size)
    problems = transfer_weights(models["handwritten"], models["emitted"], module_pairs())
    equivalence: dict = {"weights_transferred": not problems, "problems": problems[:5]}
    if not problems:
        with torch.no_grad():
            a, b = models["emitted"](probe), models["handwritten"](probe)
        equivalence["max_abs_diff"] = float((a - b).abs().max())
        equivalence["output_shape"] = list(a.shape)

    devices = []
    if args.device in ("auto", "cpu"):
        devices.append("cpu")
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices.append("cuda")

    results = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": machine_info(),
               "config": {"spec": args.spec, "size": args.size, "batch": args.batch,
                          "repeats": args.repeats, "warmup": args.warmup,
                          "threads": args.threads, "optimizer_step": "excluded"},
               "parameters": counts, "equivalence": equivalence, "train": {}}
    for dev in devices:
        t0 = time.perf_counter()
        results["train"][dev] = section_train(models, args, dev)
        log(f"{dev} training section: {time.perf_counter() - t0:.0f} s")
    if not args.no_onnx:
        t0 = time.perf_counter()
        results["onnx"] = section_onnx(models["emitted"], compiled, args)
        log(f"ONNX section: {time.perf_counter() - t0:.0f} s")

    results["machine"]["loadavg_1min_at_end"] = os.getloadavg()[0]
    results["warning"] = warning
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    print(f"\nwrote {args.json}")


def report(r: dict) -> None:
    c, p = r["config"], r["parameters"]
    print(f"NAS-Unet V2, {c['batch']}x1x{c['size']}x{c['size']}, {c['threads']} threads, "
          f"median of {c['repeats']} (warm-up {c['warmup']}); torch {r['machine']['torch']}")
    print(f"parameters: emitted {p['emitted']:,}  hand-written {p['handwritten']:,}  "
          f"static {p['static']:,}")
    eq = r["equivalence"]
    if eq.get("weights_transferred"):
        print(f"same weights -> outputs differ by at most {eq['max_abs_diff']:.2e}")
    else:
        print("weights could not be paired, no numerical equivalence check: "
              + "; ".join(eq["problems"]))
    rows = [("metric", "emitted", "hand-written", "ratio")]
    for dev, t in r["train"].items():
        e, h = t["emitted"], t["handwritten"]
        pr = t["paired_ratio"]
        rows.append((f"{dev} fwd+bwd median (ms)", f"{e['median_s'] * 1e3:.1f}",
                     f"{h['median_s'] * 1e3:.1f}", f"{t['ratio_emitted_over_handwritten']:.3f}"))
        rows.append(("  paired ratio, median (95% CI)", "", "",
                     f"{pr['median']:.3f} ({pr['ci95_lo']:.3f}-{pr['ci95_hi']:.3f})"))
        if "flat_paired_ratio" in t:
            fp = t["flat_paired_ratio"]
            rows.append(("  outlined / flat emitted form", f"{e['median_s'] * 1e3:.1f}",
                         f"{t['flat']['median_s'] * 1e3:.1f}",
                         f"{fp['median']:.3f} ({fp['ci95_lo']:.3f}-{fp['ci95_hi']:.3f})"))
        if "control_ratio" in t:
            cp = t["control_paired_ratio"]
            rows.append(("  A/A control: hand-written copy", f"{t['control']['median_s'] * 1e3:.1f}",
                         f"{h['median_s'] * 1e3:.1f}",
                         f"{cp['median']:.3f} ({cp['ci95_lo']:.3f}-{cp['ci95_hi']:.3f})"))
        rows.append((f"{dev} fwd+bwd min (ms)", f"{e['min_s'] * 1e3:.1f}",
                     f"{h['min_s'] * 1e3:.1f}", f"{e['min_s'] / h['min_s']:.3f}"))
        me, mh = t["memory"]["emitted"], t["memory"]["handwritten"]
        if dev == "cpu":
            rows.append(("cpu saved activations (MiB)", mib(me["saved_activation_bytes"]),
                         mib(mh["saved_activation_bytes"]),
                         f"{me['saved_activation_bytes'] / mh['saved_activation_bytes']:.3f}"))
            rows.append(("cpu RSS peak delta, 1 step (MiB)", mib(me["rss"]["delta"]),
                         mib(mh["rss"]["delta"]),
                         f"{me['rss']['delta'] / mh['rss']['delta']:.3f}"))
            if "flat" in t["memory"]:
                mf = t["memory"]["flat"]
                rows.append(("  outlined / flat: saved activations (MiB)",
                             mib(me["saved_activation_bytes"]), mib(mf["saved_activation_bytes"]),
                             f"{me['saved_activation_bytes'] / mf['saved_activation_bytes']:.3f}"))
                rows.append(("  outlined / flat: RSS peak delta (MiB)", mib(me["rss"]["delta"]),
                             mib(mf["rss"]["delta"]),
                             f"{me['rss']['delta'] / mf['rss']['delta']:.3f}"))
        else:
            rows.append((f"{dev} max_memory_allocated (MiB)", mib(me["peak"]), mib(mh["peak"]),
                         f"{me['peak'] / mh['peak']:.3f}"))
            rows.append((f"{dev} peak - weights (MiB)", mib(me["delta"]), mib(mh["delta"]),
                         f"{me['delta'] / mh['delta']:.3f}"))
    if "onnx" in r:
        o = r["onnx"]
        rows.append(("", "ONNX Runtime", "eager", "ORT/eager"))
        rows.append((f"cpu inference b=1 median (ms)", f"{o['onnxruntime']['median_s'] * 1e3:.2f}",
                     f"{o['eager']['median_s'] * 1e3:.2f}", f"{o['ratio_ort_over_eager']:.3f}"))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    for i, row in enumerate(rows):
        print("  ".join(s.ljust(w[0]) if j == 0 else s.rjust(w[j]) for j, s in enumerate(row)))
        if i == 0:
            print("  ".join("-" * x for x in w))
    if "onnx" in r:
        print(f"ONNX Runtime vs PyTorch max abs diff {r['onnx']['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
