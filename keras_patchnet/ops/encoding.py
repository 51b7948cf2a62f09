"""How pixel values encode brightness, in `keras.ops` only: the sRGB tone curve of every 8-bit photo (IEC 61966-2-1)
and its inverse, on the 0-255 scale, and the reading of an image batch by the input contract of `PatchNet`.

    >>> import numpy as np
    >>> [round(float(v), 2) for v in np.asarray(srgb_to_linear(np.array([0.0, 10.0, 128.0, 255.0], "float32")))]
    [0.0, 0.77, 55.04, 255.0]
"""

import keras
from keras import ops

ENCODINGS = ("linear", "srgb")
_KNEE = 0.04045  # sRGB: linear segment below this encoded value (0-1)


def _float(x):
    x = ops.convert_to_tensor(x)
    return x if "float" in keras.backend.standardize_dtype(x.dtype) else ops.cast(x, "float32")


def srgb_to_linear(x):
    """sRGB-encoded values on the 0-255 scale -> linear brightness on the 0-255 scale (floats keep their dtype,
    integers become float32; differentiable, with a finite gradient everywhere)."""
    c = _float(x) / 255.0
    # max(c, knee) as relu: keeps float64 on torch, where ops.maximum with a Python float returns float32
    curve = ops.power((ops.relu(c - _KNEE) + _KNEE + 0.055) / 1.055, 2.4)
    return 255.0 * ops.where(c <= _KNEE, c / 12.92, curve)


def linear_to_srgb(x):
    """Linear brightness on the 0-255 scale -> sRGB-encoded values on the 0-255 scale (the inverse of
    `srgb_to_linear`)."""
    y = _float(x) / 255.0
    curve = 1.055 * ops.power(ops.relu(y - 0.0031308) + 0.0031308, 1 / 2.4) - 0.055
    return 255.0 * ops.where(y <= 0.0031308, 12.92 * y, curve)


def read_images(images, encoding="linear"):
    """Images of any supported dtype -> float32 linear brightness on the 0-255 scale (the input contract of
    `PatchNet`): uint16 scaled by 255 / 65535, other integers and floats read on the 0-255 scale, bool refused;
    then, for `encoding="srgb"`, the sRGB curve undone."""
    dtype = keras.backend.standardize_dtype(images.dtype)
    if dtype == "bool":
        raise TypeError(
            "`images` must be uint8, uint16 or float RGB, not bool (a mask? pass it as "
            "{'images': ..., 'mask': ...}). Received: images.dtype=bool"
        )
    if dtype == "uint16":
        x = ops.cast(images, "float32") * (255.0 / 65535.0)
    elif "int" not in dtype and "float" not in dtype:
        raise TypeError(f"`images` must be uint8, uint16 or float RGB. Received: images.dtype={dtype}")
    else:
        x = ops.cast(images, "float32")
    return srgb_to_linear(x) if encoding == "srgb" else x
