#!/usr/bin/env bash
# Rewrite the golden emitted modules in tests/golden/ after an intended emitter change;
# review `git diff tests/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/test.sh tests/test_standalone.py -k golden --update-golden
