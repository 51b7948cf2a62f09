#!/bin/bash
# One prepared visit to the device machine (one command of at most 10 minutes; 15 minutes of device time a
# session, the machine's start included): first the lighting study's context variant trained on the GPU (issue #13,
# the lever the CPU runs could not test at scale), then the benchmark set (issue #16 item 6, benchmarks/gpu.sh).
# Everything is written under a work folder and packed into OUT, which brings back at most 8 files of 16 MiB:
#
#     bash tools/device_wheels.sh        # here, once (Keras as wheels: the device has none)
#     run(command='. tools/device_env.sh && bash tools/device_visit.sh "$OUT"', carry=[".whl"], timeout_s=600)
#
# OUT then holds curve.csv (the validation ratio to the flat plane per epoch), weights.npz (the network's weights,
# `context_network(64, WIDTH).set_weights(list(np.load(f).values()))`, without the optimiser's state), tables.md
# (the benchmark tables), visit.tgz (every log and JSON) and visit.log. Choices are read on the validation split.
#
# A rehearsal here, on the CPU with tiny sizes (checks the script, measures nothing):
#
#     DEVICE_VISIT_REHEARSAL=1 bash tools/device_visit.sh out/visit
set -u
OUT=${1:?usage: device_visit.sh OUT}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp/visit}
rm -rf "$WORK" && mkdir -p "$WORK"
exec > >(tee "$OUT/visit.log") 2>&1
start=$(date +%s)
export TF_CPP_MIN_LOG_LEVEL=2 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
TRAIN_BACKEND=${TRAIN_BACKEND:-jax}
WIDTH=${WIDTH:-12}
if [ -n "${DEVICE_VISIT_REHEARSAL:-}" ]; then
    TRAIN_MINUTES=0.1 TRAIN_ARGS="--steps 2 --batch-size 2 --val-images 2 --workers 2 --processes"
    export GPU_SH_REHEARSAL=1 STEP_S=${STEP_S:-1.0}
    WIDTH=${WIDTH_REHEARSAL:-4}
else
    TRAIN_MINUTES=${TRAIN_MINUTES:-3.5} TRAIN_ARGS="--steps 200 --batch-size 32 --workers 12 --processes"
fi
echo "visit: $(date -u) on $(nproc) cores; train backend $TRAIN_BACKEND, width $WIDTH"
(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU") | sed 's/^/visit: /'

# The learning rate falls from 1e-3 to 0 over the run (--decay: session 12's continuations of the rig-known network
# went from 0.91 / 0.77 to 0.77 / 0.70 of the plane with it). Renders in worker processes (threads share the GIL):
# forked from a process that holds JAX, which warns of a possible deadlock; a time limit keeps a hang from eating the benchmarks' share (it keeps the last epoch's weights).
limit=$("$PY" -c "print(round($TRAIN_MINUTES * 60 + 60))")
KERAS_BACKEND=$TRAIN_BACKEND timeout "$limit" "$PY" tools/lighting_study.py --variant context --name context-gpu \
    --width "$WIDTH" --minutes "$TRAIN_MINUTES" --decay --out "$WORK/study" $TRAIN_ARGS || echo "visit: training exit $?"
run="$WORK/study/context-gpu"
cp "$run/curve.csv" "$OUT/curve.csv" 2>/dev/null || echo "visit: no curve"
KERAS_BACKEND=$TRAIN_BACKEND "$PY" - "$run/model.weights.h5" "$OUT/weights.npz" "$WIDTH" <<'PYEOF' || echo "visit: no weights"
import sys

import numpy as np

sys.path.insert(0, "tools")
from lighting_study import context_network

net = context_network(64, int(sys.argv[3]))
net.load_weights(sys.argv[1])
np.savez_compressed(sys.argv[2], *net.get_weights())
print("visit: weights", sys.argv[2], sum(w.size for w in net.get_weights()), "parameters")
PYEOF
echo "visit: training done at $(( $(date +%s) - start )) s"

STEP_S=${STEP_S:-0.4} PYTHON="$PY" bash benchmarks/gpu.sh "$WORK/bench" || echo "visit: benchmarks exit $?"
cp "$WORK/bench/tables.md" "$OUT/tables.md" 2>/dev/null || echo "visit: no tables"
rm -f "$run/model.weights.h5"  # in weights.npz, without the optimiser's state
tar czf "$OUT/visit.tgz" -C "$WORK" . && echo "visit: packed $(du -h "$OUT/visit.tgz" | cut -f1)"
echo "visit: done at $(( $(date +%s) - start )) s"
