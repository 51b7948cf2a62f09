"""Cutting images into patches and folding patches back (summing, for every pixel, the patches that cover it),
in `keras.ops` only: static slices laid out by `grid.py`, one axis at a time, so cost grows linearly with pixels
(no gather: slices are memory copies on every backend, while XLA's CPU gather is slow). The stitches in
`ops.patches` are built on these."""

import numpy as np
from keras import ops

from keras_patchnet.ops import grid as grid_lib


def compute_dtype(x):
    """The dtype the numerics run in: float64 for float64 input, else float32 (also under mixed precision)."""
    return "float64" if ops.dtype(x) == "float64" else "float32"


def _const(array, dtype):
    """A NumPy constant as a backend tensor (torch refuses to mix ndarrays with tensors that require grad)."""
    return ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def _check_images(images, name="images"):
    return check_image_shape(tuple(images.shape), name)


def check_image_shape(shape, name="images"):
    """Validates a (B, H, W, C) shape with static H, W; raises ValueError naming `name`."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"`{name}` must be a 4D tensor (batch, height, width, channels). Received: {name}.shape={shape}"
        )
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"`{name}` needs a static height and width to lay out the patch grid. Received: {name}.shape={shape}"
        )
    if shape[1] < 1 or shape[2] < 1 or shape[3] == 0:
        raise ValueError(f"`{name}` is empty. Received: {name}.shape={shape}")
    return shape


def pad_to_grid(images, grid):
    """Zero-pads bottom and right up to the grid's padded size (only for images smaller than a patch)."""
    dh, dw = grid.padded_height - grid.height, grid.padded_width - grid.width
    if dh == 0 and dw == 0:
        return images
    return ops.pad(images, [[0, 0], [0, dh], [0, dw], [0, 0]])


def _slice(x, start, stop, axis):
    index = [slice(None)] * len(x.shape)
    index[axis] = slice(start, stop)
    return x[tuple(index)]


# XLA's CPU backend fuses a concatenation of up to 8 slices into one loop; with more it copies every slice apart
# and the cut costs 4-5x more a pixel (TensorFlow, one core: 1.1 ns a patch pixel for 7 windows, 4.7 for 15).
_FUSED_WINDOWS = 8


def _cut_axis(x, origins, size, axis):
    """Stacks the windows [o, o + size) of `axis` for every origin o on a new axis before it (static slices).

    On a regular grid of more than `_FUSED_WINDOWS` windows the axis is cut into blocks of the stride s once, and
    the windows are k = size / s shifted slices of the blocks: k slices instead of one per window, whatever the
    size (the same values, 3-5x faster from 1024² up on XLA's CPU backend)."""
    s = grid_lib.regular_step(origins, size)
    if s is None or len(origins) <= _FUSED_WINDOWS or sum(d is None for d in x.shape) > 1:
        return ops.stack([_slice(x, o, o + size, axis) for o in origins], axis=axis)
    n, k = len(origins), size // s
    x = _slice(x, 0, (n + k - 1) * s, axis)
    shape = [-1 if d is None else d for d in x.shape]
    x = ops.reshape(x, shape[:axis] + [n + k - 1, s] + shape[axis + 1 :])
    x = ops.stack([_slice(x, a, a + n, axis) for a in range(k)], axis=axis + 1)  # (..., n, k, s, ...)
    return ops.reshape(x, shape[:axis] + [n, size] + shape[axis + 1 :])


def extract_patches(images, grid):
    """Cuts (B, H, W, C) images into (B * N, P, P, C) patches, row-major over the grid."""
    _check_images(images)
    P = grid.patch_size
    x = pad_to_grid(images, grid)
    x = _cut_axis(x, grid.origins_y, P, axis=1)  # (B, ny, P, Wp, C)
    x = _cut_axis(x, grid.origins_x, P, axis=3)  # (B, ny, P, nx, P, C)
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, P, P, images.shape[-1]))


def _fold_axis(x, origins, length, window_axis, pixel_axis):
    """Sums windows back onto the axis they were cut from: `window_axis` indexes the windows, `pixel_axis` the
    pixels inside each; the result has `window_axis` removed and `length` pixels along the old pixel axis.

    The axis is split into segments covered by a fixed set of windows; each segment is a sum of static slices.
    """
    size = x.shape[pixel_axis]
    bounds = sorted({0, length} | set(origins) | {o + size for o in origins})
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        piece = None
        for i, o in enumerate(origins):
            if o <= a and b <= o + size:
                part = _slice(_slice(x, i, i + 1, window_axis), a - o, b - o, pixel_axis)
                piece = part if piece is None else piece + part
        pieces.append(piece)
    out = pieces[0] if len(pieces) == 1 else ops.concatenate(pieces, axis=pixel_axis)
    return ops.squeeze(out, axis=window_axis)


def fold_patches(patches, grid):
    """Sums (B * N, P, P, C) patches into (B, Hp, Wp, C) padded maps: every pixel gets the sum of its patches."""
    P, ny, nx = grid.patch_size, len(grid.origins_y), len(grid.origins_x)
    x = ops.reshape(patches, (-1, ny, nx, P, P, patches.shape[-1]))
    x = _fold_axis(x, grid.origins_x, grid.padded_width, window_axis=2, pixel_axis=4)  # (B, ny, P, Wp, C)
    return _fold_axis(x, grid.origins_y, grid.padded_height, window_axis=1, pixel_axis=2)


def coverage(grid):
    """(Hp, Wp, 1) float32 NumPy map: the number of patches covering each pixel."""
    cy = grid_lib.axis_coverage(grid.origins_y, grid.patch_size, grid.padded_height)
    cx = grid_lib.axis_coverage(grid.origins_x, grid.patch_size, grid.padded_width)
    return (cy[:, None] * cx[None, :])[..., None]


def _crop(x, grid):
    return x[:, : grid.height, : grid.width, :]


def check_patches(patches, grid, name="patches"):
    shape = tuple(patches.shape)
    P = grid.patch_size
    if len(shape) != 4 or shape[1] != P or shape[2] != P:
        raise ValueError(
            f"`{name}` must have shape (batch * num_patches, {P}, {P}, channels) for patch_size={P}. "
            f"Received: {name}.shape={shape}"
        )
    if shape[0] is not None and shape[0] % grid.num_patches:
        raise ValueError(
            f"`{name}` holds {shape[0]} patches, not a multiple of the {grid.num_patches} patches per "
            f"{grid.height}x{grid.width} image (output_size mismatch?). Received: {name}.shape={shape}"
        )
