"""The vertex-grid rasteriser (`kp.data.mesh`): exact depth of flat triangles, normals facing the camera, the
nearest surface wins, and normals agree with normals from the depth it draws."""

import numpy as np
import pytest

from keras_patchnet.data import intrinsics
from keras_patchnet.data.mesh import grid_triangles, rasterize
from keras_patchnet.geometry import angular_error_deg, normals_from_depth


def _plane(normal_tilt=(0.3, -0.2), z0=1.2, half=0.15, n=17):
    s, t = np.meshgrid(np.linspace(-half, half, n), np.linspace(-half, half, n), indexing="ij")
    return np.stack([s, t, z0 + normal_tilt[0] * s + normal_tilt[1] * t], -1)


def test_a_tilted_plane_has_exact_depth_and_one_normal():
    K = intrinsics(64, 64)
    out = rasterize(_plane(), K, 64, 64)
    m = out["mask"]
    assert 0.3 < m.mean() < 0.9
    v, u = np.nonzero(m)
    xn, yn = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    # the plane z = z0 + a x + b y met by the ray (xn, yn, 1) z: z = z0 / (1 - a xn - b yn)
    expected = 1.2 / (1 - 0.3 * xn + 0.2 * yn)
    np.testing.assert_allclose(out["depth"][m], expected, rtol=1e-5)
    n = np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])
    np.testing.assert_allclose(out["normals"][m], np.broadcast_to(n, (m.sum(), 3)), atol=1e-5)
    assert (out["depth"][~m] == 0).all() and (out["triangle"][~m] == -1).all()


def test_the_back_of_a_sheet_faces_the_camera_and_the_nearest_sheet_wins():
    K = intrinsics(48, 48)
    flipped = _plane()[::-1]  # the same plane with its triangles wound the other way
    out = rasterize(flipped, K, 48, 48)
    assert (out["normals"][out["mask"]][:, 2] < 0).all()
    near, far = _plane((0, 0), 1.0, 0.05, 5), _plane((0, 0), 1.3, 0.2, 5)
    both = np.concatenate([far, near], axis=0)  # one grid holding both (joined by a strip of triangles)
    out = rasterize(both, K, 48, 48)
    centre = out["depth"][22:26, 22:26]
    np.testing.assert_allclose(centre, 1.0, atol=1e-6)


def test_normals_agree_with_normals_from_the_depth_on_a_sphere_cap():
    K = intrinsics(96, 96)
    a, b = np.meshgrid(np.linspace(-0.9, 0.9, 61), np.linspace(-0.9, 0.9, 61), indexing="ij")
    r = 0.2
    grid = np.stack([r * np.sin(a), r * np.sin(b) * np.cos(a), 1.2 - r * np.cos(a) * np.cos(b)], -1)
    out = rasterize(grid, K, 96, 96)
    from_depth = normals_from_depth(out["depth"], K)
    both = out["mask"] & (np.linalg.norm(from_depth, axis=-1) > 0)
    assert both.sum() > 1000
    assert np.median(angular_error_deg(out["normals"][both], from_depth[both])) < 1.0


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match="grid"):
        rasterize(np.zeros((1, 5, 3)), intrinsics(8, 8), 8, 8)
    assert grid_triangles(3, 4).shape == (12, 3)
