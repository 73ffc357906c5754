#!/usr/bin/env bash
# The wheel test (issue #15 row 10): build nasdsl's wheel, install it NON-editable in a
# clean venv, and run the CLI from a folder outside the checkout, so that a package left
# out of the wheel (as nasdsl.engines once was) fails here and not on a user's machine.
#
# The clean venv has no system site-packages and no nasdsl but the wheel's; the heavy
# third-party dependencies (torch, onnxruntime, ...) are reused from .venv through a .pth
# line naming their site-packages folder (a path line: .venv's own .pth files, among them
# the editable install's finder, are not run), so the check takes seconds, not a download.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY=.venv/bin/python
WORK="$(mktemp -d "${TMPDIR:-/tmp}/nasdsl-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "wheel_check: building the wheel"
"$PY" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$ROOT"
rm -rf "$ROOT/build"   # setuptools' scratch folder in the checkout
WHEEL="$(ls "$WORK"/dist/nasdsl-*.whl)"

"$PY" -m venv "$WORK/venv"
DEPS="$("$PY" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"
SITE="$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$DEPS" > "$SITE/zz_nasdsl_deps.pth"
"$WORK/venv/bin/python" -m pip install --quiet --no-deps --no-index "$WHEEL"

mkdir "$WORK/elsewhere"
cd "$WORK/elsewhere"
NASDSL="$WORK/venv/bin/nasdsl"
# the nasdsl that runs is the wheel's, not the checkout's nor an editable one
"$WORK/venv/bin/python" - "$SITE" <<'PY'
import sys, os, nasdsl
site = os.path.realpath(sys.argv[1])
where = os.path.realpath(nasdsl.__file__)
assert where.startswith(site + os.sep), f"nasdsl imported from {where}, not the wheel in {site}"
print(f"wheel_check: nasdsl {nasdsl.__version__} from {where}")
PY
"$NASDSL" --version
"$NASDSL" check -q "$ROOT"/specs/*.nas "$ROOT"/specs/genotypes/*.nas
"$NASDSL" check -q "$ROOT/specs/nas_unet.nas" --engine darts
"$NASDSL" compile "$ROOT/specs/genotypes/nas_unet_v2.nas" --target onnx -o m.onnx \
  --input-size 64x64 -D C=4 --verify
"$NASDSL" compile "$ROOT/specs/genotypes/nas_unet_v2.nas" --target torch -o m.py \
  --input-size 64x64 -D C=4 --verify
"$NASDSL" show "$ROOT/specs/genotypes/nas_unet_v2.nas" -o g.svg
test -s m.onnx && test -s m.py && test -s g.svg
echo "wheel_check: ok"
