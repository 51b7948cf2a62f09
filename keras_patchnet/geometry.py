"""Depth <-> 3D points and normals for a pinhole camera (OpenCV frame: x right, y down, z forward). NumPy only.

Normals point to the camera (n_z < 0 for a surface facing it), the convention of the renderer and the dataset.
"""

import numpy as np


def backproject(depth, intrinsics):
    """(H, W) depth in metres -> (H, W, 3) camera-frame points, X = Z (u - cx) / fx, Y = Z (v - cy) / fy."""
    depth = np.asarray(depth, "float64")
    if depth.ndim != 2:
        raise ValueError(f"`depth` must be 2D (H, W). Received: depth.shape={depth.shape}")
    K = np.asarray(intrinsics, "float64")
    if K.shape != (3, 3):
        raise ValueError(f"`intrinsics` must be a 3x3 matrix. Received: intrinsics.shape={K.shape}")
    v, u = np.mgrid[: depth.shape[0], : depth.shape[1]]
    return np.stack([depth * (u - K[0, 2]) / K[0, 0], depth * (v - K[1, 2]) / K[1, 1], depth], axis=-1)


def normals_from_depth(depth, intrinsics, mask=None):
    """Unit normals (H, W, 3) from depth by central differences of the back-projected points.

    Pixels whose 4-neighbourhood leaves the foreground (`mask`, default depth > 0) get 0.
    """
    points = backproject(depth, intrinsics)
    mask = np.asarray(depth) > 0 if mask is None else np.asarray(mask, bool)
    du = np.zeros_like(points)
    dv = np.zeros_like(points)
    du[:, 1:-1] = points[:, 2:] - points[:, :-2]
    dv[1:-1] = points[2:] - points[:-2]
    n = np.cross(dv, du)  # dv x du points towards the camera for a fronto-parallel surface
    valid = mask.copy()
    valid[:, 1:-1] &= mask[:, 2:] & mask[:, :-2]
    valid[1:-1] &= mask[2:] & mask[:-2]
    valid[[0, -1], :] = False
    valid[:, [0, -1]] = False
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(valid[..., None] & (norm > 0), n / np.maximum(norm, 1e-30), 0.0)
    return n.astype("float32")


def angular_error_deg(a, b):
    """Per-pixel angle in degrees between two normal maps (normalised here)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1)))
