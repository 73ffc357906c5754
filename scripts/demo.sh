#!/usr/bin/env bash
# The main job on built-in data, end to end: set up .venv, then search the NAS-Unet space
# on the built-in MNI brain-tissue task (real MRI, nothing downloaded), derive and check
# the genotype, compile it (PyTorch + verified ONNX), train it, export it with its
# preprocessing, segment held-back cases with PyTorch and ONNX Runtime and print the
# table. About 2 minutes on an idle 2-core CPU plus the first setup (longer on a loaded
# one); a second run
# reuses finished stages (a changed spec, dataset or --engine reruns what it affects).
#   scripts/demo.sh                 # quick budgets
#   scripts/demo.sh --full          # the spec's search settings, full training (GPU)
#   scripts/demo.sh --time-budget 30m  # a longer run: 30% search, 50% training
#   OUT=runs/x scripts/demo.sh --engine pc_darts
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import nasdsl, torch, onnxruntime, nilearn, monai" 2>/dev/null; then
  scripts/setup.sh
fi
OUT=${OUT:-runs/demo}
exec .venv/bin/nasdsl run specs/nas_unet.nas --out "$OUT" "$@"
