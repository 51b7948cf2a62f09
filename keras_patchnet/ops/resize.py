"""Image resizing as two small matrix products, so it compiles under XLA on every backend.

`keras.ops.image.resize(..., antialias=True)` lowers to TensorFlow's ScaleAndTranslate, which XLA cannot compile:
a model that resizes inside (a preset's `working_width`) then failed under `jit_compile=True` on TensorFlow. The
same resampling, a triangle (bilinear) kernel widened by the scale factor when shrinking, with half-pixel centres
and samples outside the image dropped, is a fixed (out, in) matrix per axis: `resize` applies one to the rows and
one to the columns. It equals Keras' antialiased bilinear resize on TensorFlow, JAX and torch to float32 rounding
when shrinking, and plain bilinear (edge-clamped) when enlarging. `interpolation="nearest"` takes, for each output
pixel, the input pixel under its centre (index floor((2i + 1) in / (2 out)), in integers; PIL's NEAREST agrees
but where a centre falls exactly on a pixel boundary, which its floating point rounds either way): no averaging,
so pixel noise and sharpness survive a shrink as they are.
"""

import functools

import numpy as np
from keras import ops

INTERPOLATIONS = ("bilinear", "nearest")


@functools.lru_cache(maxsize=64)
def resize_matrix(out_len, in_len, interpolation="bilinear"):
    """(out_len, in_len) float32 weights of the resampling of one axis (rows sum to 1): antialiased bilinear, or
    `interpolation="nearest"` (one 1 a row, at the input pixel under the output pixel's centre)."""
    if interpolation == "nearest":
        weights = np.zeros((out_len, in_len), "float32")
        weights[np.arange(out_len), np.minimum((2 * np.arange(out_len) + 1) * in_len // (2 * out_len), in_len - 1)] = 1
        return weights
    scale = out_len / in_len
    width = max(1.0 / scale, 1.0)  # the kernel widens by the shrink factor (antialiasing)
    centres = (np.arange(out_len) + 0.5) / scale - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs((np.arange(in_len)[None, :] - centres[:, None]) / width))
    return (weights / weights.sum(axis=1, keepdims=True)).astype("float32")


def resize(x, size, interpolation="bilinear"):
    """(B, H, W, C) -> (B, h, w, C) for size (h, w): `interpolation` "bilinear" (antialiased when shrinking) or
    "nearest"."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}. Received: interpolation={interpolation!r}")
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    if not ok or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in size):
        raise ValueError(f"`size` must be a pair of positive ints (height, width). Received: size={size!r}")
    if len(x.shape) != 4 or x.shape[1] is None or x.shape[2] is None:
        raise ValueError(f"`x` must be 4D (batch, height, width, channels) with static H, W. Received: {x.shape}")
    (h, w), (H, W) = size, x.shape[1:3]
    dtype = ops.dtype(x)
    if h != H:
        x = ops.einsum("hH,bHWc->bhWc", ops.convert_to_tensor(resize_matrix(h, H, interpolation), dtype=dtype), x)
    if w != W:
        x = ops.einsum("wW,bhWc->bhwc", ops.convert_to_tensor(resize_matrix(w, W, interpolation), dtype=dtype), x)
    return x
