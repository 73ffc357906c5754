#!/usr/bin/env bash
# The test command: sets up .venv when missing, then runs the default suite
# (slow and GPU tests are deselected/skipped; run them with -m slow or -m gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import nasdsl, torch, onnxruntime, hypothesis" 2>/dev/null; then
  scripts/setup.sh
fi
exec .venv/bin/python -m pytest -q "$@"
