import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_patchnet.layers import PatchExtract, PatchStitch
from keras_patchnet.ops import patches as patch_ops
from tests.helpers import BACKEND, assert_config_complete, check_gradient, layer_roundtrip, to_numpy


def smooth_surface(batch, height, width, seed=0):
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(batch):
        a, b, c = rng.uniform(1, 4, 3)
        maps.append(1.2 + 0.08 * np.sin(a * yy + c) * np.cos(b * xx) + 0.05 * yy)
    return np.stack(maps)[..., None].astype("float32")


def disc_mask(batch, height, width, radius=0.45):
    yy, xx = np.mgrid[:height, :width]
    disc = np.hypot(yy / height - 0.5, xx / width - 0.5) < radius
    return np.repeat(disc[None, ..., None], batch, 0).astype("float32")


def shifted_patches(depth, extract, seed=0):
    patches = to_numpy(extract(depth))
    offsets = np.random.default_rng(seed).uniform(-0.2, 0.2, (len(patches), 1, 1, 1)).astype("float32")
    return patches + offsets


def error_up_to_a_constant(result, truth, mask):
    worst = 0.0
    for r, t, m in zip(result, truth, mask):
        e = (r - t)[m > 0]
        worst = max(worst, np.abs(e - e.mean()).max())
    return worst


@pytest.mark.parametrize("size, rule", [((224, 224), "even"), ((224, 224), "half_stride"), ((300, 200), "even")])
@pytest.mark.parametrize("masked", [False, True])
def test_depth_stitch_undoes_random_patch_offsets(size, rule, masked):
    depth = smooth_surface(2, *size)
    extract = PatchExtract(128, min_overlap=64, rule=rule)
    patches = shifted_patches(depth, extract)
    mask = disc_mask(2, *size) if masked else np.ones_like(depth)
    stitch = PatchStitch(128, min_overlap=64, rule=rule, mode="depth")
    out = to_numpy(stitch(patches, output_size=size, foreground=mask if masked else None))
    assert error_up_to_a_constant(out, depth, mask) < 1e-5


def test_adding_a_constant_to_one_patch_shifts_the_result_globally():
    depth = smooth_surface(1, 224, 224, seed=3)
    extract = PatchExtract(128, min_overlap=1)
    stitch = PatchStitch(128, min_overlap=1, mode="depth")
    noisy = to_numpy(extract(depth)) + np.random.default_rng(0).normal(0, 0.01, (4, 128, 128, 1)).astype("float32")
    base = to_numpy(stitch(noisy, output_size=(224, 224)))
    bumped = noisy.copy()
    bumped[2] += 0.3
    moved = to_numpy(stitch(bumped, output_size=(224, 224)))
    diff = moved - base
    assert np.abs(diff - diff.mean()).max() < 1e-5


def test_patch_without_shared_foreground_gets_finite_offset_and_empty_mask_is_finite():
    depth = smooth_surface(1, 224, 224)
    extract = PatchExtract(128, min_overlap=64)
    patches = shifted_patches(depth, extract)
    stitch = PatchStitch(128, min_overlap=64, mode="depth")
    corners = np.zeros((1, 224, 224, 1), "float32")
    corners[:, :40, :40] = 1  # only patch 0 sees it
    corners[:, 190:, 190:] = 1  # only patch 8 sees it
    offsets = patch_ops.depth_offsets(patches, extract.grid(224, 224), corners)[0]
    offsets = to_numpy(offsets)
    assert np.isfinite(offsets).all() and np.abs(offsets).max() < 1.0
    for mask in (corners, np.zeros_like(corners)):
        assert np.isfinite(to_numpy(stitch(patches, output_size=(224, 224), foreground=mask))).all()


def grid_count(grid):
    count = np.zeros((grid.height, grid.width))
    for oy in grid.origins_y:
        for ox in grid.origins_x:
            count[oy : oy + grid.patch_size, ox : ox + grid.patch_size] += 1
    return count


def test_normals_are_averaged_then_renormalised():
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(4, 16, 16, 3)).astype("float32")
    out = to_numpy(PatchStitch(16, min_overlap=4, mode="normals")(patches, output_size=(20, 28)))
    grid = PatchExtract(16, min_overlap=4).grid(20, 28)
    eps = 1e-6  # the documented epsilon of `normalize`: x / sqrt(|x|^2 + eps)
    unit = patches / np.sqrt(np.sum(patches.astype("float64") ** 2, axis=-1, keepdims=True) + eps)
    expected = np.zeros((grid.height, grid.width, 3))
    k = 0
    for oy in grid.origins_y:
        for ox in grid.origins_x:
            expected[oy : oy + 16, ox : ox + 16] += unit[k]
            k += 1
    expected /= grid_count(grid)[..., None]
    expected /= np.sqrt(np.sum(expected**2, axis=-1, keepdims=True) + eps)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


