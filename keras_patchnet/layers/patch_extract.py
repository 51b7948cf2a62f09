"""PatchExtract: images -> overlapping patches on the grid of DESIGN §4.1."""

import keras

from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops import patches as patch_ops


@keras.saving.register_keras_serializable(package="keras_patchnet")
class PatchExtract(keras.layers.Layer):
    """Cuts images into overlapping square patches, row-major over the patch grid.

    The grid depends only on the image size, so it is laid out from static shapes; a new image size retraces a
    compiled function. Images smaller than a patch are zero-padded at the bottom and right (`PatchStitch` crops
    the pad away). Extraction is two static gathers, differentiable and batched.

    Args:
        patch_size: int, side P of the square patches. Default 128.
        min_overlap: int in [0, P), the smallest overlap between neighbouring patches (rule "even").
            Default None: P // 2.
            64 gives the paper's dense layout (3 x 3 patches at 224 x 224), 1 the fewest patches (2 x 2).
        rule: "even" (overlaps >= min_overlap, equal up to one pixel) or "half_stride" (the report's
            fixed-overlap rule: step P // 2, last patch flush with the edge; `min_overlap` is ignored).

    Input shape:
        (B, H, W, C) with static H and W.

    Output shape:
        (B * N, P, P, C), N = `layer.grid(H, W).num_patches`; patch k of image b is row b * N + k.

    Example:
    >>> import numpy as np
    >>> layer = PatchExtract(patch_size=128, min_overlap=64)
    >>> tuple(layer(np.zeros((2, 224, 224, 3), "float32")).shape)
    (18, 128, 128, 3)
    >>> layer.grid(224, 224).origins_y
    (0, 48, 96)
    """

    def __init__(self, patch_size=128, min_overlap=None, rule="even", **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.min_overlap, self.rule = grid_lib.check_patch_args(patch_size, min_overlap, rule)

    def grid(self, height, width):
        """The `PatchGrid` this layer uses for `height` x `width` images."""
        return grid_lib.patch_grid(height, width, self.patch_size, self.min_overlap, self.rule)

    def call(self, images):
        shape = patch_ops._check_images(images)
        return patch_ops.extract_patches(images, self.grid(shape[1], shape[2]))

    def compute_output_shape(self, input_shape):
        patch_ops.check_image_shape(input_shape)
        batch, height, width, channels = input_shape
        n = self.grid(height, width).num_patches
        return (None if batch is None else batch * n, self.patch_size, self.patch_size, channels)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "min_overlap": self.min_overlap,
            "rule": self.rule,
        }
