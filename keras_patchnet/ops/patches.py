"""Cutting images into patches and stitching patch predictions back, in `keras.ops` only.

Extraction and folding are static slices laid out by `grid.py` (no gather: slices are memory copies on every
backend, while XLA's CPU gather is slow); folding sums, for every pixel, the patches that cover it, one axis at a
time, so cost grows linearly with pixels.

The depth stitch solves for one offset t_k per patch (DESIGN §4.2). With m the foreground weight, c(p) the number
of patches covering pixel p and D = fold(d) the summed depth, the least-squares normal equations over all
overlapping pairs reduce to

    L t = b,   L = diag(A 1) - A,   A_kj = sum_{p in k ∩ j} m(p),   b_k = sum_{p in k} m(p) (D(p) - c(p) d_k(p)),

so b needs one fold, window sums of m D over the grid's blocks and one pass over the patches weighted by m c
(`weighted_patch_sums`), and A four look-ups per pair in a summed-area table of m. L is singular (any constant
solves it); the gauge is fixed by a rank-one term s 11^T / N and a small ridge s·ridge·I, so a patch that shares no
foreground with any other gets t = 0 and no input gives a NaN. One step of iterative refinement removes the ridge's
bias. The solve runs in float32 (float64 when the input is float64), also under mixed precision.
"""

import numpy as np
from keras import ops

from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops import sparse_solve
from keras_patchnet.ops.sparse_solve import at_least
from keras_patchnet.ops.windows import (  # noqa: F401 (the cutting and folding, reached here too)
    _FUSED_WINDOWS,
    _check_images,
    _const,
    _crop,
    _cut_axis,
    _fold_axis,
    _slice,
    check_image_shape,
    check_patches,
    compute_dtype,
    coverage,
    extract_patches,
    fold_patches,
    pad_to_grid,
)


def stitch_mean(patches, grid):
    """Per-pixel average of the patches covering it: (B * N, P, P, C) -> (B, H, W, C)."""
    check_patches(patches, grid)
    x = fold_patches(patches, grid)
    return _crop(x / ops.cast(coverage(grid), x.dtype), grid)


def normalize(x, epsilon=1e-6):
    """x / sqrt(|x|^2 + epsilon) along the last axis: unit vectors for |x| >> sqrt(epsilon), zero vectors stay zero,
    and the gradient stays below 1 / sqrt(epsilon) (1e3 by default). A smaller epsilon lets a network's all-zero
    prediction (a dead ReLU pixel) send gradients of 1e20 through the two normalisations of the stitch."""
    return x * ops.rsqrt(channel_sum(ops.square(x)) + epsilon)


def channel_sum(x):
    """Sum over the last axis, kept, as a sum of slices when it is short: XLA's CPU backend reduces a short minor
    axis slowly (the normal stitch at 4096² on TensorFlow, one core: 27 ns a pixel with ops.sum, 21 with slices)."""
    if x.shape[-1] is None or x.shape[-1] > 8:
        return ops.sum(x, axis=-1, keepdims=True)
    out = x[..., :1]
    for c in range(1, x.shape[-1]):
        out = out + x[..., c : c + 1]
    return out


def stitch_normals(patches, grid, epsilon=1e-6):
    """Normalises each patch per pixel, averages the patches over each pixel, and renormalises."""
    check_patches(patches, grid)
    dtype = patches.dtype
    x = normalize(_finite_or_zero(ops.cast(patches, compute_dtype(patches))), epsilon)
    x = fold_patches(x, grid) / _const(coverage(grid), compute_dtype(patches))
    return ops.cast(_crop(normalize(x, epsilon), grid), dtype)


def _finite_or_zero(x):
    """Non-finite values (a NaN or inf from a network that overflowed) become 0: missing, never spread."""
    return ops.where(ops.isfinite(x), x, ops.zeros_like(x))


