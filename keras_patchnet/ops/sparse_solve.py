"""The depth-offset system of a large patch grid, kept sparse.

A patch overlaps only its grid neighbours: those whose origin lies less than P away on both axes, at most `ry` rows
and `rx` columns off. So the Laplacian L = diag(A 1) - A of `patches.depth_offsets` is a (2 ry + 1) x (2 rx + 1)
stencil on the (ny, nx) grid of patches: the overlap areas are held as (B, ny, nx, K) arrays, one slice per
neighbour offset, and L t is K shifted products. The system L + s (ridge I + 1 1^T / N) is solved by conjugate
gradients with the Jacobi preconditioner in a fixed number of iterations that grows with the grid's diameter
(the condition number of a grid Laplacian grows with its squared diameter). Memory and time are linear in N,
where the dense system is N^2 and its solve N^3; the result matches the dense solve to float32 accuracy, and it
is differentiable on every backend (a `keras.ops.fori_loop`).
"""

import functools

import numpy as np
from keras import ops

from keras_patchnet.ops import grid as grid_lib


@functools.lru_cache(maxsize=64)
def stencil(grid):
    """The neighbour offsets (dy, dx) of the grid (a tuple, (0, 0) first) and, for each, four (ny * nx * K,) int
    arrays of corner indices of the overlap rectangles into a flattened (Hp + 1, Wp + 1) summed-area table (empty
    rectangles where the neighbour is off the grid or does not overlap)."""
    P = grid.patch_size
    oy, ox = np.asarray(grid.origins_y), np.asarray(grid.origins_x)
    ry = max([d for d in range(1, len(oy)) if np.any(oy[d:] - oy[:-d] < P)], default=0)
    rx = max([d for d in range(1, len(ox)) if np.any(ox[d:] - ox[:-d] < P)], default=0)
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-ry, ry + 1) for dx in range(-rx, rx + 1) if (dy, dx) != (0, 0)]

    def axis(origins, d):  # overlap [lo, hi) of window i with window i + d, for every i (empty when off the grid)
        n = len(origins)
        j = np.clip(np.arange(n) + d, 0, n - 1)
        inside = (np.arange(n) + d >= 0) & (np.arange(n) + d < n)
        lo = np.maximum(origins, origins[j])
        hi = np.where(inside, np.maximum(np.minimum(origins, origins[j]) + P, lo), lo)
        return lo, hi

    stride = grid.padded_width + 1
    corners = [[], [], [], []]
    for dy, dx in offsets:
        y0, y1 = axis(oy, dy)
        x0, x1 = axis(ox, dx)
        y0, y1, x0, x1 = y0[:, None], y1[:, None], x0[None, :], x1[None, :]
        for k, (y, x) in enumerate(((y1, x1), (y0, x1), (y1, x0), (y0, x0))):
            corners[k].append((y * stride + x) * np.ones((len(oy), len(ox)), "int64"))
    flat = tuple(np.stack(c, axis=-1).reshape(-1).astype("int32") for c in corners)
    return tuple(offsets), (ry, rx), flat, grid_lib.block_corners(grid, flat)


def block_table(weights, grid):
    """The summed-area table of the (B, Hp, Wp, 1) `weights` at the grid's block bounds only
    (`ops.grid.axis_bounds` of each axis): (B, len(bounds_y) * len(bounds_x)), flattened row-major, with entry
    (i, j) the sum over rows [0, bounds_y[i]) and columns [0, bounds_x[j]). Every overlap rectangle of two patches
    has its corners there, and the table costs one pass over the pixels (sums of static slices), where a full
    table needs two cumulative sums over the map, whose cost per pixel grows with its size on XLA's CPU backend."""
    blocks = block_sums(weights, grid)
    sat = ops.pad(ops.cumsum(ops.cumsum(blocks, axis=1), axis=2), [[0, 0], [1, 0], [1, 0]])
    return ops.reshape(sat, (-1, (blocks.shape[1] + 1) * (blocks.shape[2] + 1)))


def block_sums(x, grid):
    """(B, Hp, Wp, 1) -> (B, len(bounds_y) - 1, len(bounds_x) - 1): the sums of `x` over the blocks between the
    grid's `ops.grid.axis_bounds`, in one pass over the pixels (sums of static slices)."""
    by = grid_lib.axis_bounds(grid.origins_y, grid.patch_size, grid.padded_height)
    bx = grid_lib.axis_bounds(grid.origins_x, grid.patch_size, grid.padded_width)
    x = x[..., 0]
    rows = ops.stack([ops.sum(x[:, a:b, :], axis=1) for a, b in zip(by[:-1], by[1:])], axis=1)
    return ops.stack([ops.sum(rows[:, :, a:b], axis=2) for a, b in zip(bx[:-1], bx[1:])], axis=2)


