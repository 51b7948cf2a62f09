"""Depth <-> 3D points and normals for a pinhole camera (OpenCV frame: x right, y down, z forward). NumPy only.

Normals point to the camera (n_z < 0 for a surface facing it), the convention of the renderer and the dataset.
"""

import numpy as np


def check_intrinsics(intrinsics, name="intrinsics"):
    """Returns `intrinsics` as a float64 3x3 matrix after checking it is a camera: finite, with positive focal
    lengths (fx = K[0, 0], fy = K[1, 1]); raises `ValueError` naming what is wrong."""
    K = np.asarray(intrinsics, "float64")
    if K.shape != (3, 3):
        raise ValueError(f"`{name}` must be a 3x3 matrix. Received: {name}.shape={K.shape}")
    if not np.isfinite(K).all():
        raise ValueError(f"`{name}` must be finite. Received a matrix with NaN or inf: {K.tolist()}")
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise ValueError(f"`{name}` must have positive focal lengths. Received: fx={K[0, 0]}, fy={K[1, 1]}")
    return K


def backproject(depth, intrinsics):
    """(H, W) depth in metres -> (H, W, 3) camera-frame points, X = Z (u - cx) / fx, Y = Z (v - cy) / fy."""
    depth = np.asarray(depth, "float64")
    if depth.ndim != 2:
        raise ValueError(f"`depth` must be 2D (H, W). Received: depth.shape={depth.shape}")
    K = check_intrinsics(intrinsics)
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
    """Per-pixel angle in degrees between two normal maps (normalised here; a zero vector is 90 degrees off)."""
    la, lb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    a, b = a / np.maximum(la, 1e-12), b / np.maximum(lb, 1e-12)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    degrees = np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1)))
    return np.where((la[..., 0] > 1e-12) & (lb[..., 0] > 1e-12), degrees, 90.0)  # no direction: 90, never 0


def _points_and_mask(depth, intrinsics, mask):
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    points = backproject(depth, intrinsics)
    mask = (depth > 0) & np.isfinite(depth) if mask is None else np.asarray(mask, bool).reshape(depth.shape)
    return points, mask


def point_cloud(depth, intrinsics, mask=None, normals=None, colors=None):
    """Foreground pixels as a point cloud.

    Args:
        depth: (H, W) or (H, W, 1) depth in metres (absolute: add the camera distance to a relative prediction).
        intrinsics: (3, 3) pinhole matrix.
        mask: (H, W) bool foreground; default depth > 0.
        normals: optional (H, W, 3) normals, carried per point.
        colors: optional (H, W, 3) uint8 image, carried per point.

    Returns:
        dict with "points" (M, 3) float32 and, when given, "normals" (M, 3) float32 and "colors" (M, 3) uint8, in
        row-major pixel order.

    >>> pc = point_cloud(np.full((2, 3), 2.0), [[1, 0, 1], [0, 1, 0.5], [0, 0, 1]])
    >>> pc["points"][0].tolist()
    [-2.0, -1.0, 2.0]
    """
    points, mask = _points_and_mask(depth, intrinsics, mask)
    out = {"points": points[mask].astype("float32")}
    if normals is not None:
        out["normals"] = np.asarray(normals, "float32").reshape(mask.shape + (3,))[mask]
    if colors is not None:
        out["colors"] = np.asarray(colors).reshape(mask.shape + (3,))[mask].astype("uint8")
    return out


def mesh(depth, intrinsics, mask=None, max_edge=None):
    """A triangle mesh over the foreground's pixel grid: two triangles per 2 x 2 block of foreground pixels, wound so
    that their normals point to the camera (like the normal maps).

    Args:
        depth, intrinsics, mask: as in `point_cloud`.
        max_edge: drop triangles with an edge longer than this (metres), to keep depth jumps open; default None
            (keep all).

    Returns:
        (vertices (M, 3) float32, faces (F, 3) int64 indices into vertices).
    """
    points, mask = _points_and_mask(depth, intrinsics, mask)
    index = np.full(mask.shape, -1, "int64")
    index[mask] = np.arange(int(mask.sum()))
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]  # a b / c d
    # (a, c, b): (c - a) x (b - a) = down x right, which points to -z, i.e. to the camera.
    faces = np.concatenate(
        [
            np.stack([a, c, b], -1)[(a >= 0) & (b >= 0) & (c >= 0)],
            np.stack([b, c, d], -1)[(b >= 0) & (c >= 0) & (d >= 0)],
        ]
    )
    vertices = points[mask].astype("float32")
    if max_edge is not None and len(faces):
        tri = vertices[faces]
        edges = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=-1)
        faces = faces[edges.max(axis=1) <= max_edge]
    return vertices, faces.reshape(-1, 3)


