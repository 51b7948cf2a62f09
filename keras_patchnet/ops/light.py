"""A light code as the constant channels a light-conditioned patch network reads (`PatchNet(light="sh9")`)."""

import keras
import numpy as np

from keras_patchnet.lighting import basis, hemisphere

CHANNELS = 9


def reference_normals():
    """9 unit normals: straight at the camera and 8 directions 45 degrees off it (OpenCV frame, n_z < 0)."""
    angles = np.arange(8) * np.pi / 4
    s = np.sqrt(0.5)
    tilted = np.stack([s * np.cos(angles), s * np.sin(angles), np.full(8, -s)], -1)
    return np.concatenate([[[0.0, 0.0, -1.0]], tilted])


_REFERENCE = basis(reference_normals()).T.astype("float32")  # (9 coefficients, 9 normals)
_HEMISPHERE = basis(hemisphere(2000)).T.astype("float32")  # (9, 2000)


def light_channels(code):
    """(B, 9) light codes -> (B, 9): the shading each code gives the 9 reference normals, as a share of its
    brightest shading over camera-facing normals (what the brightest pixel of an image scaled to a maximum of 255
    shows, under `intensity="image"`). Independent of the code's scale; differentiable."""
    code = keras.ops.convert_to_tensor(code)
    dtype = keras.backend.standardize_dtype(code.dtype)
    if "float" not in dtype:
        code, dtype = keras.ops.cast(code, "float32"), "float32"

    def times(matrix):  # code @ matrix, as a broadcast sum: Keras' torch matmul returns float32 for float64
        return keras.ops.sum(code[:, :, None] * keras.ops.convert_to_tensor(matrix, dtype=dtype)[None], axis=1)

    peak = keras.ops.max(times(_HEMISPHERE), axis=-1, keepdims=True)
    shading = times(_REFERENCE)
    return shading / (keras.ops.relu(peak - 1e-6) + 1e-6)  # max(peak, 1e-6) in the code's dtype


def check_light(kind, light, batch, host=False):
    """One-line errors for the light a `PatchNet(light=kind)` is given: needed exactly when `kind` is set, shape
    (batch, 9), and (`host`: NumPy-side, before a predict) finite values."""
    if kind and light is None:
        raise ValueError(
            f"This model is light-conditioned (light={kind!r}): pass a dict {{'images': ..., 'light': "
            f"(batch, {CHANNELS}) light codes}} (keras_patchnet.lighting)"
        )
    if not kind and light is not None:
        raise ValueError(
            "This model takes no light (light=None): drop the 'light' entry, or use a light-conditioned preset"
        )
    if light is None:
        return
    shape = tuple(light.shape)
    if len(shape) != 2 or shape[1] != CHANNELS or None not in (batch, shape[0]) and shape[0] != batch:
        raise ValueError(
            f"`light` must have shape (batch, {CHANNELS}) = ({batch}, {CHANNELS}), one code per image. "
            f"Received: light.shape={shape}"
        )
    if host and not np.isfinite(np.asarray(keras.ops.convert_to_numpy(light), "float64")).all():
        raise ValueError("`light` holds non-finite values (NaN or inf): pass finite light codes")
