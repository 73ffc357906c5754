#!/usr/bin/env bash
# The main job on built-in data: set up, check every shipped spec, compile the NAS-Unet
# genotype at the PROMISE12 configuration to PyTorch source and to a verified ONNX graph.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import nasdsl, torch, onnxruntime" 2>/dev/null; then
  scripts/setup.sh
fi
NAS=.venv/bin/nasdsl
OUT=${OUT:-build/demo}
mkdir -p "$OUT"
$NAS check specs/*.nas specs/genotypes/*.nas --quiet
$NAS check specs/genotypes/nas_unet_v2.nas --input-size 256x256 --batch 4
if $NAS compile --help >/dev/null 2>&1; then
  $NAS compile specs/genotypes/nas_unet_v2.nas --target torch -o "$OUT/nas_unet_v2.py"
  $NAS compile specs/genotypes/nas_unet_v2.nas --target onnx -o "$OUT/nas_unet_v2.onnx" \
    --input-size 256x256 --verify
  echo "demo outputs in $OUT/"
fi