def write_ply(path, points, normals=None, colors=None, faces=None, binary=True):
    """Writes a PLY file (binary little-endian by default, or ASCII) with float32 x y z, optional nx ny nz, optional
    uchar red green blue and optional triangle faces. Readable by MeshLab, Open3D, CloudCompare and Blender."""
    points = np.asarray(points, "float32").reshape(-1, 3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    columns = [points]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        columns.append(np.asarray(normals, "float32").reshape(-1, 3))
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        columns.append(np.asarray(colors, "uint8").reshape(-1, 3))
    for name, column in zip(("normals", "colors"), columns[1:]):
        if len(column) != len(points):
            raise ValueError(f"`{name}` must have one row per point ({len(points)}). Received {len(column)} rows")
    vertex = np.empty(len(points), dtype=fields)
    for i, (name, _) in enumerate(fields):
        vertex[name] = columns[i // 3][:, i % 3]
    faces = np.zeros((0, 3), "int32") if faces is None else np.asarray(faces).reshape(-1, 3)
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment keras-patchnet",
        f"element vertex {len(points)}",
    ]
    header += [f"property {'float' if kind == '<f4' else 'uchar'} {name}" for name, kind in fields]
    if len(faces):
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            f.write(vertex.tobytes())
            if len(faces):
                face = np.empty(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
                face["n"], face["v"] = 3, faces
                f.write(face.tobytes())
        else:
            for row in vertex:
                f.write((" ".join(_ply_number(v) for v in row) + "\n").encode("ascii"))
            for tri in faces:
                f.write(f"3 {tri[0]} {tri[1]} {tri[2]}\n".encode("ascii"))
    return path


def _ply_number(value):
    return str(int(value)) if isinstance(value, np.integer) else repr(float(value))


def write_obj(path, vertices, faces, normals=None):
    """Writes a Wavefront OBJ mesh (1-based indices; with per-vertex normals when given)."""
    vertices = np.asarray(vertices, "float64").reshape(-1, 3)
    faces = np.asarray(faces).reshape(-1, 3) + 1
    with open(path, "w") as f:
        f.write("# keras-patchnet\n")
        np.savetxt(f, vertices, fmt="v %.6f %.6f %.6f")
        if normals is not None:
            np.savetxt(f, np.asarray(normals, "float64").reshape(-1, 3), fmt="vn %.6f %.6f %.6f")
            np.savetxt(f, np.repeat(faces, 2, axis=1), fmt="f %d//%d %d//%d %d//%d")
        else:
            np.savetxt(f, faces, fmt="f %d %d %d")
    return path


def read_ply(path):
    """Reads back what `write_ply` writes (binary or ASCII): dict with "points" and, if present, "normals",
    "colors" and "faces". Meant for tests and quick checks, not as a general PLY reader."""
    with open(path, "rb") as f:
        header = []
        while True:
            line = f.readline().decode("ascii").strip()
            header.append(line)
            if line == "end_header":
                break
        body = f.read()
    binary = "binary_little_endian" in header[1]
    fields, n_vertex, n_face = [], 0, 0
    for line in header:
        words = line.split()
        if words[:2] == ["element", "vertex"]:
            n_vertex = int(words[2])
        elif words[:2] == ["element", "face"]:
            n_face = int(words[2])
        elif words[0] == "property" and words[1] != "list":
            fields.append((words[2], "<f4" if words[1] == "float" else "u1"))
    if binary:
        vertex = np.frombuffer(body, dtype=fields, count=n_vertex)
        face = np.frombuffer(body, dtype=[("n", "u1"), ("v", "<i4", (3,))], count=n_face, offset=vertex.nbytes)
        faces = face["v"].astype("int64")
    else:
        rows = body.decode("ascii").splitlines()
        table = np.array([r.split() for r in rows[:n_vertex]], "float64").reshape(n_vertex, len(fields))
        vertex = np.empty(n_vertex, dtype=fields)
        for i, (name, _) in enumerate(fields):
            vertex[name] = table[:, i]
        faces = np.array([r.split()[1:] for r in rows[n_vertex : n_vertex + n_face]], "int64").reshape(-1, 3)
    names = vertex.dtype.names
    out = {"points": np.stack([vertex[k] for k in ("x", "y", "z")], -1)}
    if "nx" in names:
        out["normals"] = np.stack([vertex[k] for k in ("nx", "ny", "nz")], -1)
    if "red" in names:
        out["colors"] = np.stack([vertex[k] for k in ("red", "green", "blue")], -1)
    if n_face:
        out["faces"] = faces
    return out