@pytest.mark.parametrize("size, masked", [((224, 224), False), ((300, 200), True)])
def test_conjugate_gradient_solver_gives_the_direct_solution(size, masked):
    depth = smooth_surface(2, *size, seed=5)
    extract = PatchExtract(128, min_overlap=32)
    patches = shifted_patches(depth, extract, seed=2)
    mask = disc_mask(2, *size) if masked else None
    direct = to_numpy(PatchStitch(128, min_overlap=32, mode="depth")(patches, output_size=size, foreground=mask))
    cg = to_numpy(
        PatchStitch(128, min_overlap=32, mode="depth", solver="cg")(patches, output_size=size, foreground=mask)
    )
    np.testing.assert_allclose(cg, direct, atol=2e-5)
    assert error_up_to_a_constant(cg, depth, np.ones_like(depth) if mask is None else mask) < 2e-5
    with pytest.raises(ValueError, match="`solver` must be one of"):
        PatchStitch(32, mode="depth", solver="lu")


# `weighted_patch_sums` multiplies shifted views of one array of s-pixel blocks on a grid regular on both axes
# (k = P / s of them an axis: k = 2 and 3 below, with different strides in y and x) and cuts the map into patches
# otherwise; both against a loop over the windows.
@pytest.mark.parametrize(
    "size, patch_size, overlap, regular",
    [((60, 44), 8, 4, (4, 4)), ((20, 42), 12, 6, (4, 6)), ((61, 44), 8, 4, (None, 4)), ((92, 76), 12, 4, (None, None))],
)
def test_weighted_patch_sums_match_a_loop_over_the_windows(size, patch_size, overlap, regular):
    from keras_patchnet.ops.grid import regular_step

    grid = PatchExtract(patch_size, min_overlap=overlap).grid(*size)
    assert (regular_step(grid.origins_y, patch_size), regular_step(grid.origins_x, patch_size)) == regular
    ny, nx = len(grid.origins_y), len(grid.origins_x)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, ny, nx, patch_size, patch_size)).astype("float32")
    image_map = rng.normal(size=(2, grid.padded_height, grid.padded_width)).astype("float32")
    expected = np.zeros((2, ny, nx))
    for iy, oy in enumerate(grid.origins_y):
        for ix, ox in enumerate(grid.origins_x):
            window = image_map[:, oy : oy + patch_size, ox : ox + patch_size].astype("float64")
            expected[:, iy, ix] = np.sum(x[:, iy, ix] * window, axis=(1, 2))
    out = patch_ops.weighted_patch_sums(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(image_map), grid)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-4)


# Finite depth patches take a shorter path through `stitch_depth` (no validity map, the offsets folded as constants);
# it must give what the general path, written out here from `depth_offsets`, gives.
@pytest.mark.parametrize("size, patch_size, overlap", [((60, 44), 8, 4), ((92, 76), 12, 4)])
@pytest.mark.parametrize("masked", [False, True])
def test_finite_depth_stitch_equals_the_general_path(size, patch_size, overlap, masked):
    depth = smooth_surface(2, *size, seed=4)
    extract = PatchExtract(patch_size, min_overlap=overlap)
    grid = extract.grid(*size)
    patches = shifted_patches(depth, extract, seed=1)
    mask = disc_mask(2, *size) if masked else None
    offsets, summed, valid, count = (to_numpy(v) for v in patch_ops.depth_offsets(patches, grid, mask))
    assert valid.min() == 1
    shifted = to_numpy(patch_ops.fold_patches(valid * offsets.reshape(-1, 1, 1, 1), grid))
    np.testing.assert_allclose(to_numpy(patch_ops.fold_constant_patches(offsets, grid)), shifted, atol=1e-5)
    general = ((summed + shifted) / np.maximum(count, 1))[:, : size[0], : size[1]]
    out = to_numpy(patch_ops.stitch_depth(patches, grid, mask))
    # float32 rounding in another order of summation moves the gauge (a constant, 1e-5 on JAX) and, off the
    # foreground, the offsets of patches that see little of it and are held by the ridge alone (2e-4 on JAX).
    on = np.ones(out.shape, bool) if mask is None else mask > 0
    assert np.ptp((out - general)[on]) < 1e-5 and np.abs(out - general)[on].max() < 5e-5
    np.testing.assert_allclose(out, general, atol=1e-3)


def test_depth_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    stitch = PatchStitch(8, min_overlap=3, mode="depth", dtype="float64")
    grid = stitch.grid(13, 14)
    patches = rng.normal(size=(2 * grid.num_patches, 8, 8, 1))
    mask = (rng.random((2, 13, 14, 1)) > 0.3).astype("float64")
    weights = rng.normal(size=(2, 13, 14, 1))
    fn = lambda p: keras.ops.sum(keras.ops.multiply(stitch(p, output_size=(13, 14), foreground=mask), weights))  # noqa: E731
    assert check_gradient(fn, patches) < 1e-4


