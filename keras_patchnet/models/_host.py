"""Checks and conversions of a NumPy batch before `PatchNet.predict` / `predict_on_batch` runs it: a list of
images becomes a batch, and warnings name what would make the maps meaningless (non-finite pixels, [0, 1] floats
for a model that reads absolute brightness, images with no shading to read)."""

import warnings

import numpy as np

# An image whose foreground brightness varies by less than this (standard deviation, 0-255 scale) carries no
# shading to read: all black, all white, a flat grey card. A sheet under any light in the renders varies by > 10.
MIN_SHADING_STD = 1.0


def as_host_batch(x):
    """A list or tuple of (H, W, 3) images of one size -> one (B, H, W, 3) array (also inside a dict); anything
    else unchanged. Images of different sizes are refused: predict them one at a time."""

    def stack(images, name):
        if not isinstance(images, (list, tuple)):
            return images
        arrays = [np.asarray(a) for a in images]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(
                f"`{name}` given as a list must hold arrays of one shape to form a batch; found shapes "
                f"{sorted(shapes)}. Predict images of different sizes one at a time."
            )
        return np.stack(arrays) if arrays else np.zeros((0, 1, 1, 3), "uint8")

    if isinstance(x, dict):
        return {k: stack(v, k) for k, v in x.items()}
    return stack(x, "images")


def check_host_images(x, intensity, stacklevel=3):
    """Warnings about a NumPy batch before it is predicted: non-finite pixels (with their count), float images in
    [0, 1] given to a model that reads absolute brightness (intensity="none"), and images whose foreground has
    no usable shading (constant or nearly constant brightness)."""
    images, mask = (x.get("images"), x.get("mask")) if isinstance(x, dict) else (x, None)
    mask = mask if isinstance(mask, np.ndarray) else None
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.size == 0:
        return
    if np.issubdtype(images.dtype, np.floating):
        bad = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
        if bad:
            warnings.warn(
                f"`images` holds {bad} non-finite value(s) (NaN or inf); those pixels are read as background "
                f"(0) and left out of the foreground.",
                stacklevel=stacklevel,
            )
        finite = images[np.isfinite(images)]
        if intensity == "none" and finite.size and finite.max() <= 1.0:
            warnings.warn(
                "Float `images` are all <= 1, but this model reads absolute brightness on the 0-255 scale "
                "(intensity='none'): multiply [0, 1] images by 255.",
                stacklevel=stacklevel,
            )
    flat = [i for i, std in enumerate(shading_spread(images, mask)) if std < MIN_SHADING_STD]
    if flat:
        warnings.warn(
            f"image(s) {flat} of the batch have no usable shading (foreground brightness constant to within "
            f"{MIN_SHADING_STD} of 255): their depth and normals are guesses, not measurements.",
            stacklevel=stacklevel,
        )


def shading_spread(images, mask=None):
    """Per image, the standard deviation of the grey brightness (0-255 scale) over the foreground (`mask` > 0,
    else every pixel), ignoring non-finite pixels; NaN for an image with no such pixel."""
    scale = 255.0 / 65535.0 if images.dtype == np.uint16 else 1.0
    spreads = []
    for i in range(len(images)):
        grey = images[i].astype("float32").mean(-1) * scale
        keep = np.isfinite(grey)
        if mask is not None:
            keep &= np.asarray(mask[i]).reshape(grey.shape) > 0
        spreads.append(float(grey[keep].std()) if keep.any() else float("nan"))
    return spreads