def _weight_map(foreground, grid, dtype):
    """Foreground weights padded to the grid, or None when every pixel counts (no mask and no padding)."""
    if foreground is None:
        if grid.padded_height == grid.height and grid.padded_width == grid.width:
            return None
        foreground = _const(np.ones((1, grid.height, grid.width, 1)), dtype)
    return pad_to_grid(ops.cast(foreground, dtype), grid)


def _overlap_areas(weights, grid, dtype):
    """(B, N, N) masked overlap areas A_kj from a summed-area table of the (B, Hp, Wp, 1) weight map."""
    N = grid.num_patches
    corners = grid_lib.pair_rectangles(grid)
    if weights is None:
        sat = np.pad(np.ones((grid.padded_height, grid.padded_width)).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sat = sat.reshape(-1)
        area = sat[corners[0]] - sat[corners[1]] - sat[corners[2]] + sat[corners[3]]
        return _const(area.reshape(1, N, N), dtype)
    sat = sparse_solve.block_table(weights, grid)
    y1x1, y0x1, y1x0, y0x0 = (ops.take(sat, c, axis=1) for c in grid_lib.block_pair_rectangles(grid))
    return ops.reshape(y1x1 - y0x1 - y1x0 + y0x0, (-1, N, N))


def window_sums(x, grid):
    """(B, Hp, Wp, 1) padded map -> (B, N): its sum over every patch window, row-major over the grid. Sums over the
    grid's blocks (`ops.sparse_solve.block_sums`, one pass over the pixels) added up window by window: no patch
    layout, and no cancellation as in a summed-area table."""
    wy, wx = grid_lib.window_blocks(grid)
    dtype = compute_dtype(x)
    rows = ops.einsum("yi,bij->byj", _const(wy, dtype), sparse_solve.block_sums(ops.cast(x, dtype), grid))
    return ops.reshape(ops.einsum("byj,xj->byx", rows, _const(wx, dtype)), (-1, grid.num_patches))


SOLVERS = ("auto", "direct", "cg", "sparse")
# "auto" solves grids of more patches than this with the sparse solver (benchmarks/bench_stitch.py --solvers).
DENSE_MAX_PATCHES = 256


def _solve_cg(system, b, iterations):
    """Conjugate gradients for the SPD `system` (B, N, N) x = b (B, N, 1), unrolled `iterations` times: only
    products and sums, so exporters without a linear-solve op (ONNX) can run it."""
    tiny = _const(1e-30, b.dtype)
    x, r = ops.zeros_like(b), b
    p, rs = r, ops.sum(r * r, axis=(1, 2), keepdims=True)
    for _ in range(iterations):
        ap = ops.einsum("bij,bjk->bik", system, p)
        alpha = rs / at_least(ops.sum(p * ap, axis=(1, 2), keepdims=True), tiny)
        x, r = x + alpha * p, r - alpha * ap
        rs_new = ops.sum(r * r, axis=(1, 2), keepdims=True)
        p, rs = r + rs_new / at_least(rs, tiny) * p, rs_new
    return x


def depth_offsets(patches, grid, foreground=None, ridge=1e-5, solver="auto"):
    """Least-squares offsets (B, N) that best align the depth patches over their (foreground) overlaps.

    `solver`: "auto" (default: "direct" up to `DENSE_MAX_PATCHES` patches, else "sparse"), "direct" (the dense
    N x N system, `keras.ops.linalg.solve`), "sparse" (the system as a stencil over the grid of patches,
    preconditioned conjugate gradients: memory and time linear in N; see `ops.sparse_solve`) or "cg" (2N unrolled
    conjugate-gradient steps on the dense system, for ONNX export, which has no solve op). All give the same offsets
    to float32 accuracy when the overlap graph is connected.
    Non-finite patch values are missing: with a `foreground`, they take no part in the solve (nor do the other
    patches' values at those pixels), and a patch missing everywhere gets offset 0; without one they count as 0 in
    the solve. Either way the stitched pixels average only the finite values.
    Returns the offsets, the folded sum of the unshifted patches (B, Hp, Wp, 1) with missing values as 0, the
    (B * N, P, P, 1) validity of the patch values and its fold (how many finite values each pixel has), which the
    stitch reuses.
    """
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}. Received: solver={solver!r}")
    dtype = compute_dtype(patches)
    d = ops.cast(patches, dtype)
    finite = ops.isfinite(d)
    valid = ops.cast(finite, dtype)
    d = ops.where(finite, d, ops.zeros_like(d))
    # Two one-channel folds: a two-channel one (a minor axis of 2) costs XLA's CPU backend 1.7x the two together.
    summed, valid_count = fold_patches(d, grid), fold_patches(valid, grid)
    weights = _weight_map(foreground, grid, dtype)
    count = _const(coverage(grid), dtype)
    if weights is not None:
        # A pixel where any covering patch is missing (non-finite) takes no part in the offset solve. (Without a
        # foreground the overlap areas stay static, which keeps the solve free of gathers for ONNX export; missing
        # values then count as 0 in it: the result stays finite, the offsets near a missing patch less exact.)
        weights = weights * ops.cast(valid_count >= count, dtype)
    return _offsets(d, summed, weights, grid, dtype, ridge, solver), summed, valid, valid_count


