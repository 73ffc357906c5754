#!/usr/bin/env bash
# Create .venv and install nasdsl with its CPU backends and test tools.
# torch is pinned to the CPU wheel here (fast); GPU users: pip install -e '.[gpu]'.
# ray (for `nasdsl trials`) is included so its tests run: ~45 s of a fresh install on the
# 2-core VM (BENCHMARKS.md); without it those tests skip and `--workers 0` still works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[cpu,dev,ray]"
