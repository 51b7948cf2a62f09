"""Pictures of depth and normal maps: colour-mapped arrays (NumPy only) and matplotlib figures (optional extra
`viz`: `pip install "keras-patchnet[viz]"`).

Colours: depth uses the Turbo colour map (near = blue, far = red) over the foreground's 2nd-98th percentile;
normals (OpenCV camera frame, pointing to the camera) are shown as RGB = ((x + 1) / 2, (1 - y) / 2, (1 - z) / 2),
the usual "normal map" look where a surface facing the camera is light blue-violet. Background is black.
"""

import numpy as np

# Google's Turbo colour map (A. Mikhailov, 2019) at 33 evenly spaced points, from
# matplotlib.colormaps["turbo"](np.linspace(0, 1, 33))[:, :3] rounded to 4 decimals; interpolated linearly.
_TURBO = np.array(
    [
        [0.19, 0.0718, 0.2322],
        [0.225, 0.1635, 0.451],
        [0.2511, 0.2524, 0.6337],
        [0.2682, 0.3382, 0.7805],
        [0.2763, 0.4212, 0.8912],
        [0.2754, 0.5012, 0.9659],
        [0.2586, 0.5796, 0.9988],
        [0.2138, 0.6589, 0.9796],
        [0.1584, 0.7355, 0.923],
        [0.1117, 0.8057, 0.8452],
        [0.0927, 0.8655, 0.7623],
        [0.1201, 0.9119, 0.6866],
        [0.1966, 0.949, 0.5947],
        [0.3051, 0.977, 0.4899],
        [0.4278, 0.9942, 0.3858],
        [0.5466, 0.9991, 0.2958],
        [0.6436, 0.99, 0.2336],
        [0.726, 0.9647, 0.2064],
        [0.8047, 0.9245, 0.2046],
        [0.8753, 0.8727, 0.2156],
        [0.933, 0.8124, 0.2267],
        [0.9732, 0.7468, 0.2254],
        [0.9931, 0.6741, 0.2035],
        [0.9959, 0.587, 0.169],
        [0.9836, 0.4929, 0.1285],
        [0.958, 0.3996, 0.0883],
        [0.921, 0.3149, 0.0548],
        [0.8742, 0.2453, 0.033],
        [0.8161, 0.1846, 0.0181],
        [0.7462, 0.131, 0.0085],
        [0.6645, 0.0844, 0.0042],
        [0.571, 0.0447, 0.0053],
        [0.4796, 0.0158, 0.0106],
    ]
)


def turbo(t):
    """Turbo colours (..., 3) in [0, 1] for values t in [0, 1] (clipped; NaN -> 0)."""
    t = np.nan_to_num(np.clip(np.asarray(t, "float64"), 0.0, 1.0)) * (len(_TURBO) - 1)
    i = np.minimum(np.floor(t).astype("int64"), len(_TURBO) - 2)
    w = (t - i)[..., None]
    return _TURBO[i] * (1 - w) + _TURBO[i + 1] * w


def _squeeze(array, channels, name):
    array = np.asarray(array)
    if channels == 1 and array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    expected = 2 if channels == 1 else 3
    if array.ndim != expected or (channels == 3 and array.shape[-1] != 3):
        shape = "(H, W) or (H, W, 1)" if channels == 1 else "(H, W, 3)"
        raise ValueError(f"`{name}` must have shape {shape}. Received: {name}.shape={array.shape}")
    return array


def depth_range(depth, mask=None):
    """(low, high): the 2nd and 98th percentile of the foreground's depth (a robust colour scale)."""
    depth = _squeeze(depth, 1, "depth")
    values = depth[np.asarray(mask, bool).reshape(depth.shape)] if mask is not None else depth.ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [2, 98])
    return float(low), float(high if high > low else low + 1e-6)


def depth_to_rgb(depth, mask=None, vmin=None, vmax=None):
    """(H, W[, 1]) depth -> (H, W, 3) uint8 Turbo image; background (outside `mask`) black."""
    depth = _squeeze(depth, 1, "depth")
    low, high = depth_range(depth, mask)
    low, high = low if vmin is None else vmin, high if vmax is None else vmax
    rgb = turbo((depth - low) / max(high - low, 1e-12))
    if mask is not None:
        rgb = rgb * np.asarray(mask, bool).reshape(depth.shape)[..., None]
    return np.round(rgb * 255).astype("uint8")


def normals_to_rgb(normals, mask=None):
    """(H, W, 3) unit normals (OpenCV frame) -> (H, W, 3) uint8; zero vectors and pixels outside `mask` black."""
    normals = _squeeze(normals, 3, "normals").astype("float64")
    rgb = (normals * np.array([1.0, -1.0, -1.0]) + 1.0) / 2.0
    valid = np.sum(normals**2, axis=-1) > 0.25
    if mask is not None:
        valid &= np.asarray(mask, bool).reshape(valid.shape)
    return np.round(np.clip(rgb, 0, 1) * 255 * valid[..., None]).astype("uint8")


