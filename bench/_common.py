"""Helpers shared by the benchmarks: building emitted modules, memory meters, timers.

Run the benchmarks from the repository root with the project's venv, e.g.
`.venv/bin/python bench/bench_standalone.py`; this module puts the repository root on
sys.path so that `nasdsl` imports without an install.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import platform
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402


# --------------------------------------------------------------------------- models


def compile_emitted(spec: str, overrides: dict[str, Any] | None = None,
                    input_size: tuple[int, ...] | None = None,
                    out: Path | None = None, flat: bool = False):
    """Compile a frozen spec with the Python API, write the .py, import it.

    Returns (compiled, module); `module.Model` is the emitted class. Equivalent to
    `nasdsl compile SPEC --target torch -o OUT [--flat]` (same emitter, `emit_torch`).
    """
    from nasdsl.api import compile_spec
    from nasdsl.backends.torch_src import emit_torch

    compiled = compile_spec(str(ROOT / spec), overrides or {}, input_size=input_size)
    source = emit_torch(compiled, flat=flat)
    if out is None:
        out = BUILD / (Path(spec).stem + ".py")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(source)
    return compiled, load_module(out)


def load_module(path: Path, name: str | None = None):
    name = name or f"bench_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def transfer_weights(src: torch.nn.Module, dst: torch.nn.Module,
                     pairs: list[tuple[str, str | tuple[str, ...]]]) -> list[str]:
    """Copy parameters module by module: pairs of (src submodule path, dst submodule path).

    A dst path may be a tuple of alternatives (emitter versions name containers
    differently); the first that exists is used.

    Within a pair the parameters are zipped in registration order and must match shape
    for shape. Returns the problems found (empty when every parameter of both models was
    copied exactly once); copies nothing if there is any.
    """
    problems: list[str] = []
    todo: list[tuple[torch.Tensor, torch.Tensor]] = []
    for a, b in pairs:
        if isinstance(b, tuple):
            b = next((c for c in b if _has_submodule(dst, c)), b[0])
        try:
            ma, mb = src.get_submodule(a), dst.get_submodule(b)
        except AttributeError as exc:
            problems.append(f"{a} -> {b}: {exc}")
            continue
        pa, pb = list(ma.parameters()), list(mb.parameters())
        if [x.shape for x in pa] != [y.shape for y in pb]:
            problems.append(f"{a} {[tuple(x.shape) for x in pa]} -> "
                            f"{b} {[tuple(y.shape) for y in pb]}")
            continue
        todo.extend(zip(pa, pb))
    for model, side in ((src, 0), (dst, 1)):
        used = {id(t[side]) for t in todo}
        missing = [n for n, q in model.named_parameters() if id(q) not in used]
        if missing and not problems:
            problems.append(f"{len(missing)} parameters not paired, e.g. {missing[0]}")
        if len(used) != len(todo):
            problems.append("a parameter is paired twice")
    if not problems:
        with torch.no_grad():
            for x, y in todo:
                y.copy_(x)
    return problems


def _has_submodule(model: torch.nn.Module, path: str) -> bool:
    try:
        model.get_submodule(path)
        return True
    except AttributeError:
        return False


# --------------------------------------------------------------------------- memory


def _storage_key(t: torch.Tensor) -> tuple[int, int]:
    try:
        st = t.untyped_storage()
        return st.data_ptr(), st.nbytes()
    except (RuntimeError, NotImplementedError):  # opaque tensors (mkldnn, ...)
        return id(t), t.numel() * t.element_size()


class SavedTensorMeter:
    """Sums the unique storages autograd saves for backward during a forward pass.

    Parameters (and anything passed in `exclude`) are not counted: the caller adds
    weights/grads/optimizer state separately. For per-op attribution the caller sets
    `owner` to the op running (forward hooks); a storage saved by several ops (a tensor
    that is one op's output and the next op's input) is split equally among them, so
    `by_owner` does not depend on execution order and sums to `total`.
    """

    def __init__(self, exclude: list[torch.Tensor] = ()):
        self.exclude = {_storage_key(t)[0] for t in exclude}
        self.seen: dict[int, int] = {}
        self.owners: dict[int, set] = {}
        self.owner: Any = None
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        key, nbytes = _storage_key(t)
        if key not in self.exclude and nbytes > 0:
            self.seen.setdefault(key, nbytes)
            self.owners.setdefault(key, set()).add(self.owner)
        return t

    @staticmethod
    def _unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    @property
    def by_owner(self) -> dict[Any, float]:
        out: dict[Any, float] = {}
        for key, owners in self.owners.items():
            share = self.seen[key] / len(owners)
            for o in owners:
                out[o] = out.get(o, 0.0) + share
        return out

    def __enter__(self) -> "SavedTensorMeter":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Current resident set size (/proc/self/statm; psutil if /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        import psutil  # type: ignore

        return psutil.Process().memory_info().rss


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """VmHWM since the last reset (falls back to getrusage's lifetime peak)."""
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        if m:
            return int(m.group(1)) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def rss_peak_delta() -> Iterator[dict[str, int]]:
    """Yields a dict filled on exit with baseline, peak and delta RSS bytes."""
    gc.collect()
    out: dict[str, int] = {}
    base = rss_bytes()
    ok = reset_peak_rss()
    yield out
    peak = peak_rss_bytes()
    out.update(baseline=base, peak=peak, delta=peak - base, resettable=int(ok))


# --------------------------------------------------------------------------- timing


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int,
                device: str = "cpu", prepare: Callable[[str], None] | None = None
                ) -> dict[str, list[float]]:
    """Time each fn `repeats` times; the order rotates every round (AB, BA, ... or
    ABC, BCA, CAB, ...) so that no function always runs first or after the same one."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            if prepare:
                prepare(n)
            fns[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            if prepare:
                prepare(n)
            gc.collect()
            times[n].append(timed(fns[n], device))
    return times


def summary(ts: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
    return {"median_s": statistics.median(ts), "min_s": min(ts), "q1_s": qs[0],
            "q3_s": qs[2], "n": len(ts)}


def paired_ratio(num: list[float], den: list[float], resamples: int = 2000,
                 seed: int = 0) -> dict[str, float]:
    """Median of the per-round ratios num[r] / den[r] and its 95% bootstrap interval.

    The two runs of a round are adjacent in time, so pairing them cancels slow drift of
    the machine (clock, neighbours), which dominates the noise on a small VM.
    """
    import random

    rs = [a / b for a, b in zip(num, den)]
    rng = random.Random(seed)
    boot = sorted(statistics.median(rng.choices(rs, k=len(rs))) for _ in range(resamples))
    return {"median": statistics.median(rs), "ci95_lo": boot[int(0.025 * resamples)],
            "ci95_hi": boot[int(0.975 * resamples) - 1]}


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_1min_at_start": _loadavg()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def busy_warning(threads: int) -> str | None:
    """A warning when other processes already load the CPUs (timings will be noisy)."""
    load = _loadavg()
    cpus = os.cpu_count() or 1
    if load is not None and load > 1.0 and load + threads > cpus + 0.5:
        return (f"warning: 1-minute load average is {load:.2f} on {cpus} CPUs before the "
                f"run; other processes compete with the {threads} benchmark threads")
    return None


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"
