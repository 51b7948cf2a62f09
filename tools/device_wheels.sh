#!/bin/bash
# Run HERE (a machine that reaches PyPI), before a visit to the device machine: downloads into .whl/ the wheels the
# device lacks. Its image holds Python 3.12 with CUDA builds of torch and JAX, NumPy, h5py, huggingface_hub,
# absl-py, rich, ml-dtypes, packaging and Pillow, but not Keras or two of Keras' needs (namex, optree), and no
# TensorFlow (its GPU wheel is larger than the 64 MiB a visit may carry), so the device runs torch and JAX only.
# .whl/ is git-ignored through .git/info/exclude; name it in the run's `carry`, and source tools/device_env.sh
# there first:
#
#     bash tools/device_wheels.sh                     # here, once
#     run(command='. tools/device_env.sh && bash tools/device_visit.sh "$OUT"', carry=[".whl"], timeout_s=590)
#
# PYVER (default 3.12) and KERAS (default 3.15.1, the version CI tests) override the targets.
set -eu
PYVER=${PYVER:-3.12}
KERAS=${KERAS:-3.15.1}
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info && echo '/.whl/' >> .git/info/exclude; }
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl "keras==$KERAS" "namex==0.1.0" "optree==0.20.0"
ls -la .whl
du -sh .whl
