#!/bin/bash
# The benchmark set on a GPU machine, in well under ten minutes: for every backend whose GPU build is
# installed, the stitch, the three models and the large-image benchmark, each under its own time limit (each
# writes its JSON after every size or model, so a step stopped by its limit keeps what it measured), then the
# tables as markdown (`OUT/tables.md`) labelled with the hardware.
#
#     bash benchmarks/gpu.sh [OUT]
#
# The machine needs Keras and the package importable (the script puts this checkout on PYTHONPATH). STEP_S scales
# the per-step time limits (default 1.0: 90 s for the stitch and the models, 80 s for large images, per backend).
#
# A backend that sees no GPU is skipped and named (its CPU figures are in docs/speed.md). Each step's output
# lands in OUT/<step>_<backend>.log and .json.
#
# A rehearsal on a machine without a GPU (every backend on its CPU, tiny sizes; checks the script, not the speed):
#
#     GPU_SH_REHEARSAL=1 bash benchmarks/gpu.sh out/rehearsal
set -u
OUT=${1:-out/gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python}
export TF_CPP_MIN_LOG_LEVEL=2 XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"  # the package, installed or not
STEP_S=${STEP_S:-1.0}
limit() { "$PY" -c "print(max(10, round($1 * $STEP_S)))"; }
start=$(date +%s)
REHEARSAL=${GPU_SH_REHEARSAL:-}
STITCH_SIZES="224 1024 2048 4096" LARGE_SIZES="224 1024 4096" MODEL_ARGS="--repeats 3"
if [ -n "$REHEARSAL" ]; then
    STITCH_SIZES="224" LARGE_SIZES="224" MODEL_ARGS="--repeats 1 --batch 2 --train-batch 2 --models baseline"
    echo "a rehearsal on $(nproc) CPU cores, no GPU: tiny sizes, not a measurement" > "$OUT/gpu.txt"
else
    (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi") > "$OUT/gpu.txt"
fi
echo "GPU: $(cat "$OUT/gpu.txt")"

gpu_seen() {  # does backend $1 see a GPU?
    KERAS_BACKEND=$1 timeout 60 "$PY" - <<'EOF'
import os, sys
b = os.environ["KERAS_BACKEND"]
if b == "tensorflow":
    import tensorflow as tf
    ok = bool(tf.config.list_physical_devices("GPU"))
elif b == "torch":
    import torch
    ok = torch.cuda.is_available()
else:
    import jax
    ok = any(d.platform == "gpu" for d in jax.devices())
sys.exit(0 if ok else 1)
EOF
}

backends=()
for b in tensorflow torch jax; do
    if [ -n "$REHEARSAL" ] || gpu_seen "$b"; then backends+=("$b"); else echo "$b: no GPU visible, skipped"; fi
done
for b in "${backends[@]}"; do
    export KERAS_BACKEND=$b
    timeout "$(limit 90)" "$PY" benchmarks/bench_stitch.py --sizes $STITCH_SIZES --repeats 3 --json "$OUT/stitch_$b.json" \
        > "$OUT/stitch_$b.log" 2>&1 || echo "$b stitch: exit $?"
    timeout "$(limit 90)" "$PY" benchmarks/bench_models.py $MODEL_ARGS --json "$OUT/models_$b.json" \
        > "$OUT/models_$b.log" 2>&1 || echo "$b models: exit $?"
    timeout "$(limit 80)" "$PY" benchmarks/bench_large.py --sizes $LARGE_SIZES --json "$OUT/large_$b.json" \
        > "$OUT/large_$b.log" 2>&1 || echo "$b large: exit $?"
    echo "$b done at $(( $(date +%s) - start )) s"
done
"$PY" benchmarks/readme_tables.py --markdown "$OUT" --label "$(cat "$OUT/gpu.txt")" --backends "${backends[@]}" \
    > "$OUT/tables.md" && echo "tables: $OUT/tables.md"
