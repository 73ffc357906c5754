"""Front-end latency: `nasdsl check` and `nasdsl fmt` on every shipped spec.

Measures (1) the whole command as a user runs it (process start, imports, work) and
(2) the in-process pipeline per spec, median of N runs. Usage:
    .venv/bin/python bench/frontend_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.nas")) + sorted((ROOT / "specs/genotypes").glob("*.nas"))


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from nasdsl.api import compile_spec, read_unit, summarize
    from nasdsl.diagnostics import DiagnosticSink
    from nasdsl.syntax.fmt import format_unit

    rows = []
    for spec in SPECS:
        check = median_time(lambda: summarize(compile_spec(str(spec))), args.repeats)
        fmt = median_time(lambda: format_unit(read_unit(str(spec), DiagnosticSink())),
                          args.repeats)
        cmd = [sys.executable, "-m", "nasdsl", "check", "-q", str(spec)]
        proc = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True),
                           args.repeats)
        rows.append({"spec": spec.name, "check_s": check, "fmt_s": fmt,
                     "check_command_s": proc})
        print(f"{spec.name:<22} check {check * 1e3:7.1f} ms   fmt {fmt * 1e3:6.1f} ms   "
              f"`nasdsl check` process {proc * 1e3:7.1f} ms")
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontend.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
