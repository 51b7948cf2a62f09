"""Writes the cross-backend golden files once (run with KERAS_BACKEND=tensorflow from the repository root):

    KERAS_BACKEND=tensorflow python -m tests.golden.make_golden

- baseline / unet at width 2, P = 32: random-initialised weights saved as `<name>.weights.h5` (tiny), plus the input
  images and the full-image outputs in `<name>.npz`; every backend must load the file and reproduce the outputs.
- inception (10.7 M parameters, too big to ship for a test): weights filled by `set_deterministic_weights(seed=0)`,
  identical on every backend, and the outputs for a 1 x 128 x 128 image in `inception.npz`.
"""

import os

import keras
import numpy as np

from keras_patchnet import models
from keras_patchnet.data import render_batch
from tests.helpers import set_deterministic_weights

HERE = os.path.dirname(__file__)
CONFIGS = {
    "baseline": dict(patch_size=32, width=2, min_overlap=8),
    "unet": dict(patch_size=32, width=2, min_overlap=8),
    "inception": dict(patch_size=128, width=2),
}


def build(name):
    return getattr(models, name)(**CONFIGS[name])


def inputs(name):
    size = (128, 128) if name == "inception" else (48, 56)
    return render_batch([5, 6], *size)["images"][: 1 if name == "inception" else 2]


def main():
    assert keras.backend.backend() == "tensorflow"
    for name in CONFIGS:
        keras.utils.set_random_seed(1)
        model = build(name)
        x = inputs(name)
        model(x)
        set_deterministic_weights(model, seed=0)
        if name != "inception":
            model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
        out = model(x)
        np.savez_compressed(
            os.path.join(HERE, f"{name}.npz"),
            images=x,
            depth=keras.ops.convert_to_numpy(out["depth"]),
            normals=keras.ops.convert_to_numpy(out["normals"]),
        )
        print(name, "written")


if __name__ == "__main__":
    main()
