"""BilateralRefine: edge-preserving smoothing of stitched depth or normals, whole map or around the seams."""

import keras

from keras_patchnet.ops import bilateral as bilateral_ops
from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops import patches as patch_ops
from keras_patchnet.ops.patches import compute_dtype

REGIONS = ("all", "seams")


@keras.saving.register_keras_serializable(package="keras_patchnet")
class BilateralRefine(keras.layers.Layer):
    """Foreground-aware (joint) bilateral filter for stitched maps.

    Each foreground pixel becomes the weighted mean of its foreground neighbours within the window, with weights
    exp(-r^2 / (2 sigma_space^2)) * exp(-dist^2 / (2 sigma_range^2)); background pixels are left unchanged and never
    contribute. With `diameter=3, sigma_space=1, range_distance="l1", window="circular"` it reproduces
    `cv2.bilateralFilter(x, d=3, sigmaColor=sigma_range, sigmaSpace=1)` (border reflect-101).

    Units: `sigma_range` is in the units of the range map: metres for depth, unit-vector components for normals,
    [0, 1] intensity for an RGB guide. The report's depth setting, 10 (m), makes the range term ~1: a plain blur.

    Args:
        diameter: odd int, window size. Default 3 (OpenCV's d=3: a 5-tap plus with `window="circular"`).
        sigma_space: spatial sigma in pixels. Default 1.0.
        sigma_range: range sigma (see Units). Default 0.3, the report's value for normals.
        range_distance: "l1" (sum of |channel differences|, as OpenCV) or "l2" (Euclidean).
        window: "circular" (taps with dy^2 + dx^2 <= (diameter // 2)^2, as OpenCV) or "square".
        region: "all" or "seams": only pixels within `seam_width` of an inner patch edge of the grid given by
            `patch_size`, `min_overlap`, `rule` are filtered.
        seam_width: half-width in pixels of the seam band. Default 2.
        patch_size, min_overlap, rule: the patch grid, used by `region="seams"`.
        renormalize: if True, rescale the output to unit length per pixel (for normal maps).

    Call arguments:
        inputs: (B, H, W, C) map.
        foreground: optional (B, H, W, 1) mask (> 0.5 is foreground). Default: every pixel.
        guide: optional (B, H, W, Cg) map driving the range term (joint bilateral, e.g. the RGB image).

    Output shape:
        (B, H, W, C), same dtype as the input.

    Example:
    >>> import numpy as np
    >>> depth = np.full((1, 32, 32, 1), 1.2, "float32")
    >>> out = BilateralRefine(diameter=5, sigma_space=2.0, sigma_range=0.01)(depth)
    >>> bool(np.allclose(out, 1.2))
    True
    """

    def __init__(
        self,
        diameter=3,
        sigma_space=1.0,
        sigma_range=0.3,
        range_distance="l1",
        window="circular",
        region="all",
        seam_width=2,
        patch_size=128,
        min_overlap=64,
        rule="even",
        renormalize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        bilateral_ops.check_bilateral_args(diameter, sigma_space, sigma_range, range_distance, window)
        if region not in REGIONS:
            raise ValueError(f"`region` must be one of {REGIONS}. Received: region={region!r}")
        if isinstance(seam_width, bool) or not isinstance(seam_width, int) or seam_width < 1:
            raise ValueError(f"`seam_width` must be a positive int. Received: seam_width={seam_width!r}")
        self.patch_size, self.min_overlap, self.rule = grid_lib.check_patch_args(patch_size, min_overlap, rule)
        self.diameter = int(diameter)
        self.sigma_space = float(sigma_space)
        self.sigma_range = float(sigma_range)
        self.range_distance = range_distance
        self.window = window
        self.region = region
        self.seam_width = seam_width
        self.renormalize = bool(renormalize)

    def call(self, inputs, foreground=None, guide=None):
        shape = self._check(inputs, foreground, guide)
        return self._filter(inputs, foreground, guide, self._region(shape[1], shape[2]))

    def _check(self, inputs, foreground, guide):
        shape = patch_ops._check_images(inputs, "inputs")
        for name, extra in (("foreground", foreground), ("guide", guide)):
            if extra is not None and (len(extra.shape) != 4 or tuple(extra.shape[1:3]) != shape[1:3]):
                raise ValueError(
                    f"`{name}` must be 4D with the height and width of `inputs` {shape[1:3]}. "
                    f"Received: {name}.shape={tuple(extra.shape)}"
                )
        if foreground is not None and foreground.shape[-1] != 1:
            raise ValueError(f"`foreground` must have 1 channel. Received: foreground.shape={tuple(foreground.shape)}")
        return shape

    def _region(self, height, width):
        if self.region != "seams":
            return None
        return grid_lib.seam_band(
            grid_lib.patch_grid(height, width, self.patch_size, self.min_overlap, self.rule), self.seam_width
        )

    def _filter(self, inputs, foreground, guide, region):
        out = bilateral_ops.bilateral_filter(
            inputs,
            self.diameter,
            self.sigma_space,
            self.sigma_range,
            self.range_distance,
            self.window,
            foreground=foreground,
            guide=guide,
            region=region,
        )
        if self.renormalize:
            dtype = compute_dtype(out)
            out = keras.ops.cast(patch_ops.normalize(keras.ops.cast(out, dtype)), out.dtype)
        return out

    def filter_rows(self, inputs, foreground=None, rows=256):
        """The layer's output on (B, H, W, C) host maps, computed `rows` rows at a time (each band with the
        filter's halo of diameter // 2 rows), for maps too large to filter at once: the same values as
        `self(inputs, foreground=foreground)`, as a NumPy array."""
        import numpy as np

        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"`rows` must be a positive int. Received: rows={rows!r}")
        height, width = self._check(inputs, foreground, None)[1:3]
        region, halo = self._region(height, width), self.diameter // 2
        out = np.empty(inputs.shape, "float32")
        for start in range(0, height, rows):
            stop = min(height, start + rows)
            lo, hi = max(0, start - halo), min(height, stop + halo)
            band = self._filter(
                keras.ops.convert_to_tensor(inputs[:, lo:hi]),
                None if foreground is None else keras.ops.convert_to_tensor(foreground[:, lo:hi]),
                None,
                None if region is None else region[lo:hi],
            )
            out[:, start:stop] = keras.ops.convert_to_numpy(band)[:, start - lo : start - lo + stop - start]
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "diameter": self.diameter,
            "sigma_space": self.sigma_space,
            "sigma_range": self.sigma_range,
            "range_distance": self.range_distance,
            "window": self.window,
            "region": self.region,
            "seam_width": self.seam_width,
            "patch_size": self.patch_size,
            "min_overlap": self.min_overlap,
            "rule": self.rule,
            "renormalize": self.renormalize,
        }
