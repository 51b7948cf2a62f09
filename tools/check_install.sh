#!/usr/bin/env bash
# A new user's install, checked as CI runs it: the wheel built from this checkout, installed WITH its dependencies
# into a fresh virtual environment holding one backend, then, from another folder and offline (no Hub access), the
# README's first command and first Python block.
#
#     bash tools/check_install.sh [tensorflow-cpu|jax|torch]     # default tensorflow-cpu
set -euo pipefail
cd "$(dirname "$0")/.."
backend_extra=${1:-tensorflow-cpu}
case "$backend_extra" in tensorflow-cpu) backend=tensorflow ;; *) backend=$backend_extra ;; esac
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive --format=tar HEAD -- . ':!data' | tar -x -C "$work"  # what is committed, without the shape bank
"$python" -m pip wheel --no-deps -q -w "$work/dist" "$work" 2>&1 | { grep -v "^WARNING: Location" || true; }
wheel=$(ls "$work"/dist/keras_patchnet-*.whl)
"$python" -m venv "$work/venv"
if [ "$backend" = torch ]; then "$work/venv/bin/pip" install -q "torch==2.13.0"; fi  # the CPU build on this disk
"$work/venv/bin/pip" install -q "${wheel}[${backend_extra}]" 2>&1 | { grep -v "^WARNING: Location" || true; }
mkdir "$work/elsewhere"
cd "$work/elsewhere"
export HF_HUB_OFFLINE=1 HF_HOME="$work/hf" KERAS_BACKEND="$backend"
unset TF_CPP_MIN_LOG_LEVEL
"$work/venv/bin/keras-patchnet" predict --sample --out out 2> stderr.txt
if [ -s stderr.txt ]; then echo "predict --sample printed to stderr:"; cat stderr.txt; exit 1; fi
for f in cloth_depth.npy cloth_depth.png cloth_normals.npy cloth_normals.png cloth.ply cloth_figure.png predict.json; do
  [ -s "out/$f" ] || { echo "missing: out/$f"; exit 1; }
done
"$python" - "$OLDPWD/README.md" > quickstart.py <<'PY'
import re, sys
print(re.findall(r"```python\n(.*?)```", open(sys.argv[1], encoding="utf-8").read(), flags=re.S)[0])
PY
"$work/venv/bin/python" quickstart.py | tee quickstart.txt
grep -q "mm of relief" quickstart.txt
echo "install check passed: wheel + [${backend_extra}] in a fresh venv, predict --sample and the README quickstart, offline"
