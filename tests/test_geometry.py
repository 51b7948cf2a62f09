"""geometry: back-projection, normals from depth, point clouds and meshes against closed forms (plane, sphere)."""

import numpy as np
import pytest

from keras_patchnet import geometry

K = np.array([[120.0, 0, 31.5], [0, 120.0, 23.5], [0, 0, 1]])


def rays(h=48, w=64):
    v, u = np.mgrid[:h, :w].astype("float64")
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((h, w))], -1)


def plane(n=(0.3, -0.2, -1.0), d=-1.5):
    """Plane n . X = d, n towards the camera; depth Z = d / (n . ray)."""
    n = np.asarray(n) / np.linalg.norm(n)
    return d / (rays() @ n), n


def sphere(centre=(0.05, -0.03, 1.2), radius=0.5):
    """Front half of a sphere filling the image: depth along each ray and the outward (camera-facing) normals."""
    c, r = np.asarray(centre), radius
    ray = rays()
    a, b, cc = np.sum(ray * ray, -1), -2 * ray @ c, c @ c - r**2
    t = (-b - np.sqrt(b * b - 4 * a * cc)) / (2 * a)  # Z, since the rays have z = 1
    normals = (t[..., None] * ray - c) / r
    return t, normals


def test_backproject_is_the_inverse_of_projection():
    depth, _ = sphere()
    points = geometry.backproject(depth, K)
    uvw = points @ K.T
    v, u = np.mgrid[: depth.shape[0], : depth.shape[1]]
    np.testing.assert_allclose(uvw[..., 0] / uvw[..., 2], u, atol=1e-9)
    np.testing.assert_allclose(uvw[..., 1] / uvw[..., 2], v, atol=1e-9)
    np.testing.assert_allclose(points[..., 2], depth)


def test_normals_from_depth_of_a_plane_are_its_normal():
    depth, n = plane()
    normals = geometry.normals_from_depth(depth, K)
    inner = normals[1:-1, 1:-1]
    np.testing.assert_allclose(inner, np.broadcast_to(n, inner.shape), atol=1e-5)
    assert np.all(normals[0] == 0) and np.all(normals[:, -1] == 0)  # borders have no central difference


def test_normals_from_depth_of_a_sphere_match_the_closed_form():
    depth, n = sphere()
    err = geometry.angular_error_deg(geometry.normals_from_depth(depth, K)[1:-1, 1:-1], n[1:-1, 1:-1])
    assert np.median(err) < 0.05 and err.max() < 0.5, (np.median(err), err.max())


def test_point_cloud_lies_on_the_sphere_and_carries_normals_and_colours():
    depth, n = sphere()
    mask = np.zeros(depth.shape, bool)
    mask[5:40, 10:50] = True
    colors = np.random.default_rng(0).integers(0, 256, depth.shape + (3,)).astype("uint8")
    pc = geometry.point_cloud(depth[..., None], K, mask=mask, normals=n, colors=colors)
    assert pc["points"].shape == (35 * 40, 3) and pc["points"].dtype == np.float32
    radius = np.linalg.norm(pc["points"] - np.array([0.05, -0.03, 1.2]), axis=-1)
    np.testing.assert_allclose(radius, 0.5, atol=1e-6)
    np.testing.assert_allclose(pc["normals"], n[mask], atol=1e-6)
    np.testing.assert_array_equal(pc["colors"], colors[mask])


def test_mesh_faces_cover_the_grid_and_face_the_camera_along_the_true_normals():
    depth, n = sphere()
    vertices, faces = geometry.mesh(depth, K)
    h, w = depth.shape
    assert len(vertices) == h * w and faces.shape == (2 * (h - 1) * (w - 1), 3)
    tri = vertices[faces].astype("float64")
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert np.all(face_normals[:, 2] < 0)  # towards the camera, like the normal maps
    centroid = tri.mean(axis=1)
    true = (centroid - np.array([0.05, -0.03, 1.2])) / np.linalg.norm(
        centroid - np.array([0.05, -0.03, 1.2]), axis=-1, keepdims=True
    )
    assert geometry.angular_error_deg(face_normals, true).max() < 1.0


def test_mesh_respects_the_mask_and_max_edge():
    depth, _ = plane()
    mask = np.zeros(depth.shape, bool)
    mask[10:20, 10:30] = True
    vertices, faces = geometry.mesh(depth, K, mask=mask)
    assert len(vertices) == 200 and len(faces) == 2 * 9 * 19
    step = depth.copy()
    step[:, 32:] += 0.5  # a depth jump between columns 31 and 32
    _, all_faces = geometry.mesh(step, K)
    _, kept = geometry.mesh(step, K, max_edge=0.1)
    assert len(all_faces) - len(kept) == 2 * (depth.shape[0] - 1)


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path, binary):
    depth, n = sphere()
    vertices, faces = geometry.mesh(depth, K)
    colors = np.full((len(vertices), 3), 200, "uint8")
    path = geometry.write_ply(tmp_path / "s.ply", vertices, n.reshape(-1, 3), colors, faces, binary=binary)
    back = geometry.read_ply(path)
    np.testing.assert_allclose(back["points"], vertices, rtol=1e-6)
    np.testing.assert_allclose(back["normals"], n.reshape(-1, 3), atol=1e-6)
    np.testing.assert_array_equal(back["colors"], colors)
    np.testing.assert_array_equal(back["faces"], faces)
    header = open(path, "rb").read(200).decode("ascii", "replace")
    assert header.startswith("ply\nformat " + ("binary_little_endian" if binary else "ascii") + " 1.0\n")


def test_obj_writer(tmp_path):
    depth, n = plane()
    vertices, faces = geometry.mesh(depth[:4, :5], K)
    path = geometry.write_obj(tmp_path / "p.obj", vertices, faces, normals=n[None].repeat(len(vertices), 0))
    lines = open(path).read().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 20
    assert sum(line.startswith("vn ") for line in lines) == 20
    face_lines = [line for line in lines if line.startswith("f ")]
    assert len(face_lines) == len(faces) == 2 * 3 * 4
    first = [int(t.split("//")[0]) for t in face_lines[0].split()[1:]]
    assert first == (faces[0] + 1).tolist()


def test_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="`depth` must be 2D"):
        geometry.point_cloud(np.ones((2, 3, 4, 1)), K)
    with pytest.raises(ValueError, match="`intrinsics` must be a 3x3"):
        geometry.mesh(np.ones((4, 4)), np.eye(2))
    with pytest.raises(ValueError, match="`normals` must have one row per point"):
        geometry.write_ply(tmp_path / "x.ply", np.zeros((4, 3)), normals=np.zeros((3, 3)))