def test_normals_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    stitch = PatchStitch(8, min_overlap=3, mode="normals", dtype="float64")
    patches = rng.normal(size=(4, 8, 8, 3))
    weights = rng.normal(size=(1, 13, 13, 3))
    fn = lambda p: keras.ops.sum(keras.ops.multiply(stitch(p, output_size=(13, 13)), weights))  # noqa: E731
    assert check_gradient(fn, patches) < 1e-4


@pytest.mark.parametrize("mode", ["mean", "normals", "depth"])
def test_config_roundtrip_and_keras_file(mode, tmp_path):
    channels = 1 if mode == "depth" else 3
    layer = PatchStitch(16, min_overlap=4, mode=mode)
    assert_config_complete(layer)
    patches = np.random.default_rng(0).normal(size=(8, 16, 16, channels)).astype("float32")
    layer_roundtrip(layer, patches, {"output_size": (20, 28)}, tmp_path=tmp_path, atol=1e-5)


def test_symbolic_call_with_none_batch_and_foreground():
    image = keras.Input((224, 224, 1))
    fg = keras.Input((224, 224, 1))
    patches = PatchExtract(128, min_overlap=64)(image)
    out = PatchStitch(128, min_overlap=64, mode="depth")(patches, output_size=(224, 224), foreground=fg)
    assert tuple(out.shape) == (None, 224, 224, 1)
    model = keras.Model([image, fg], out)
    depth = smooth_surface(2, 224, 224)
    assert to_numpy(model([depth, np.ones_like(depth)])).shape == (2, 224, 224, 1)


def test_runs_compiled_with_the_same_result():
    image = keras.Input((64, 80, 1))
    patches = PatchExtract(32, min_overlap=8)(image)
    out = PatchStitch(32, min_overlap=8, mode="depth")(patches, output_size=(64, 80))
    model = keras.Model(image, out)
    model.compile(jit_compile=BACKEND != "torch")
    x = smooth_surface(3, 64, 80)
    np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(model(x)), atol=1e-5)


@pytest.mark.parametrize("mode", ["mean", "normals", "depth"])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_are_finite(mode, policy):
    keras.config.set_dtype_policy(policy)
    channels = 1 if mode == "depth" else 3
    patches = np.random.default_rng(0).normal(size=(8, 16, 16, channels)).astype("float32")
    out = PatchStitch(16, min_overlap=4, mode=mode)(patches, output_size=(20, 28))
    assert np.isfinite(to_numpy(keras.ops.cast(out, "float32"))).all()


@pytest.mark.parametrize(
    "shape, kwargs, message",
    [
        ((10, 32, 32, 1), {"output_size": (64, 80)}, r"holds 10 patches, not a multiple of the 9 patches"),
        ((9, 30, 30, 1), {"output_size": (64, 80)}, r"`patches` must have shape \(batch \* num_patches, 32, 32"),
        ((9, 32, 32), {"output_size": (64, 80)}, r"`patches` must have shape"),
        ((9, 32, 32, 3), {"output_size": (64, 80)}, "Depth `patches` must have 1 channel"),
        ((9, 32, 32, 1), {"output_size": 64}, r"`output_size` must be a tuple \(height, width\)"),
        (
            (9, 32, 32, 1),
            {"output_size": (64, 80), "foreground": np.ones((1, 64, 81, 1))},
            "`foreground` must have shape",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchStitch(32, min_overlap=8, mode="depth")(np.zeros(shape, "float32"), **kwargs)


def test_bad_mode_and_normals_channels():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        PatchStitch(32, mode="median")
    with pytest.raises(ValueError, match="Normal `patches` must have 3 channels"):
        PatchStitch(32, min_overlap=8, mode="normals")(np.zeros((9, 32, 32, 1), "float32"), output_size=(64, 80))


# 12 examples; 6 on JAX, where every new shape compiles its eager ops (5 s an example) and the grid logic under
# test is the backends' shared NumPy
@settings(max_examples=6 if keras.backend.backend() == "jax" else 12, deadline=None, derandomize=True)
@given(
    height=st.integers(1, 150),
    width=st.integers(1, 150),
    patch_size=st.integers(2, 48),
    overlap_share=st.floats(0, 0.95),
    rule=st.sampled_from(["even", "half_stride"]),
)
def test_roundtrip_and_finite_depth_for_random_grids(height, width, patch_size, overlap_share, rule):
    min_overlap = int(overlap_share * patch_size)
    x = np.random.default_rng(height * 1000 + width).random((1, height, width, 1)).astype("float32")
    extract = PatchExtract(patch_size, min_overlap=min_overlap, rule=rule)
    patches = extract(x)
    back = to_numpy(PatchStitch(patch_size, min_overlap=min_overlap, rule=rule)(patches, output_size=(height, width)))
    assert np.abs(back - x).max() < 1e-6
    depth = PatchStitch(patch_size, min_overlap=min_overlap, rule=rule, mode="depth")
    assert np.isfinite(to_numpy(depth(patches, output_size=(height, width), foreground=(x > 0.5)))).all()
