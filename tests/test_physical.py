"""world="physical": the shape bank of simulated sheets, its statistics, and the image formation drawn from it
(ambient occlusion, cast shadows, a camera's tone curve), as for the procedural renderer in test_synthetic."""

import numpy as np
import pytest

from keras_patchnet.data import PatchNetDataset, SyntheticSource, render
from keras_patchnet.data.physical import BANK, ShapeBank, _depth_from, default_bank, sky_visibility

pytestmark = pytest.mark.skipif(
    not __import__("os").path.isdir(BANK + "/train"), reason="the shape bank is part of a source checkout"
)


def _plane(z=0.0, half=0.2, n=9):
    s, t = np.meshgrid(np.linspace(-half, half, n), np.linspace(-half, half, n), indexing="ij")
    return np.stack([s, t, np.full_like(s, z)], -1)


def test_the_bank_holds_every_training_scenario_with_folds_and_real_sizes():
    bank = default_bank()
    assert len(bank) >= 400 and bank.vertices.dtype == np.float32
    assert set(bank.scenarios) == {
        "drape_sphere", "drape_box", "drape_edge", "drop_bumpy", "hang_one", "hang_two", "push", "crumple"
    }  # fmt: skip
    relief, size = [], []
    for grid in bank.vertices[:400]:
        points = grid.reshape(-1, 3).astype("float64")
        centred = points - points.mean(0)
        spread = np.linalg.svd(centred, compute_uv=False) / np.sqrt(len(points))
        relief.append(spread[2])  # distance from the best-fit plane, rms: how much the sheet is folded
        size.append(np.ptp(points, 0).max())
    relief, size = np.array(relief), np.array(size)
    assert np.all(np.isfinite(bank.vertices)) and 0.15 < size.min() and size.max() < 1.0  # sheets of 0.25-0.7 m
    assert np.mean(relief > 0.01) > 0.5 and np.mean(relief > 0.05) > 0.1  # most sheets folded by > 1 cm
    assert np.mean(relief < 0.005) > 0.02  # and some nearly flat (paper lying, a sheet pushed a little)


def test_renders_from_the_bank_cover_the_frame_and_face_the_camera_at_many_angles():
    coverage, angles, depth = [], [], []
    for seed in range(24):
        s = render(seed, 96, 96, lighting="rig", world="physical")
        assert s.image.dtype == np.uint8 and s.params["world"] == "physical" and s.params["encoding"] == "srgb"
        coverage.append(s.mask.mean())
        n = s.normals[s.mask]
        v, u = np.nonzero(s.mask)
        K = s.intrinsics
        ray = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones(len(u))], -1)
        assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-3) and ((n * ray).sum(-1) <= 1e-6).all()
        angles.append(np.degrees(np.arccos(np.clip(-n[:, 2], -1, 1))).mean())
        depth.append((s.depth[s.mask].min(), s.depth[s.mask].max()))
    coverage, depth = np.array(coverage), np.array(depth)
    assert coverage.min() > 0.05 and 0.15 < coverage.mean() < 0.9 and coverage.max() > 0.4
    assert 0.6 < depth.min() and depth.max() < 2.0  # the sheet 1.0-1.4 m away, folds around it
    assert 8 < np.mean(angles) < 45 and np.max(angles) > 20
    a = render(5, 64, 64, lighting="fixed", world="physical")
    b = render(5, 64, 64, lighting="fixed", world="physical")
    np.testing.assert_array_equal(a.image, b.image)  # deterministic by seed
    with pytest.raises(ValueError, match="`kind` must be None"):
        render(0, 32, 32, kind="cloth", world="physical")


def test_sky_visibility_is_one_on_a_flat_sheet_and_lower_inside_a_fold():
    flat = sky_visibility(_plane())
    assert flat.mean() > 0.95 and flat.min() > 0.85  # a flat sheet sees its whole sky, up to the maps' bias
    s, t = np.meshgrid(np.linspace(-0.2, 0.2, 17), np.linspace(-0.2, 0.2, 9), indexing="ij")
    fold = np.stack([s, t, 0.6 * np.abs(s)], -1)  # a V: its inside (up) sees less sky than its outside
    vis = sky_visibility(fold)
    centre_sides = vis[3:6, 3:6].reshape(-1, 2).mean(0)
    assert min(centre_sides) < 0.85 < max(centre_sides)


def test_a_sheet_above_another_casts_a_shadow_on_it():
    points = np.array([[0.0, 0.0, 0.001], [0.15, 0.15, 0.001]])
    scene = np.concatenate([_plane(0.1, 0.05, 9), _plane(0.0, 0.2, 9)], axis=0)
    lit = _depth_from(points, scene, np.array([0.0, 0.0, 1.0]))
    assert lit[0] < 0.2 and lit[1] > 0.8  # under the upper sheet: shadowed; out in the open: lit


def test_the_patches_of_srgb_images_are_decoded_for_the_patch_network():
    source = SyntheticSource(2, 64, 64, lighting="fixed", world="physical")
    linear = PatchNetDataset(source, batch_size=2, mode="patches", patch_size=32, min_overlap=8, shuffle=False)
    srgb = PatchNetDataset(
        source, batch_size=2, mode="patches", patch_size=32, min_overlap=8, shuffle=False, input_encoding="srgb"
    )
    raw, decoded = linear[0][0], srgb[0][0]
    c = raw / 255.0
    np.testing.assert_allclose(
        decoded, 255 * np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4), atol=1e-3
    )
    images = PatchNetDataset(source, batch_size=2, shuffle=False, input_encoding="srgb")[0][0]
    np.testing.assert_array_equal(images, PatchNetDataset(source, batch_size=2, shuffle=False)[0][0])  # as they are


def test_a_missing_bank_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="No shape bank in"):
        ShapeBank(str(tmp_path))