def _offsets(d, summed, weights, grid, dtype, ridge, solver):
    """The offsets (B, N) from the finite patches `d`, their fold `summed` and the solve's `weights` (or None)."""
    # b_k = sum_{p in k} m (D - c r) - sum_{p in k} m c (d_k - r) for any map r(p) (the m c r terms cancel pixel
    # by pixel): the first is a window sum of an image map, from its sums over the grid's blocks (one pass over the
    # pixels); the second is a pass over the patches, weighted by the map m c under each (`weighted_patch_sums`),
    # or by the coverage count alone, which each patch sees as two static separable factors. The two sums no
    # longer cancel pixel by pixel as D - c d_k does, so r, each row's mean depth on a sparse sample of pixels,
    # keeps both near zero where depths are large.
    N, P, ny, nx = grid.num_patches, grid.patch_size, len(grid.origins_y), len(grid.origins_x)
    count = _const(coverage(grid), dtype)
    r = ops.stop_gradient(_row_depth(summed, weights, grid, dtype))  # (B, Hp)
    r_cut = _cut_axis(r, grid.origins_y, P, axis=1)  # (B, ny, P)
    dc = ops.reshape(d, (-1, ny, nx, P, P)) - ops.reshape(r_cut, (-1, ny, 1, P, 1))
    if weights is None:
        cy, cx = grid_lib.patch_coverage(grid)
        dc = dc * _const(cy[None, :, None, :, None], dtype) * _const(cx[None, None, :, None, :], dtype)
        dc = ops.sum(dc, axis=(3, 4))
    else:
        dc = weighted_patch_sums(dc, weights[..., 0] * count[..., 0], grid)
    md = summed - count * r[:, :, None, None]
    md = md if weights is None else weights * md
    b = window_sums(md, grid) - ops.reshape(dc, (-1, N))
    t = solve_offsets(weights, ops.reshape(b, (-1, N, 1)), grid, dtype, ridge, solver)
    return ops.reshape(t, (-1, N))