def stencil_areas(weights, grid, dtype):
    """(B, ny, nx, K) masked overlap areas of every patch with each neighbour offset of `stencil(grid)`, from a
    summed-area table of the (B, Hp, Wp, 1) weight map (all ones when `weights` is None)."""
    offsets, _, corners, blocks = stencil(grid)
    shape = (-1, len(grid.origins_y), len(grid.origins_x), len(offsets))
    if weights is None:
        sat = np.pad(np.ones((grid.padded_height, grid.padded_width)).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sat = sat.reshape(-1)
        area = sat[corners[0]] - sat[corners[1]] - sat[corners[2]] + sat[corners[3]]
        return ops.convert_to_tensor(area.reshape(shape), dtype=dtype)
    sat = block_table(weights, grid)
    y1x1, y0x1, y1x0, y0x0 = (ops.take(sat, c, axis=1) for c in blocks)
    return ops.reshape(y1x1 - y0x1 - y1x0 + y0x0, shape)


def _neighbours(t, offsets, reach):
    """(B, ny, nx) -> (B, ny, nx, K): t at every neighbour offset (zero off the grid), by static slices."""
    ry, rx = reach
    ny, nx = t.shape[1], t.shape[2]
    padded = ops.pad(t, [[0, 0], [ry, ry], [rx, rx]])
    return ops.stack([padded[:, ry + dy : ry + dy + ny, rx + dx : rx + dx + nx] for dy, dx in offsets], axis=-1)


def iterations_for(grid):
    """Conjugate-gradient iterations for `grid`: enough for float32 accuracy on a grid Laplacian (they grow with
    the diameter of the grid of patches); measured against the dense solve in tests/test_sparse_solve.py."""
    return 20 + 3 * max(len(grid.origins_y), len(grid.origins_x))


def solve(areas, rhs, grid, scale, ridge, iterations=None):
    """Solves (L + scale (ridge I + 1 1^T / N)) t = rhs for t, with L the Laplacian of the overlap `areas`
    (B, ny, nx, K) and rhs (B, ny, nx); preconditioned conjugate gradients, `iterations` steps (default:
    `iterations_for(grid)`). `scale` is (B,)."""
    N = grid.num_patches
    iterations = iterations_for(grid) if iterations is None else int(iterations)
    s = ops.reshape(scale, (-1, 1, 1))
    diagonal = ops.sum(areas[..., 1:], axis=-1) + s * (ridge + 1.0 / N)  # the Jacobi preconditioner
    tiny = ops.cast(1e-30, rhs.dtype)

    def matvec(t):
        # sum / N, not keras.ops.mean: that computes float64 torch tensors in float32 (Keras 3.15)
        return laplacian_matvec(areas, t, grid) + s * (ridge * t + ops.sum(t, axis=(1, 2), keepdims=True) / N)

    def dot(a, b):
        return ops.sum(a * b, axis=(1, 2), keepdims=True)

    def step(_, state):
        x, r, z, p, rz, limit = state
        active = rz > limit  # converged images stop moving (so do their gradients: no 0 / 0 past convergence)
        ap = matvec(p)
        alpha = ops.where(active, rz / at_least(dot(p, ap), tiny), 0.0)
        x, r = x + alpha * p, r - alpha * ap
        z = r / diagonal
        rz_new = dot(r, z)
        p = ops.where(active, z + rz_new / at_least(rz, tiny) * p, p)
        return x, r, z, p, ops.where(active, rz_new, rz), limit

    z = rhs / diagonal
    rz = dot(rhs, z)
    tolerance = 1e-28 if ops.dtype(rhs) == "float64" else 1e-14  # squared relative residual
    state = (ops.zeros_like(rhs), rhs, z, z, rz, rz * tolerance + tiny)
    return ops.fori_loop(0, iterations, step, state)[0]


def at_least(x, floor):
    """max(x, floor) elementwise, in x's dtype (keras.ops.maximum returns float32 for float64 torch tensors in
    Keras 3.15, which cost the float64 stitch its precision)."""
    return ops.where(x > floor, x, floor)


def laplacian_matvec(areas, t, grid):
    """L t for the Laplacian of the overlap `areas` (B, ny, nx, K) and t (B, ny, nx); areas[..., 0] is each patch
    with itself, which L does not use."""
    offsets, reach, _, _ = stencil(grid)
    if len(offsets) == 1:  # no patch overlaps another (e.g. min_overlap=0 on a size the stride divides): L = 0
        return ops.zeros_like(t)
    off = areas[..., 1:]
    return ops.sum(off, axis=-1) * t - ops.sum(off * _neighbours(t, offsets[1:], reach), axis=-1)
