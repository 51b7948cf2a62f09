"""The sparse depth-offset solve: the same offsets as the dense solve, differentiable, chosen by size."""

import keras
import numpy as np
import pytest

from keras_patchnet.layers import PatchExtract, PatchStitch
from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops import patches as patch_ops
from keras_patchnet.ops import sparse_solve
from tests.helpers import check_gradient, float64, to_numpy
from tests.test_patch_stitch import disc_mask, error_up_to_a_constant, shifted_patches, smooth_surface


def centred(t):
    return t - t.mean(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "size, patch_size, min_overlap, masked",
    [((112, 112), 64, 32, False), ((200, 300), 32, 16, True), ((300, 500), 48, 30, True)],
)
def test_sparse_offsets_match_the_dense_solve(size, patch_size, min_overlap, masked):
    """Exact against the dense solve to 1e-5 m (surfaces at 1.2 m, patch offsets of +-0.2 m): the offsets of every
    patch that overlaps another on the foreground (a patch that shares no foreground with any other has no
    offset to find: both solvers leave it near 0, each with its own rounding), and the stitched surface."""
    depth = smooth_surface(2, *size, seed=1)
    extract = PatchExtract(patch_size, min_overlap=min_overlap)
    patches = shifted_patches(depth, extract, seed=4)
    grid = extract.grid(*size)
    mask = disc_mask(2, *size) if masked else None
    dense = to_numpy(patch_ops.depth_offsets(patches, grid, mask, solver="direct")[0])
    sparse = to_numpy(patch_ops.depth_offsets(patches, grid, mask, solver="sparse")[0])
    weights = None if mask is None else patch_ops._weight_map(keras.ops.convert_to_tensor(mask), grid, "float32")
    areas = to_numpy(sparse_solve.stencil_areas(weights, grid, "float32"))
    connected = np.broadcast_to(areas[..., 1:].sum(-1).reshape(len(areas), -1) > 0, sparse.shape)
    for s, d, c in zip(sparse, dense, connected):  # per image, up to the one free constant
        gap = (s - d)[c]
        assert np.abs(gap - gap.mean()).max() < 1e-5
    for solver in ("direct", "sparse"):
        stitch = PatchStitch(patch_size, min_overlap, mode="depth", solver=solver)
        out = to_numpy(stitch(patches, output_size=size, foreground=mask))
        assert error_up_to_a_constant(out, depth, np.ones_like(depth) if mask is None else mask) < 1e-5, solver


def test_the_stencil_holds_exactly_the_dense_overlap_areas():
    grid = grid_lib.patch_grid(70, 90, 16, 5)
    weights = keras.ops.convert_to_tensor((np.random.default_rng(0).random((1, 70, 90, 1)) > 0.4).astype("float32"))
    dense = to_numpy(patch_ops._overlap_areas(weights, grid, "float32"))[0]
    stencil = to_numpy(sparse_solve.stencil_areas(weights, grid, "float32"))[0]
    offsets = sparse_solve.stencil(grid)[0]
    ny, nx = len(grid.origins_y), len(grid.origins_x)
    rebuilt = np.zeros_like(dense)
    for i in range(ny):
        for j in range(nx):
            for k, (dy, dx) in enumerate(offsets):
                if 0 <= i + dy < ny and 0 <= j + dx < nx:
                    rebuilt[i * nx + j, (i + dy) * nx + j + dx] = stencil[i, j, k]
                else:
                    assert stencil[i, j, k] == 0
    np.testing.assert_array_equal(rebuilt, dense)  # every non-zero overlap is on the stencil