def weighted_patch_sums(x, image_map, grid):
    """(B, ny, nx, P, P) patch values and a (B, Hp, Wp) map -> (B, ny, nx): each patch's sum of its values times the
    map under it. On a regular grid (stride s, P = k s on each axis) the map is cut into s-pixel blocks once and each
    patch is k x k blocks: k^2 products with shifted views of one block array, no patch-sized copy of the map (on
    XLA's CPU backend, at 4096² with one core, 7.4 against 13.0 ns an image pixel for cutting the map into patches)."""
    P, ny, nx = grid.patch_size, len(grid.origins_y), len(grid.origins_x)
    sy, sx = grid_lib.regular_step(grid.origins_y, P), grid_lib.regular_step(grid.origins_x, P)
    if sy is None or sx is None:
        windows = ops.reshape(extract_patches(image_map[..., None], grid), (-1, ny, nx, P, P))
        return ops.sum(x * windows, axis=(3, 4))
    ky, kx = P // sy, P // sx
    x = ops.reshape(x, (-1, ny, nx, ky, sy, kx, sx))
    blocks = ops.reshape(image_map, (-1, ny + ky - 1, sy, nx + kx - 1, sx))
    blocks = ops.transpose(blocks, (0, 1, 3, 2, 4))  # (B, block row, block column, sy, sx)
    out = None
    for a in range(ky):
        for c in range(kx):
            part = ops.sum(x[:, :, :, a, :, c, :] * blocks[:, a : a + ny, c : c + nx], axis=(3, 4))
            out = part if out is None else out + part
    return out


def _row_depth(summed, weights, grid, dtype, step=16):
    """(B, Hp): the mean depth of each row (the sum of the patches over their count, foreground only) on every
    `step`-th pixel; the image's mean on that sample where a row's sample holds no foreground, 0 where none does."""
    count = _const(coverage(grid)[:, ::step, 0][None], dtype)
    total = summed[:, :, ::step, 0]
    if weights is not None:
        count = weights[:, :, ::step, 0] * count
        total = weights[:, :, ::step, 0] * total
    num, den = ops.sum(total, axis=2), ops.sum(count, axis=2)
    one = _const(1.0, dtype)
    image = ops.sum(num, axis=1, keepdims=True) / at_least(ops.sum(den, axis=1, keepdims=True), one)
    return ops.where(den > 0, num / at_least(den, one), image)


def solve_offsets(weights, b, grid, dtype, ridge=1e-5, solver="auto"):
    """The offsets t (B, N, 1) of the normal equations L t = b (B, N, 1) with L the Laplacian of the overlap
    areas under the (B, Hp, Wp, 1) `weights` (None: every pixel), by `solver` (see `depth_offsets`)."""
    if solver == "auto":
        solver = "direct" if grid.num_patches <= DENSE_MAX_PATCHES else "sparse"
    if solver == "sparse":
        return _solve_sparse(weights, b, grid, dtype, ridge)
    return _solve_dense(weights, b, grid, dtype, ridge, solver)


def _isolated_to_zero(b, degree):
    """b is exactly 0 in exact arithmetic for a patch that shares no weight with any other (`degree` 0: every pixel
    it weighs is its own alone); rounding in `depth_offsets`' two sums is not, and the ridge alone, 1e5 times weaker
    than an overlap, would turn it into an offset. Such patches keep their own depth (offset 0)."""
    return ops.where(degree > 0, b, ops.zeros_like(b))


def _solve_dense(weights, b, grid, dtype, ridge, solver):
    N = grid.num_patches
    area = _overlap_areas(weights, grid, dtype)
    laplacian = ops.sum(area, axis=-1)[..., None] * _const(np.eye(N), dtype) - area
    degree = ops.sum(area, axis=-1) - ops.diagonal(area, axis1=1, axis2=2)
    scale = ops.sum(degree, axis=-1) / N + 1.0
    b = _isolated_to_zero(b, degree[..., None])
    gauge = _const(ridge * np.eye(N) + np.full((N, N), 1.0 / N), dtype)
    system = laplacian + scale[:, None, None] * gauge
    system = ops.broadcast_to(system, (ops.shape(b)[0], N, N))

    def solve(rhs):
        return ops.linalg.solve(system, rhs) if solver == "direct" else _solve_cg(system, rhs, 2 * N)

    t = solve(b)
    # One step of iterative refinement removes the ridge's bias. einsum, not matmul: keras.ops.matmul returns
    # float32 for float64 torch tensors (Keras 3.15).
    return t + solve(b - ops.einsum("bij,bjk->bik", ops.broadcast_to(laplacian, ops.shape(system)), t))


