# Sourced on the device machine at the start of a run (`. tools/device_env.sh`): installs the wheels carried in
# .whl/ (tools/device_wheels.sh) into /tmp/site when Keras is missing, and puts them and this checkout (the package
# is not pip-installed there) on PYTHONPATH. Also sourced harmlessly here: with Keras present it only sets the path.
PY=${PYTHON:-python3}
export PYTHON=$PY
export KERAS_BACKEND=${KERAS_BACKEND:-jax}  # Keras' default, TensorFlow, is not on the device
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import keras" 2>/dev/null; then
    if [ -d .whl ]; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
            && export PYTHONPATH="/tmp/site:$PYTHONPATH"
    fi
    "$PY" -c "import keras" || { echo "device_env: no Keras (run tools/device_wheels.sh here and carry .whl)"; return 1; }
fi
"$PY" -c "import keras, keras_patchnet; print('device_env: keras', keras.__version__, 'from', keras.__file__)"