def save_png(path, rgb):
    """Writes an (H, W, 3) or (H, W) uint8 array as PNG (needs Pillow)."""
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('Writing PNG files needs Pillow: pip install "keras-patchnet[images]"') from e
    Image.fromarray(np.asarray(rgb, "uint8")).save(path)
    return path


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('Figures need matplotlib: pip install "keras-patchnet[viz]"') from e
    return plt


def prediction_figure(image, depth, normals, mask=None, path=None, title=None):
    """Input, depth (with a colour bar in mm, relative to the foreground's mean) and normals side by side.
    Returns the matplotlib Figure; saves it to `path` when given."""
    plt = _pyplot()
    depth = _squeeze(depth, 1, "depth")
    mask = np.ones(depth.shape, bool) if mask is None else np.asarray(mask, bool).reshape(depth.shape)
    shown = np.where(mask, (depth - (depth[mask].mean() if mask.any() else 0.0)) * 1000.0, np.nan)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), constrained_layout=True)
    axes[0].imshow(np.asarray(image).astype("uint8") if np.asarray(image).dtype != np.uint8 else image)
    axes[0].set_title("input")
    low, high = depth_range(shown, mask)
    im = axes[1].imshow(shown, cmap="turbo", vmin=low, vmax=high)
    axes[1].set_title("depth (mm, relative)")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    axes[2].imshow(normals_to_rgb(normals, mask))
    axes[2].set_title("normals")
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def error_figure(image, depth_true, depth_pred, normals_true, normals_pred, mask=None, path=None, title=None):
    """The report's Figure 5: ground truth, prediction and error heat map, for depth (absolute error in mm after
    aligning foreground means) and normals (angle in degrees). Returns the Figure; saves it to `path` if given."""
    from keras_patchnet.geometry import angular_error_deg

    plt = _pyplot()
    depth_true, depth_pred = _squeeze(depth_true, 1, "depth_true"), _squeeze(depth_pred, 1, "depth_pred")
    mask = depth_true != 0 if mask is None else np.asarray(mask, bool).reshape(depth_true.shape)
    if not mask.any():
        raise ValueError("`mask` (or depth_true != 0) has no foreground pixel to show errors on")
    t = np.where(mask, (depth_true - depth_true[mask].mean()) * 1000, np.nan)
    p = np.where(mask, (depth_pred - depth_pred[mask].mean()) * 1000, np.nan)
    angle = np.where(
        mask, angular_error_deg(np.asarray(normals_pred, "float64"), np.asarray(normals_true, "float64")), np.nan
    )
    fig, axes = plt.subplots(2, 4, figsize=(12, 6), constrained_layout=True)
    low, high = depth_range(t, mask)
    panels = [
        (axes[0, 0], image, None, "input"),
        (axes[0, 1], t, dict(cmap="turbo", vmin=low, vmax=high), "depth, true (mm)"),
        (axes[0, 2], p, dict(cmap="turbo", vmin=low, vmax=high), "depth, predicted (mm)"),
        (
            axes[0, 3],
            np.abs(p - t),
            dict(cmap="inferno", vmin=0),
            f"|depth error| (mm), mean {np.nanmean(np.abs(p - t)):.1f}",
        ),
        (axes[1, 1], normals_to_rgb(normals_true, mask), None, "normals, true"),
        (axes[1, 2], normals_to_rgb(normals_pred, mask), None, "normals, predicted"),
        (axes[1, 3], angle, dict(cmap="inferno", vmin=0), f"angular error (deg), mean {np.nanmean(angle):.1f}"),
    ]
    for ax, data, kwargs, name in panels:  # smooth resampling: small maps are not shown as blocks
        im = ax.imshow(data, interpolation="bilinear", **(kwargs or {}))
        ax.set_title(name)
        if kwargs is not None:
            fig.colorbar(im, ax=ax, shrink=0.8)
    flat = np.zeros(np.shape(normals_true), "float64")
    flat[..., 2] = -1.0
    flat_angle = angular_error_deg(flat, np.asarray(normals_true, "float64"))[mask].mean()
    axes[1, 0].text(
        0.0,
        0.5,
        f"flat plane, for reference:\n|depth error| {np.nanmean(np.abs(t)):.1f} mm\nangular error {flat_angle:.1f} deg",
        fontsize=11,
        va="center",
        transform=axes[1, 0].transAxes,
    )
    for ax in axes.ravel():
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
