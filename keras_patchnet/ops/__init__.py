"""Backend-agnostic functions (keras.ops only) behind the layers."""

from keras_patchnet.ops.grid import PatchGrid, axis_origins, patch_grid, seam_band
from keras_patchnet.ops.light import light_channels
from keras_patchnet.ops.patches import (
    depth_offsets,
    extract_patches,
    fold_patches,
    normalize,
    stitch_depth,
    stitch_mean,
    stitch_normals,
)

__all__ = [
    "PatchGrid",
    "axis_origins",
    "patch_grid",
    "seam_band",
    "extract_patches",
    "fold_patches",
    "stitch_mean",
    "stitch_normals",
    "stitch_depth",
    "depth_offsets",
    "normalize",
    "light_channels",
]
