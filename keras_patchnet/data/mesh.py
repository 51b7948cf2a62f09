"""Sheets given as vertex grids (a simulated cloth, `tools/simulate_sheets.py`) drawn by a pinhole camera: exact depth,
normals and the silhouette, by a z-buffer rasteriser in NumPy.

A grid (G, G, 3) of points in the camera frame (OpenCV axes: x right, y down, z forward, metres) is two triangles
per cell. Each pixel centre (u, v) takes the nearest triangle that covers it; on a triangle 1/z is affine in the
image, so depth is exact for the flat triangle, and the normal is the vertex normals' perspective-correct
interpolation (smooth shading), turned to face the camera (a sheet seen from its back shows its other side).
"""

import numpy as np


def vertex_normals(grid):
    """(G, G, 3) points -> (G, G, 3) unit normals from central differences along the grid (one-sided at its edges),
    in the orientation of d/dj x d/di; rows or columns that collapse get the nearest valid normal's direction."""
    grid = np.asarray(grid, "float64")
    di = np.gradient(grid, axis=0)
    dj = np.gradient(grid, axis=1)
    n = np.cross(dj, di)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    return n / np.maximum(length, 1e-12)


def grid_triangles(rows, cols):
    """(2 (rows - 1)(cols - 1), 3) vertex indices of a grid's triangles (row-major vertex numbering)."""
    i, j = np.mgrid[: rows - 1, : cols - 1]
    a = (i * cols + j).ravel()
    b, c, d = a + 1, a + cols, a + cols + 1
    return np.concatenate([np.stack([a, c, b], -1), np.stack([b, c, d], -1)])


def rasterize(grid, intrinsics, height, width, near=0.05):
    """Draws a vertex grid in the camera frame.

    Args:
        grid: (G1, G2, 3) points in metres, camera frame.
        intrinsics: (3, 3) pinhole matrix.
        height, width: image size in pixels.
        near: triangles with a vertex closer than this (metres) are dropped.

    Returns:
        dict of "depth" (H, W) float32 metres (0 off the sheet), "normals" (H, W, 3) float32 unit vectors facing the
        camera (0 off the sheet), "mask" (H, W) bool, "triangle" (H, W) int32 (-1 off the sheet) and
        "barycentric" (H, W, 3) float32 perspective-correct weights of its vertices.
    """
    grid = np.asarray(grid, "float64")
    if grid.ndim != 3 or grid.shape[-1] != 3 or min(grid.shape[:2]) < 2:
        raise ValueError(f"`grid` must be (G1, G2, 3) with G1, G2 >= 2. Received: grid.shape={grid.shape}")
    K = np.asarray(intrinsics, "float64")
    rows, cols = grid.shape[:2]
    points = grid.reshape(-1, 3)
    normals = vertex_normals(grid).reshape(-1, 3)
    tris = grid_triangles(rows, cols)
    z = points[:, 2]
    keep = (z[tris] > near).all(axis=1)
    tris = tris[keep]
    u = K[0, 0] * points[:, 0] / np.maximum(z, 1e-12) + K[0, 2]
    v = K[1, 1] * points[:, 1] / np.maximum(z, 1e-12) + K[1, 2]
    tu, tv, tz = u[tris], v[tris], z[tris]  # (T, 3) each
    u0 = np.maximum(np.ceil(tu.min(1)), 0).astype("int64")
    u1 = np.minimum(np.floor(tu.max(1)), width - 1).astype("int64")
    v0 = np.maximum(np.ceil(tv.min(1)), 0).astype("int64")
    v1 = np.minimum(np.floor(tv.max(1)), height - 1).astype("int64")
    nu, nv = u1 - u0 + 1, v1 - v0 + 1
    live = (nu > 0) & (nv > 0)
    tris, tu, tv, tz, u0, v0, nu, nv = (a[live] for a in (tris, tu, tv, tz, u0, v0, nu, nv))
    area = nu * nv
    owner = np.repeat(np.arange(len(tris)), area)  # one candidate pixel per (triangle, bounding-box pixel)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(area) - area, area)
    pu = u0[owner] + k % nu[owner]
    pv = v0[owner] + k // nu[owner]
    # screen-space barycentric coordinates of the pixel centre
    au, av = tu[owner, 0], tv[owner, 0]
    e1u, e1v = tu[owner, 1] - au, tv[owner, 1] - av
    e2u, e2v = tu[owner, 2] - au, tv[owner, 2] - av
    det = e1u * e2v - e2u * e1v
    ok = np.abs(det) > 1e-12
    safe = np.where(ok, det, 1.0)
    b1 = ((pu - au) * e2v - e2u * (pv - av)) / safe
    b2 = (e1u * (pv - av) - (pu - au) * e1v) / safe
    b0 = 1.0 - b1 - b2
    eps = -1e-9
    inside = ok & (b0 >= eps) & (b1 >= eps) & (b2 >= eps)
    owner, pu, pv, b = owner[inside], pu[inside], pv[inside], np.stack([b0, b1, b2], -1)[inside]
    t = tz[owner]
    w0, w1, w2 = b[:, 0] / t[:, 0], b[:, 1] / t[:, 1], b[:, 2] / t[:, 2]  # column by column: no small-axis sums
    inv_z = w0 + w1 + w2  # 1/z is affine in the image on a flat triangle
    depth = 1.0 / inv_z
    pixel = pv * width + pu
    order = np.lexsort((depth, pixel))  # by pixel, nearest first
    pixel = pixel[order]
    first = np.ones(len(pixel), bool)
    first[1:] = pixel[1:] != pixel[:-1]
    keep_first = order[first]
    pixel, owner, depth = pixel[first], owner[keep_first], depth[keep_first]
    weights = np.stack([w0[keep_first], w1[keep_first], w2[keep_first]], -1) * depth[:, None]  # perspective-correct
    corner = tris[owner]
    n = (
        normals[corner[:, 0]] * weights[:, :1]
        + normals[corner[:, 1]] * weights[:, 1:2]
        + normals[corner[:, 2]] * weights[:, 2:]
    )
    n /= np.maximum(np.sqrt(n[:, 0] ** 2 + n[:, 1] ** 2 + n[:, 2] ** 2), 1e-12)[:, None]
    ray = np.stack([(pixel % width - K[0, 2]) / K[0, 0], (pixel // width - K[1, 2]) / K[1, 1], np.ones(len(pixel))], -1)
    n = np.where((n[:, 0] * ray[:, 0] + n[:, 1] * ray[:, 1] + n[:, 2] > 0)[:, None], -n, n)  # facing the camera
    out_depth = np.zeros(height * width, "float32")
    out_depth[pixel] = depth
    out_normals = np.zeros((height * width, 3), "float32")
    out_normals[pixel] = n
    triangle = np.full(height * width, -1, "int32")
    triangle[pixel] = np.flatnonzero(keep)[np.flatnonzero(live)[owner]]
    bary = np.zeros((height * width, 3), "float32")
    bary[pixel] = weights
    return {
        "depth": out_depth.reshape(height, width),
        "normals": out_normals.reshape(height, width, 3),
        "mask": out_depth.reshape(height, width) > 0,
        "triangle": triangle.reshape(height, width),
        "barycentric": bary.reshape(height, width, 3),
    }
