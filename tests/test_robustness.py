"""Any input a user has: non-finite pixels never spread, one documented reading of every dtype, empty
batches, patch counts that cannot come from the grid, metrics on nothing, flipped normals, and a seeded sweep of
the full model's inputs that must give finite maps or a clear error."""

import warnings

import keras
import numpy as np
import pytest

from keras_patchnet import losses, metrics, models
from keras_patchnet.layers import PatchExtract, PatchStitch
from tests.helpers import to_numpy, value_and_grad


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return models.unet(patch_size=32, width=2, min_overlap=8)


def outputs(model, x):
    return {k: to_numpy(v) for k, v in model(x).items()}


def images(shape=(2, 50, 70, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("where", ["background", "foreground", "inf"])
def test_one_non_finite_pixel_never_spreads(tiny, where):
    x = images()
    mask = np.zeros((2, 50, 70, 1), "float32")
    mask[:, 10:40, 10:60] = 1
    bad = x.copy()
    y, xpix = (5, 5) if where == "background" else (20, 30)
    bad[0, y, xpix, 1] = np.inf if where == "inf" else np.nan
    with pytest.warns(UserWarning, match="holds 1 non-finite value"):
        out = tiny.predict_on_batch({"images": bad, "mask": mask})
    assert all(np.isfinite(v).all() for v in out.values())
    clean = tiny.predict_on_batch({"images": x, "mask": mask})
    # the second image is untouched by the first one's bad pixel
    np.testing.assert_allclose(out["depth"][1], clean["depth"][1], atol=1e-5)
    if where == "background":  # outside the mask and the patches' reach of the surface: nothing changes nearby
        np.testing.assert_allclose(out["normals"][0, 30:, 40:], clean["normals"][0, 30:, 40:], atol=1e-5)


def test_all_nan_image_gives_finite_maps(tiny):
    with pytest.warns(UserWarning, match="non-finite"):
        out = tiny.predict_on_batch(np.full((1, 40, 40, 3), np.nan, "float32"))
    assert all(np.isfinite(v).all() for v in out.values())


def test_a_nan_depth_patch_is_missing_and_the_rest_is_exact():
    """Patches of a smooth surface with random offsets; one patch all NaN: the others still stitch back the surface
    (up to one constant) everywhere they cover, and nothing is NaN (exact with a foreground, finite without)."""
    extract = PatchExtract(32, min_overlap=8)
    v, u = np.mgrid[:80, :90].astype("float32")
    surface = (0.001 * u + 0.002 * v + 0.01 * np.sin(u / 9.0))[None, ..., None]
    patches = to_numpy(extract(surface)).copy()
    patches += np.random.default_rng(0).normal(0, 0.05, (len(patches), 1, 1, 1)).astype("float32")
    patches[4] = np.nan
    stitch = PatchStitch(32, min_overlap=8, mode="depth")
    assert np.isfinite(to_numpy(stitch(patches, output_size=(80, 90)))).all()  # without a foreground: finite
    out = to_numpy(stitch(patches, output_size=(80, 90), foreground=np.ones((1, 80, 90, 1), "float32")))
    assert np.isfinite(out).all()
    grid = extract.grid(80, 90)
    covered = np.zeros((80, 90), bool)
    for k, (y, x) in enumerate((y, x) for y in grid.origins_y for x in grid.origins_x):
        covered[y : y + 32, x : x + 32] |= k != 4
    assert 0 < (~covered).sum() and np.all(out[0, ~covered] == 0)  # no finite patch there: 0
    err = (out - surface)[0, ..., 0][covered]
    np.testing.assert_allclose(err - err.mean(), 0, atol=1e-4)  # the surface, shifted by one constant


def test_non_finite_normal_patches_are_missing():
    extract = PatchExtract(32, min_overlap=8)
    n = np.zeros((1, 60, 60, 3), "float32")
    n[..., 2] = -1
    patches = to_numpy(extract(n)).copy()
    patches[0, :5, :5] = np.nan
    out = to_numpy(PatchStitch(32, min_overlap=8, mode="normals")(patches, output_size=(60, 60)))
    np.testing.assert_allclose(out[0, 5:, 5:], n[0, 5:, 5:], atol=1e-6)
    assert np.isfinite(out).all()


def test_dtypes_are_read_by_the_contract(tiny):
    u8 = np.random.default_rng(1).integers(0, 256, (1, 40, 40, 3)).astype("uint8")
    ref = outputs(tiny, u8)
    for x in (u8.astype("float32"), u8.astype("uint16") * 257, u8.astype("int32"), u8.astype("float64")):
        out = outputs(tiny, x)
        np.testing.assert_allclose(out["depth"], ref["depth"], atol=1e-5, err_msg=str(x.dtype))
        np.testing.assert_allclose(out["normals"], ref["normals"], atol=1e-5, err_msg=str(x.dtype))
    with pytest.raises(TypeError, match="not bool"):
        tiny(u8 > 100)


def test_unit_float_images_warn_where_brightness_is_absolute():
    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, intensity="none")
    with pytest.warns(UserWarning, match="multiply"):
        model.predict_on_batch(images((1, 32, 32, 3)) / 255.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict_on_batch(images((1, 32, 32, 3)))
    assert not [w for w in caught if "multiply" in str(w.message)]


def test_range_does_not_matter_under_per_patch_intensity(tiny):
    x = images((1, 40, 40, 3))
    a, b = outputs(tiny, x), outputs(tiny, x / 255.0)
    np.testing.assert_allclose(a["depth"], b["depth"], atol=1e-4)


@pytest.mark.parametrize("call", ["call", "predict", "predict_on_batch", "mask"])
def test_empty_batch_gives_empty_maps(tiny, call):
    x = np.zeros((0, 40, 50, 3), "float32")
    if call == "call":
        out = tiny(x)
    elif call == "mask":
        out = tiny({"images": x, "mask": np.zeros((0, 40, 50, 1), "float32")})
    else:
        out = getattr(tiny, call)(x)
    assert tuple(out["depth"].shape) == (0, 40, 50, 1) and tuple(out["normals"].shape) == (0, 40, 50, 3)


def test_stitch_refuses_patch_counts_its_grid_cannot_give():
    stitch = PatchStitch(64, min_overlap=32)
    patches = np.zeros((36, 64, 64, 1), "float32")  # a 200x200 grid's 36 patches
    with pytest.raises(ValueError, match="holds 36 patches, but 1 image.* give 9"):
        stitch(patches, output_size=(112, 112), batch_size=1)
    with pytest.raises(ValueError, match="holds 9 patches, but 1 image.* give 1"):
        PatchStitch(64, mode="depth")(patches[:9], output_size=(50, 50), foreground=np.ones((1, 50, 50, 1)))
    assert stitch(patches, output_size=(112, 112), batch_size=4).shape[0] == 4


def test_metrics_on_nothing_are_nan_and_count_skipped_images():
    t = np.zeros((2, 8, 8, 1), "float32")
    n = np.zeros((2, 8, 8, 3), "float32")
    for m, (yt, yp) in [
        (metrics.DepthMAE(), (t, t + 1)),
        (metrics.MeanAngularError(), (n, n + 1)),
        (metrics.AngleUnder(), (n, n + 1)),
    ]:
        m.update_state(yt, yp)
        assert np.isnan(float(to_numpy(m.result()))), m.name
        assert float(to_numpy(m.skipped)) == 2
    result = metrics.evaluate_maps(t, t + 1, n, n + 1)
    assert np.isnan(result["mean"]["depth_mae_mm"]) and result["skipped"] == {"depth": 2, "normals": 2}


def test_flipped_normals_turn_towards_the_target():
    """Gradient descent on the default normal loss from exactly flipped predictions: the l2 term gives the signal
    that the angle alone cannot (its gradient vanishes at 180 degrees, shown for l2=0)."""
    rng = np.random.default_rng(0)
    target = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    target /= np.linalg.norm(target, axis=-1, keepdims=True)

    def mean_angle(p):
        cos = np.sum(p * target, -1) / np.linalg.norm(p, axis=-1)
        return np.degrees(np.arccos(np.clip(cos, -1, 1))).mean()

    def total(l2):  # summed over pixels and samples, so the step is per pixel
        return lambda p: keras.ops.sum(losses.normal_loss(target, p, l2=l2)) * 36

    _, g = value_and_grad(total(0.0), -target)
    assert np.abs(g).max() < 1e-2  # the report's loss: no signal (float rounding only)
    _, g = value_and_grad(total(1.0), -target)
    assert np.linalg.norm(g, axis=-1).min() > 1.0  # the default: 4 per pixel, towards the target
    pred = -target
    for _ in range(20):
        _, g = value_and_grad(total(1.0), pred)
        pred = pred - 0.05 * g
    assert mean_angle(-target) > 179 and mean_angle(pred) < 5


CASES = [  # dtype, shape, value scale, NaN share, mask
    ("uint8", (1, 1, 1, 3), 255, 0, False),
    ("float32", (2, 300, 500, 3), 1.0, 0.0, True),
    ("uint16", (1, 33, 17, 3), 65535, 0, True),
    ("float64", (1, 64, 64, 3), 1e30, 0.0, False),
    ("float32", (1, 45, 90, 3), 255, 0.3, True),
    ("float32", (1, 20, 20, 3), 255, 1.0, False),
    ("float16", (1, 31, 40, 3), 255, 0.01, False),
    ("int32", (1, 40, 40, 3), 255, 0, True),
    ("float32", (1, 40, 40), 255, 0, False),
    ("float32", (1, 40, 40, 1), 255, 0, False),
    ("bool", (1, 40, 40, 3), 1, 0, False),
    ("float32", (0, 40, 40, 3), 255, 0, True),
    ("float32", (40, 40, 3), 255, 0, False),
    ("float32", (1, 40, 40, 3), -255, 0.1, True),
]


@pytest.mark.parametrize("dtype, shape, scale, nan_share, with_mask", CASES)
def test_input_sweep_gives_finite_maps_or_a_clear_error(tiny, dtype, shape, scale, nan_share, with_mask):
    rng = np.random.default_rng(len(shape) * 1000 + int(np.prod(shape)))
    x = rng.uniform(0, 1, shape) * scale
    if nan_share and np.issubdtype(np.dtype(dtype), np.floating):
        x[rng.uniform(size=shape) < nan_share] = np.nan
    x = x.astype(dtype)
    inputs = x
    if with_mask:
        mask = (rng.uniform(size=shape[:-1] + (1,)) < 0.7).astype("float32")
        inputs = {"images": x, "mask": mask}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = tiny.predict_on_batch(inputs)
    except (ValueError, TypeError) as e:
        message = str(e)
        assert "`images`" in message or "`mask`" in message, message
        assert len(shape) != 4 or shape[-1] != 3 or dtype == "bool", message  # only bad input is refused
        return
    assert len(shape) == 4 and shape[-1] == 3 and dtype != "bool"
    assert tuple(out["depth"].shape) == shape[:3] + (1,) and tuple(out["normals"].shape) == shape
    assert np.isfinite(out["depth"]).all() and np.isfinite(out["normals"]).all()


def test_save_prediction_and_stitch_batch_size_refuse_bad_arguments(tmp_path):
    from keras_patchnet.io import save_prediction

    image, mask = np.zeros((8, 10, 3), "uint8"), np.ones((8, 10), bool)
    depth, normals, K = np.zeros((8, 10, 1)), np.zeros((8, 10, 3)), np.eye(3)
    stem = str(tmp_path / "x")
    assert len(save_prediction(stem, image, depth, normals, mask, K, figure=False)) == 5
    with pytest.raises(ValueError, match=r"`normals` must have shape \(8, 10, 3\)"):
        save_prediction(stem, image, depth, normals[:4], mask, K)
    with pytest.raises(ValueError, match="`mask` must be"):
        save_prediction(stem, image, depth, normals, mask[None], K)
    with pytest.raises(ValueError, match="`intrinsics` must be a 3x3"):
        save_prediction(stem, image, depth, normals, mask, np.eye(4))
    with pytest.raises(ValueError, match="`batch_size` must be an int"):
        PatchStitch(32, min_overlap=8)(np.zeros((4, 32, 32, 1), "float32"), output_size=(50, 50), batch_size="1")
