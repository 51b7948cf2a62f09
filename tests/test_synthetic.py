import numpy as np
import pytest

from keras_patchnet.data import flip_horizontal, render, render_batch
from keras_patchnet.data.synthetic import DEPTH_RANGE, KINDS
from keras_patchnet.geometry import angular_error_deg, normals_from_depth


@pytest.mark.parametrize("seed", range(6))
def test_normals_agree_with_normals_from_the_rendered_depth(seed):
    s = render(seed)
    fd = normals_from_depth(s.depth, s.intrinsics)
    valid = np.linalg.norm(fd, axis=-1) > 0
    assert valid.sum() > 1000
    assert np.median(angular_error_deg(fd, s.normals)[valid]) < 3.0


def test_normals_are_unit_face_the_camera_and_vanish_on_background():
    s = render(3)
    n = s.normals[s.mask]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
    points = s.depth[s.mask][:, None] * np.ones(3)
    assert (n[:, 2] < 0).mean() > 0.99 and points.min() > 0
    assert not s.normals[~s.mask].any() and not s.depth[~s.mask].any()


def test_shading_follows_the_light_model_where_unlit_by_highlights():
    # One directional light, no highlight: image = albedo * (ambient + power * tint * max(0, n.l)) + noise.
    for seed in range(200):
        s = render(seed, 96, 96, kind="paper")
        p = s.params
        if p["n_lights"] == 1 and p["lights"][0][0] == "directional":
            break
    else:
        pytest.fail("no single-directional-light sample in 200 seeds")
    light = np.array(p["lights"][0][1])
    light /= np.linalg.norm(light)
    lambert = np.clip(s.normals[s.mask] @ light, 0, None)
    predicted = p["albedo"] * (p["ambient"] + p["lights"][0][2] * lambert)
    observed = s.image[s.mask].astype("float64").mean(axis=-1) / 255.0
    unsaturated = (observed < 0.98) & (observed > 0.02)
    err = np.abs(observed - predicted)[unsaturated]
    # tint (±5%), an optional weak highlight, noise (sigma <= 0.02) and 8-bit rounding bound the difference
    assert np.median(err) < 0.03 + 3 * p["noise_sigma"]


def test_batch_statistics_are_in_the_documented_ranges():
    batch = [render(1000 + i) for i in range(40)]
    z0 = np.array([s.params["z0"] for s in batch])
    assert DEPTH_RANGE[0] <= z0.min() and z0.max() <= DEPTH_RANGE[1]
    fg = np.array([s.mask.mean() for s in batch])
    assert 0.05 < fg.min() and fg.max() < 0.95 and 0.2 < fg.mean() < 0.6
    lights = {s.params["n_lights"] for s in batch}
    assert lights <= {1, 2, 3, 4} and len(lights) >= 3
    assert {s.params["kind"] for s in batch} == set(KINDS)
    depth = np.concatenate([s.depth[s.mask] for s in batch])
    assert 0.6 < depth.min() and depth.max() < 2.0


def test_same_seed_same_sample_and_different_seeds_differ():
    a, b, c = render(7, 64, 64), render(7, 64, 64), render(8, 64, 64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth, b.depth)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("size", [(32, 48), (300, 200)])
def test_any_output_size(size):
    s = render(0, *size)
    assert s.image.shape == size + (3,) and s.depth.shape == size and s.normals.shape == size + (3,)
    b = render_batch([1, 2], *size)
    assert b["images"].shape == (2, *size, 3) and b["depth"].shape == (2, *size, 1)


def test_flipped_normals_match_normals_from_the_flipped_depth():
    s = render(11)._asdict()
    f = flip_horizontal(s)
    fd = normals_from_depth(f["depth"], s["intrinsics"])
    valid = np.linalg.norm(fd, axis=-1) > 0
    assert np.median(angular_error_deg(fd, f["normals"])[valid]) < 3.0
    # and a flip that forgot to negate n_x would fail the same check
    wrong = s["normals"][:, ::-1]
    assert np.median(angular_error_deg(fd, wrong)[valid]) > 3.0 or np.abs(f["normals"][..., 0]).max() < 1e-3


def test_unknown_kind_or_lighting_is_refused():
    with pytest.raises(ValueError, match="`kind` must be one of"):
        render(0, kind="leather")
    with pytest.raises(ValueError, match="`lighting` must be one of"):
        render(0, lighting="studio")


@pytest.mark.parametrize("lighting", ["rig", "random"])
def test_both_lightings_give_one_to_four_lights_on_the_camera_side(lighting):
    counts = set()
    for seed in range(30):
        p = render(seed, 32, 32, lighting=lighting).params
        counts.add(p["n_lights"])
        for kind, where, _ in p["lights"]:
            assert kind in ("directional", "point")
            assert where[2] < 0 if kind == "directional" else True
    assert counts <= {1, 2, 3, 4} and len(counts) >= 3


def test_fixed_lighting_is_one_directional_light_from_fixed_light():
    from keras_patchnet.data import synthetic

    for seed in (0, 1):
        lights = render(seed, 32, 32, lighting="fixed").params["lights"]
        assert len(lights) == 1 and lights[0][0] == "directional"
        np.testing.assert_allclose(lights[0][1], synthetic.FIXED_LIGHT)
    with pytest.raises(ValueError, match="`lighting` must be one of"):
        render(0, 32, 32, lighting="studio")


@pytest.mark.parametrize("seed", range(4))
def test_wide_world_normals_agree_with_its_depth(seed):
    s = render(300 + seed, 160, 160, world="wide")
    fd = normals_from_depth(s.depth, s.intrinsics)
    valid = np.linalg.norm(fd, axis=-1) > 0
    assert valid.sum() > 500
    assert np.median(angular_error_deg(fd, s.normals)[valid]) < 3.0


def test_wide_world_statistics():
    """Steep tilts, sheets from a third of the frame to cut by it, every kind, other albedos."""
    from keras_patchnet.data.synthetic import WIDE_KINDS, WIDE_SLANT_DEG

    batch = [render(2000 + i, 64, 64, world="wide") for i in range(60)]
    slant = np.array([s.params["slant_deg"] for s in batch])
    assert slant.max() > 55 and slant.min() < 15 and slant.max() <= WIDE_SLANT_DEG + 1e-6
    fg = np.array([s.mask.mean() for s in batch])
    assert fg.min() < 0.35 and fg.max() > 0.85
    cut = np.mean([s.mask[0].any() or s.mask[-1].any() or s.mask[:, 0].any() or s.mask[:, -1].any() for s in batch])
    assert cut > 0.3  # a share of the sheets are cut by the frame
    assert {s.params["kind"] for s in batch} == set(WIDE_KINDS)
    albedo = np.array([s.params["albedo"] for s in batch])
    assert albedo.min() < 0.65 and albedo.max() > 0.85
    depth = np.concatenate([s.depth[s.mask] for s in batch])
    assert depth.min() > 0.3  # steep sheets stay in front of the camera
    for s in batch:
        n = s.normals[s.mask]
        np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
        assert (n[:, 2] < 0).all()


def test_the_standard_world_is_unchanged_and_worlds_are_checked():
    a, b = render(11, 48, 48), render(11, 48, 48, world="standard")
    assert (a.image == b.image).all() and a.params["kind"] in KINDS
    with pytest.raises(ValueError, match="`world` must be one of"):
        render(0, 32, 32, world="huge")
    with pytest.raises(ValueError, match="`kind` must be one of"):
        render(0, 32, 32, kind="rolled")  # a wide-world kind
