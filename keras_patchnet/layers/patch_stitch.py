"""PatchStitch: patch predictions -> full maps (mean, normals, or depth with least-squares offsets)."""

import keras

from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops import patches as patch_ops

MODES = ("mean", "normals", "depth")


@keras.saving.register_keras_serializable(package="keras_patchnet")
class PatchStitch(keras.layers.Layer):
    """Stitches (B * N, P, P, C) patches back into (B, H, W, C) maps; the inverse of `PatchExtract`.

    Modes:
        "mean": per-pixel average of the covering patches (extract then stitch is the identity).
        "normals": normalise each patch per pixel, average, renormalise (averaging unit vectors shrinks them).
        "depth": shift patch k by the offset t_k that minimises the squared differences over all overlapping
            pairs (only pixels that are foreground in both, when `foreground` is given), then average. The
            least-squares system is solved batched in closed form (`keras.ops.linalg.solve`), differentiably,
            in float32 even under mixed precision. The result is relative depth (one free constant).

    Args:
        patch_size, min_overlap, rule: the grid, as in `PatchExtract` (use the same values).
        mode: "mean", "normals" or "depth". Default "mean".
        ridge: relative ridge of the depth solve; a patch sharing no foreground with any other gets offset 0.
        solver: the depth-offset solver: "auto" (default: "direct" up to `ops.patches.DENSE_MAX_PATCHES` patches
            per image, "sparse" above), "direct" (the dense N x N system), "sparse" (preconditioned conjugate
            gradients on the grid's stencil: memory and time linear in N, for large images) or "cg" (unrolled
            conjugate gradients on the dense system, for exporters without a solve op: ONNX).

    Call arguments:
        patches: (B * N, P, P, C); C must be 1 for "depth".
        output_size: (H, W) of the stitched maps, the size the patches were cut from.
        foreground: optional (B, H, W, 1) weights (1 foreground, 0 background) for the depth offsets.
        batch_size: optional number of images B. With it (or with `foreground`, whose batch it reads), a patch
            count other than B * N is refused with a message naming both counts. Without either, only counts
            that are not a multiple of N can be caught (N patches per image: `grid(H, W).num_patches`).

    Non-finite patch values (a network that overflowed) are treated as missing: the other patches fill those
    pixels and a pixel no finite patch covers is 0; with a `foreground` the depth offsets ignore them too
    (without one they count as 0 in the offset solve, which keeps it free of gathers for ONNX export).

    Output shape:
        (B, H, W, C).

    Example:
    >>> import numpy as np
    >>> from keras_patchnet.layers import PatchExtract
    >>> images = np.random.rand(2, 100, 150, 3).astype("float32")
    >>> patches = PatchExtract(64, min_overlap=16)(images)
    >>> stitched = PatchStitch(64, min_overlap=16)(patches, output_size=(100, 150))
    >>> bool(np.abs(np.asarray(stitched) - images).max() < 1e-6)
    True
    """

    def __init__(self, patch_size=128, min_overlap=None, rule="even", mode="mean", ridge=1e-5, solver="auto", **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.min_overlap, self.rule = grid_lib.check_patch_args(patch_size, min_overlap, rule)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        if not ridge > 0:
            raise ValueError(f"`ridge` must be a positive float. Received: ridge={ridge!r}")
        if solver not in patch_ops.SOLVERS:
            raise ValueError(f"`solver` must be one of {patch_ops.SOLVERS}. Received: solver={solver!r}")
        self.mode, self.solver = mode, solver
        self.ridge = float(ridge)

    def grid(self, height, width):
        return grid_lib.patch_grid(height, width, self.patch_size, self.min_overlap, self.rule)

    def _output_grid(self, output_size):
        if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
            raise ValueError(f"`output_size` must be a tuple (height, width). Received: output_size={output_size!r}")
        return self.grid(*output_size)

    def call(self, patches, output_size, foreground=None, batch_size=None):
        grid = self._output_grid(output_size)
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0
        ):
            raise ValueError(f"`batch_size` must be an int >= 0 or None. Received: batch_size={batch_size!r}")
        if batch_size is None and foreground is not None:
            batch_size = foreground.shape[0]
        count = patches.shape[0]
        if batch_size is not None and count is not None and count != batch_size * grid.num_patches:
            raise ValueError(
                f"`patches` holds {count} patches, but {batch_size} image(s) of {grid.height}x{grid.width} "
                f"(output_size) give {batch_size * grid.num_patches} ({grid.num_patches} each) on this grid. "
                f"Received: patches.shape={tuple(patches.shape)}, output_size={tuple(output_size)}"
            )
        if self.mode == "depth":
            if foreground is not None:
                fg_shape = tuple(foreground.shape)
                if len(fg_shape) != 4 or fg_shape[1:] != (grid.height, grid.width, 1):
                    raise ValueError(
                        f"`foreground` must have shape (batch, {grid.height}, {grid.width}, 1) to match "
                        f"output_size. Received: foreground.shape={fg_shape}"
                    )
            return patch_ops.stitch_depth(patches, grid, foreground, self.ridge, self.solver)
        if self.mode == "normals":
            if patches.shape[-1] != 3:
                raise ValueError(
                    f"Normal `patches` must have 3 channels. Received: patches.shape={tuple(patches.shape)}"
                )
            return patch_ops.stitch_normals(patches, grid)
        return patch_ops.stitch_mean(patches, grid)

    def compute_output_shape(self, input_shape, output_size, foreground_shape=None, batch_size=None):
        grid = self._output_grid(output_size)
        batch = input_shape[0]
        return (None if batch is None else batch // grid.num_patches, grid.height, grid.width, input_shape[-1])

    def compute_output_spec(self, patches, output_size, foreground=None, batch_size=None):
        shape = self.compute_output_shape(tuple(patches.shape), output_size)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "min_overlap": self.min_overlap,
            "rule": self.rule,
            "mode": self.mode,
            "ridge": self.ridge,
            "solver": self.solver,
        }
