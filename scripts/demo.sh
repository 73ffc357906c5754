#!/usr/bin/env bash
# The main job on built-in data, end to end: set up .venv, then search the NAS-Unet space
# on the built-in MNI brain-tissue task (real MRI, nothing downloaded), derive and check
# the genotype, compile it (PyTorch + verified ONNX), train it, export it with its
# preprocessing, segment held-back cases with PyTorch and ONNX Runtime and print the
# table. ~10 minutes on a 2-core CPU; a second run reuses finished stages.
#   scripts/demo.sh                 # quick budgets
#   scripts/demo.sh --full          # the spec's search settings, full training (GPU)
#   OUT=runs/x scripts/demo.sh --engine pc_darts
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import nasdsl, torch, onnxruntime, nilearn, monai" 2>/dev/null; then
  scripts/setup.sh
fi
OUT=${OUT:-runs/demo}
exec .venv/bin/nasdsl run specs/nas_unet.nas --out "$OUT" "$@"
