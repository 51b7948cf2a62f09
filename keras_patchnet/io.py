"""From a prediction to files: relative depth and unit normals on the surface, saved as arrays, images, a point
cloud and a figure. `keras-patchnet predict` is argument parsing around `save_prediction`."""

import os

import numpy as np

from keras_patchnet._atomic import atomic_files

# What `save_prediction` can write, and the files of each (suffixes of the stem).
OUTPUTS = {
    "depth": ("_depth.npy", "_depth.png"),
    "normals": ("_normals.npy", "_normals.png"),
    "ply": (".ply",),
    "figure": ("_figure.png",),
}
DEFAULT_OUTPUTS = ("depth", "normals", "ply", "figure")
# Above this many surface pixels the point cloud keeps every k-th pixel in each direction (`max_points`).
MAX_POINTS = 2_000_000


def parse_outputs(value):
    """`"depth,normals"` or a sequence -> a tuple of known output names, in `OUTPUTS` order; raises `ValueError`."""
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown or not names or "" in names:
        raise ValueError(f"outputs must be a comma-separated subset of {','.join(OUTPUTS)}. Received: {value!r}")
    return tuple(n for n in OUTPUTS if n in names)


def thinning_step(num_points, max_points=MAX_POINTS):
    """The stride k (in both directions) that keeps at most `max_points` of `num_points` points (1: all)."""
    if max_points is None or num_points <= max_points:
        return 1
    return int(np.ceil(np.sqrt(num_points / max_points)))


def on_surface(depth, normals, mask):
    """Relative depth (foreground mean 0) and unit normals on the `mask` (H, W) pixels, 0 elsewhere; float32."""
    mask = np.asarray(mask, bool)
    depth, normals = np.asarray(depth, "float32").reshape(mask.shape), np.asarray(normals, "float32")
    depth = np.where(mask, depth - (depth[mask].mean() if mask.any() else 0.0), 0.0).astype("float32")
    length = np.linalg.norm(normals, axis=-1, keepdims=True)  # unit, also where an untrained net is near 0
    normals = np.where(mask[..., None] & (length > 1e-6), normals / np.maximum(length, 1e-6), 0.0)
    return depth, normals.astype("float32")


def save_prediction(
    stem,
    image,
    depth,
    normals,
    mask,
    intrinsics,
    distance=1.2,
    figure=True,
    truth=None,
    title=None,
    outputs=None,
    max_points=MAX_POINTS,
):
    """Writes the prediction for one image under `stem` and returns the paths written.

    `outputs` (default `DEFAULT_OUTPUTS`; `figure=False` drops the figure from it) chooses among:
    - `"depth"`: `<stem>_depth.npy` (float32 metres, relative: foreground mean 0, 0 on background) and
      `_depth.png` (colour-mapped);
    - `"normals"`: `<stem>_normals.npy` (float16 unit vectors, camera frame, 0 on background) and `_normals.png`;
    - `"ply"`: `<stem>.ply`, points with normals and colours, the depth placed `distance` metres from the camera with
      `intrinsics`; above `max_points` surface pixels every k-th pixel in each direction (None: all);
    - `"figure"`: `<stem>_figure.png` (needs matplotlib; with `truth` = {"depth", "normals"}: truth, prediction
      and error maps).
    Every file is written under a temporary name and renamed when all are complete: on an error none of them is
    left behind. `image` is (H, W, 3) uint8, `depth` (H, W) or (H, W, 1), `normals` (H, W, 3), `mask` (H, W).
    """
    from keras_patchnet import geometry, viz

    outputs = parse_outputs(DEFAULT_OUTPUTS if outputs is None else outputs)
    if not figure:
        outputs = tuple(o for o in outputs if o != "figure")
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
    geometry.check_intrinsics(intrinsics)
    if not (np.isfinite(distance) and distance > 0):
        raise ValueError(f"`distance` must be a finite number of metres > 0. Received: distance={distance}")
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    depth, normals = on_surface(depth, normals, mask)
    mask = np.asarray(mask, bool)
    files = []
    with atomic_files() as temp:
        if "depth" in outputs:
            np.save(temp(stem + "_depth.npy"), depth)
            viz.save_png(temp(stem + "_depth.png"), viz.depth_to_rgb(depth, mask))
            files += [stem + "_depth.npy", stem + "_depth.png"]
        if "normals" in outputs:
            np.save(temp(stem + "_normals.npy"), normals.astype("float16"))
            viz.save_png(temp(stem + "_normals.png"), viz.normals_to_rgb(normals, mask))
            files += [stem + "_normals.npy", stem + "_normals.png"]
        if "ply" in outputs:
            k = thinning_step(int(mask.sum()), max_points)
            thin = np.zeros_like(mask)
            thin[::k, ::k] = mask[::k, ::k]
            cloud = geometry.point_cloud(np.where(thin, depth + distance, 0.0), intrinsics, thin, normals, image)
            geometry.write_ply(temp(stem + ".ply"), cloud["points"], cloud["normals"], cloud["colors"])
            files.append(stem + ".ply")
        if "figure" in outputs:
            import matplotlib.pyplot as plt

            path = temp(stem + "_figure.png")
            if truth is not None:
                fig = viz.error_figure(
                    image, truth["depth"], depth, truth["normals"], normals, mask, path=path, title=title
                )
            else:
                fig = viz.prediction_figure(image, depth, normals, mask, path=path, title=title)
            plt.close(fig)
            files.append(stem + "_figure.png")
    return files