def _solve_sparse(weights, b, grid, dtype, ridge):
    shape = (-1, len(grid.origins_y), len(grid.origins_x))
    areas = sparse_solve.stencil_areas(weights, grid, dtype)
    areas = ops.broadcast_to(areas, (ops.shape(b)[0], *areas.shape[1:]))
    scale = ops.sum(areas[..., 1:], axis=(1, 2, 3)) / grid.num_patches + 1.0
    rhs = _isolated_to_zero(ops.reshape(b, shape), ops.sum(areas[..., 1:], axis=-1))
    t = sparse_solve.solve(areas, rhs, grid, scale, ridge)
    t = t + sparse_solve.solve(areas, rhs - sparse_solve.laplacian_matvec(areas, t, grid), grid, scale, ridge)
    return ops.reshape(t, (-1, grid.num_patches, 1))


def stitch_depth(patches, grid, foreground=None, ridge=1e-5, solver="auto"):
    """Shifts each depth patch by its least-squares offset, then averages per pixel: -> (B, H, W, 1).

    `foreground` (B, H, W, 1), optional: only pixels that are foreground in both patches of a pair count in the
    offset solve. The result is relative depth, defined up to one constant.
    """
    check_patches(patches, grid)
    if patches.shape[-1] != 1:
        raise ValueError(f"Depth `patches` must have 1 channel. Received: patches.shape={tuple(patches.shape)}")
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}. Received: solver={solver!r}")

    def with_missing_values():
        offsets, summed, valid, count = depth_offsets(patches, grid, foreground, ridge, solver)
        # Each pixel averages the shifted patches that are finite there (0 where none is).
        shifted = fold_patches(valid * ops.reshape(offsets, (-1, 1, 1, 1)), grid)
        return ops.cast(_crop((summed + shifted) / at_least(count, 1.0), grid), patches.dtype)

    if solver == "cg":  # the export solver: no data-dependent branch (ONNX from torch would trace one side only)
        return with_missing_values()
    # Where every value is finite (the common case, checked on the fold: a non-finite value makes its pixels'
    # sums non-finite), no validity map and its fold are needed, and the shifted patches fold from the offsets
    # alone: at 4096² two passes over the patches fewer (TensorFlow with XLA, one core: 26 against 34 ns an image
    # pixel; benchmarks/bench_stitch.py --parts).
    dtype = compute_dtype(patches)
    d = ops.cast(patches, dtype)
    summed = fold_patches(d, grid)

    def all_finite():
        offsets = _offsets(d, summed, _weight_map(foreground, grid, dtype), grid, dtype, ridge, solver)
        out = (summed + fold_constant_patches(offsets, grid)) / _const(coverage(grid), dtype)
        return ops.cast(_crop(out, grid), patches.dtype)

    return ops.cond(ops.all(ops.isfinite(summed)), all_finite, with_missing_values)


def fold_constant_patches(values, grid):
    """`fold_patches` of patches that are constant, patch k at values[:, k] (B, N) -> (B, Hp, Wp, 1), without a
    patch-sized array: each axis folds a broadcast of the previous result."""
    P, ny, nx = grid.patch_size, len(grid.origins_y), len(grid.origins_x)
    batch = ops.shape(values)[0]
    x = ops.broadcast_to(ops.reshape(values, (-1, ny, nx, 1)), (batch, ny, nx, P))
    x = _fold_axis(x, grid.origins_x, grid.padded_width, window_axis=2, pixel_axis=3)  # (B, ny, Wp)
    x = ops.broadcast_to(x[:, :, None, :], (batch, ny, P, grid.padded_width))
    return _fold_axis(x, grid.origins_y, grid.padded_height, window_axis=1, pixel_axis=2)[..., None]