def test_auto_is_dense_for_small_grids_and_sparse_for_large_ones():
    small = grid_lib.patch_grid(224, 224, 64, 32)
    large = grid_lib.patch_grid(600, 600, 64, 32)
    assert small.num_patches <= patch_ops.DENSE_MAX_PATCHES < large.num_patches
    for grid in (small, large):
        depth = smooth_surface(1, grid.height, grid.width, seed=2)
        patches = shifted_patches(depth, PatchExtract(64, min_overlap=32), seed=3)
        auto = to_numpy(patch_ops.stitch_depth(patches, grid))
        solver = "direct" if grid is small else "sparse"
        chosen = to_numpy(patch_ops.stitch_depth(patches, grid, solver=solver))
        np.testing.assert_array_equal(auto, chosen)
        assert error_up_to_a_constant(auto, depth, np.ones_like(depth)) < 1e-5


def test_sparse_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    grid = grid_lib.patch_grid(13, 14, 8, 3)
    patches = rng.normal(size=(2 * grid.num_patches, 8, 8, 1))
    mask = (rng.random((2, 13, 14, 1)) > 0.3).astype("float64")
    weights = rng.normal(size=(2, 13, 14, 1))

    def fn(p):
        return keras.ops.sum(keras.ops.multiply(patch_ops.stitch_depth(p, grid, mask, solver="sparse"), weights))

    assert check_gradient(fn, patches, num_checks=2) < 1e-4  # 2 coordinates and a random direction


def test_sparse_solve_in_float64_and_with_an_empty_foreground():
    with float64():
        run_in_float64_and_with_an_empty_foreground()


def run_in_float64_and_with_an_empty_foreground():
    grid = grid_lib.patch_grid(60, 60, 16, 4)
    depth = smooth_surface(1, 60, 60).astype("float64")
    patches = shifted_patches(depth, PatchExtract(16, min_overlap=4)).astype("float64")
    out = patch_ops.stitch_depth(patches, grid, solver="sparse")
    assert keras.ops.dtype(out) == "float64"
    direct = patch_ops.stitch_depth(patches, grid, solver="direct")
    np.testing.assert_allclose(to_numpy(out), to_numpy(direct), atol=1e-12)  # float64 throughout
    empty = np.zeros((1, 60, 60, 1))
    assert np.isfinite(to_numpy(patch_ops.stitch_depth(patches, grid, empty, solver="sparse"))).all()


def test_patches_that_overlap_nowhere_solve_sparse_like_dense():
    """min_overlap=0 on a size the stride divides: no patch overlaps another (the stencil has no neighbour), so
    every patch keeps its own depth, as in the dense solve (found by a hypothesis example at 150² with P = 2)."""
    grid = grid_lib.patch_grid(40, 48, 8, 0)
    assert sparse_solve.stencil(grid)[1] == (0, 0)
    x = np.random.default_rng(0).random((1, 40, 48, 1)).astype("float32")
    patches = PatchExtract(8, min_overlap=0)(x)
    outs = {
        s: to_numpy(PatchStitch(8, 0, mode="depth", solver=s)(patches, output_size=(40, 48)))
        for s in ("direct", "sparse")
    }
    np.testing.assert_allclose(outs["sparse"], outs["direct"], atol=1e-6)
    assert np.isfinite(outs["sparse"]).all()


