"""From a prediction to files: relative depth and unit normals on the surface, saved as arrays, images, a point
cloud and a figure. `keras-patchnet predict` is argument parsing around `save_prediction`."""

import os

import numpy as np


def on_surface(depth, normals, mask):
    """Relative depth (foreground mean 0) and unit normals on the `mask` (H, W) pixels, 0 elsewhere; float32."""
    mask = np.asarray(mask, bool)
    depth, normals = np.asarray(depth, "float32").reshape(mask.shape), np.asarray(normals, "float32")
    depth = np.where(mask, depth - (depth[mask].mean() if mask.any() else 0.0), 0.0).astype("float32")
    length = np.linalg.norm(normals, axis=-1, keepdims=True)  # unit, also where an untrained net is near 0
    normals = np.where(mask[..., None] & (length > 1e-6), normals / np.maximum(length, 1e-6), 0.0)
    return depth, normals.astype("float32")


def save_prediction(stem, image, depth, normals, mask, intrinsics, distance=1.2, figure=True, truth=None, title=None):
    """Writes `<stem>_depth.npy` (metres, relative), `_normals.npy`, `_depth.png`, `_normals.png`, `<stem>.ply`
    (points with normals and colours, the depth placed `distance` metres from the camera with `intrinsics`) and,
    with `figure`, `_figure.png` (with `truth` = {"depth", "normals"}: truth, prediction and error maps). `image`
    is (H, W, 3) uint8, `depth` (H, W) or (H, W, 1), `normals` (H, W, 3), `mask` (H, W). Returns the paths."""
    from keras_patchnet import geometry, viz

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be (H, W). Received: mask.shape={mask.shape}")
    size = mask.shape
    expected = {"image": (*size, 3), "depth": size, "normals": (*size, 3)}
    for name, array in (
        ("image", image),
        ("depth", np.squeeze(np.asarray(depth), -1) if np.ndim(depth) == 3 else depth),
        ("normals", normals),
    ):
        if np.shape(array) != expected[name]:
            raise ValueError(
                f"`{name}` must have shape {expected[name]} to match `mask`. Received: {name}.shape={np.shape(array)}"
            )
    if np.shape(intrinsics) != (3, 3):
        raise ValueError(f"`intrinsics` must be a 3x3 matrix. Received: intrinsics.shape={np.shape(intrinsics)}")
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    depth, normals = on_surface(depth, normals, mask)
    mask = np.asarray(mask, bool)
    np.save(stem + "_depth.npy", depth)
    np.save(stem + "_normals.npy", normals)
    viz.save_png(stem + "_depth.png", viz.depth_to_rgb(depth, mask))
    viz.save_png(stem + "_normals.png", viz.normals_to_rgb(normals, mask))
    cloud = geometry.point_cloud(np.where(mask, depth + distance, 0.0), intrinsics, mask, normals, image)
    geometry.write_ply(stem + ".ply", cloud["points"], cloud["normals"], cloud["colors"])
    files = [stem + s for s in ("_depth.npy", "_normals.npy", "_depth.png", "_normals.png", ".ply")]
    if figure:
        import matplotlib.pyplot as plt

        path = stem + "_figure.png"
        if truth is not None:
            fig = viz.error_figure(
                image, truth["depth"], depth, truth["normals"], normals, mask, path=path, title=title
            )
        else:
            fig = viz.prediction_figure(image, depth, normals, mask, path=path, title=title)
        plt.close(fig)
        files.append(path)
    return files