@pytest.mark.parametrize(
    "size, patch_size, min_overlap", [((112, 112), 64, 32), ((200, 300), 48, 30), ((40, 50), 32, 8)]
)
def test_block_table_is_the_summed_area_table_at_the_block_bounds(size, patch_size, min_overlap):
    """Reference: NumPy's two cumulative sums of the weights, read at the grid's block bounds; and the overlap areas
    it gives equal the areas summed pixel by pixel over each pair's rectangle."""
    grid = grid_lib.patch_grid(*size, patch_size, min_overlap)
    weights = np.random.default_rng(0).random((2, grid.padded_height, grid.padded_width, 1)).astype("float32")
    full = np.pad(weights[..., 0].astype("float64").cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
    by = grid_lib.axis_bounds(grid.origins_y, patch_size, grid.padded_height)
    bx = grid_lib.axis_bounds(grid.origins_x, patch_size, grid.padded_width)
    expected = full[:, np.asarray(by)][:, :, np.asarray(bx)].reshape(2, -1)
    got = to_numpy(sparse_solve.block_table(keras.ops.convert_to_tensor(weights), grid))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    area = to_numpy(patch_ops._overlap_areas(keras.ops.convert_to_tensor(weights), grid, "float32"))
    oy = np.repeat(grid.origins_y, len(grid.origins_x))
    ox = np.tile(grid.origins_x, len(grid.origins_y))
    n = grid.num_patches
    for k, j in [(0, 0), (0, 1), (1, 0), (0, len(grid.origins_x)), (n - 1, n - 2), (n - 1, n - 1)]:
        if max(k, j) >= n or min(k, j) < 0:
            continue
        y0, y1 = max(oy[k], oy[j]), min(oy[k], oy[j]) + patch_size
        x0, x1 = max(ox[k], ox[j]), min(ox[k], ox[j]) + patch_size
        want = weights[:, y0:y1, x0:x1, 0].sum(axis=(1, 2)) if y1 > y0 and x1 > x0 else np.zeros(2)
        np.testing.assert_allclose(area[:, k, j], want, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    "size, patch_size, min_overlap", [((112, 112), 64, 32), ((200, 300), 48, 30), ((40, 50), 32, 8)]
)
def test_window_sums_and_patch_coverage_against_numpy(size, patch_size, min_overlap):
    """`ops.patches.window_sums` (the depth stitch's b without a patch layout) is each window's sum, pixel by pixel
    in float64; `ops.grid.patch_coverage` is the coverage count cut into patches."""
    grid = grid_lib.patch_grid(*size, patch_size, min_overlap)
    x = np.random.default_rng(1).normal(size=(2, grid.padded_height, grid.padded_width, 1)).astype("float32")
    windows = [(oy, ox) for oy in grid.origins_y for ox in grid.origins_x]
    P = patch_size
    expected = np.array(
        [[m[oy : oy + P, ox : ox + P].astype("float64").sum() for oy, ox in windows] for m in x[..., 0]]
    )
    got = to_numpy(patch_ops.window_sums(keras.ops.convert_to_tensor(x), grid))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-3)
    cy, cx = grid_lib.patch_coverage(grid)
    cut = to_numpy(patch_ops.extract_patches(patch_ops.coverage(grid)[None], grid))[..., 0]
    np.testing.assert_array_equal(cut, (cy[:, None, :, None] * cx[None, :, None, :]).reshape(-1, P, P))


@pytest.mark.parametrize("solver", ["direct", "sparse"])
@pytest.mark.parametrize("distance", [0.0, 30.0])
def test_float32_stitch_keeps_up_with_float64(solver, distance):
    """The right-hand side of the offset solve is two sums that cancel (a window sum of the image map and one over
    the patches), centred on each row's depth. On a connected foreground float32 stays within 2e-5 m of float64 up
    to a constant, on a surface at 1.2 m and 31.2 m (measured: 2e-7 and 7e-6 m; the per-pixel form this replaced
    gave 4e-7 and 4e-6). On two disconnected parts, whose relative depth no overlap fixes (the ridge sets it and
    rounding moves it), within 5 mm at 1.2 m (measured 2 mm, the per-pixel form 4 mm); at 31.2 m both forms move
    the parts by about 5 cm, not checked."""
    size = (200, 260)
    extract = PatchExtract(48, min_overlap=24)
    grid = extract.grid(*size)
    patches = shifted_patches(smooth_surface(1, *size, seed=2) + distance, extract, seed=5)
    two = np.zeros((1, *size, 1), "float32")
    two[:, :80, :100], two[:, 120:, 150:] = 1, 1
    for mask in (disc_mask(1, *size), two):
        got = to_numpy(patch_ops.stitch_depth(patches, grid, mask, solver=solver))
        ref = to_numpy(patch_ops.stitch_depth(patches.astype("float64"), grid, mask.astype("float64"), solver=solver))
        if mask is not two:
            assert error_up_to_a_constant(got, ref, mask) < 2e-5
        elif distance == 0.0:
            assert np.abs(got - ref)[mask > 0].max() < 5e-3
