"""The patch grid: where patches sit, and the static indices that cut and fold them.

Everything here is NumPy on static shapes and is cached per (height, width, patch size, overlap, rule): the
layout depends only on the grid, never on the data, so compiled functions see it as constants.

Two rules place the patches along each axis of length L (after padding L up to P when L < P):

- ``"even"`` (DESIGN §4.1): n = 1 if L <= P, else ceil((L - P) / (P - o)) + 1, origins round(i (L - P) / (n - 1)).
  Every overlap is >= o and consecutive overlaps differ by at most one pixel. o = 64 gives the paper's dense
  layout (3 x 3 at 224), o = 1 the fewest patches (2 x 2 at 224).
- ``"half_stride"``: the report's fixed-overlap rule, kept for parity: step P // 2, n = round(2 (L - P) / P) + 1,
  the last patch flush with the far edge ({0, 64, 96} at 224). The report's rule leaves rows uncovered when
  P < L <= 1.25 P (and, for odd P, where the step P // 2 falls short); here n is raised so that every pixel is
  covered.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

RULES = ("even", "half_stride")


class PatchGrid(NamedTuple):
    """Patch layout of one image size. Patch ``k = iy * len(origins_x) + ix`` starts at
    (origins_y[iy], origins_x[ix])."""

    height: int
    width: int
    padded_height: int
    padded_width: int
    patch_size: int
    origins_y: tuple
    origins_x: tuple

    @property
    def num_patches(self):
        return len(self.origins_y) * len(self.origins_x)


def check_patch_args(patch_size, min_overlap, rule):
    """Validates the grid arguments and returns them normalised; raises ValueError naming the argument."""
    if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)) or patch_size < 1:
        raise ValueError(f"`patch_size` must be a positive int. Received: patch_size={patch_size!r}")
    if min_overlap is None:
        min_overlap = patch_size // 2
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, (int, np.integer)):
        raise ValueError(f"`min_overlap` must be an int or None. Received: min_overlap={min_overlap!r}")
    if not 0 <= min_overlap < patch_size:
        raise ValueError(
            "`min_overlap` must satisfy 0 <= min_overlap < patch_size. "
            f"Received: min_overlap={min_overlap}, patch_size={patch_size}"
        )
    if rule not in RULES:
        raise ValueError(f"`rule` must be one of {RULES}. Received: rule={rule!r}")
    return int(patch_size), int(min_overlap), rule


def axis_origins(length, patch_size, min_overlap=None, rule="even"):
    """Patch origins along one axis of `length` pixels (padded up to `patch_size` when shorter)."""
    P = patch_size
    min_overlap = P // 2 if min_overlap is None else min_overlap
    L = max(int(length), P)
    if L == P:
        return (0,)
    if rule == "even":
        n = math.ceil((L - P) / (P - min_overlap)) + 1
        return tuple(int(round(i * (L - P) / (n - 1))) for i in range(n))
    step = P // 2
    # at least 2, and for odd P (step < P / 2) enough that the last regular patch meets the flush one
    n = max(int(np.round(2 * (L - P) / P)) + 1, 2, math.ceil((L - 2 * P) / step) + 2)
    return tuple(step * i for i in range(n - 1)) + (L - P,)


def patch_grid(height, width, patch_size=128, min_overlap=None, rule="even"):
    """Returns the `PatchGrid` for an image of `height` x `width` pixels.

    `min_overlap=None` means `patch_size // 2` (64 for the paper's 128-pixel patches).

    >>> g = patch_grid(224, 224, patch_size=128, min_overlap=64)
    >>> g.origins_y, g.num_patches
    ((0, 48, 96), 9)
    >>> patch_grid(224, 224, 128, min_overlap=1).origins_x
    (0, 96)
    >>> patch_grid(224, 224, 128, rule="half_stride").origins_x
    (0, 64, 96)
    """
    patch_size, min_overlap, rule = check_patch_args(patch_size, min_overlap, rule)
    for name, value in (("height", height), ("width", width)):
        if value is None or int(value) < 1:
            raise ValueError(f"Image `{name}` must be a known positive int (static shape). Received: {name}={value!r}")
    return _patch_grid(int(height), int(width), patch_size, min_overlap, rule)


@functools.lru_cache(maxsize=256)
def _patch_grid(height, width, patch_size, min_overlap, rule):
    return PatchGrid(
        height,
        width,
        max(height, patch_size),
        max(width, patch_size),
        patch_size,
        axis_origins(height, patch_size, min_overlap, rule),
        axis_origins(width, patch_size, min_overlap, rule),
    )


@functools.lru_cache(maxsize=512)
def axis_coverage(origins, patch_size, length):
    """(length,) float32: how many windows [o, o + patch_size) cover each pixel of the axis."""
    count = np.zeros(length, "float32")
    for o in origins:
        count[o : o + patch_size] += 1
    return count


@functools.lru_cache(maxsize=256)
def pair_rectangles(grid):
    """Overlap rectangle [y0, y1) x [x0, x1) of every ordered pair of patches, empty when they do not overlap.

    Returned as four (N * N,) int arrays of corner indices into a summed-area table of shape (Hp + 1, Wp + 1),
    flattened row-major, so that area = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0].
    """
    P = grid.patch_size
    oy = np.repeat(np.asarray(grid.origins_y), len(grid.origins_x))
    ox = np.tile(np.asarray(grid.origins_x), len(grid.origins_y))
    y0 = np.maximum(oy[:, None], oy[None, :])
    y1 = np.maximum(np.minimum(oy[:, None], oy[None, :]) + P, y0)
    x0 = np.maximum(ox[:, None], ox[None, :])
    x1 = np.maximum(np.minimum(ox[:, None], ox[None, :]) + P, x0)
    stride = grid.padded_width + 1
    flat = lambda y, x: (y * stride + x).reshape(-1).astype("int32")  # noqa: E731
    return flat(y1, x1), flat(y0, x1), flat(y1, x0), flat(y0, x0)


def regular_step(origins, size):
    """The stride s when the windows [o, o + size) start at 0, s, 2 s, ... and `size` is a multiple of s (the
    grid's rows then are k = size / s shifted views of one array of s-pixel blocks), else None."""
    if len(origins) < 2:
        return None
    s = int(origins[1]) - int(origins[0])
    if s <= 0 or size % s or any(int(o) != i * s for i, o in enumerate(origins)):
        return None
    return s


def axis_bounds(origins, patch_size, length):
    """Sorted pixel positions where the set of windows covering an axis changes: 0, `length`, every origin and
    every window end. Every overlap rectangle of two windows starts and ends on one of them."""
    return tuple(sorted({0, length} | set(origins) | {o + patch_size for o in origins}))


def block_corners(grid, corners):
    """Maps corner indices into a full (Hp + 1, Wp + 1) summed-area table (as `pair_rectangles` gives them) to
    the same corners in the table of the blocks between the `axis_bounds` of both axes, of shape
    (len(bounds_y), len(bounds_x)), flattened row-major (see `ops.sparse_solve.block_table`)."""
    by = np.asarray(axis_bounds(grid.origins_y, grid.patch_size, grid.padded_height))
    bx = np.asarray(axis_bounds(grid.origins_x, grid.patch_size, grid.padded_width))
    stride = grid.padded_width + 1
    out = []
    for c in corners:
        y, x = np.asarray(c, "int64") // stride, np.asarray(c, "int64") % stride
        iy, ix = np.minimum(np.searchsorted(by, y), len(by) - 1), np.minimum(np.searchsorted(bx, x), len(bx) - 1)
        if not (np.array_equal(by[iy], y) and np.array_equal(bx[ix], x)):
            raise AssertionError("an overlap corner off the grid's block bounds")  # cannot happen for patch pairs
        out.append((iy * len(bx) + ix).astype("int32"))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def block_pair_rectangles(grid):
    """`pair_rectangles` as corner indices into the block table of `block_corners`."""
    return block_corners(grid, pair_rectangles(grid))


@functools.lru_cache(maxsize=256)
def seam_band(grid, width):
    """(H, W) float32 map, 1 within `width` pixels of a patch edge that lies inside the image, else 0."""
    band_y = _axis_band(grid.origins_y, grid.patch_size, grid.padded_height, width)
    band_x = _axis_band(grid.origins_x, grid.patch_size, grid.padded_width, width)
    band = np.maximum(band_y[:, None], band_x[None, :])
    return band[: grid.height, : grid.width].astype("float32")


def _axis_band(origins, P, length, width):
    edges = {o for o in origins if 0 < o < length} | {o + P for o in origins if 0 < o + P < length}
    band = np.zeros(length, bool)
    pos = np.arange(length)
    for e in edges:
        # An edge at e separates pixels e - 1 and e; the band covers `width` pixels on each side.
        band |= (pos >= e - width) & (pos < e + width)
    return band


@functools.lru_cache(maxsize=256)
def window_blocks(grid):
    """Which blocks (between the `axis_bounds`) each window covers, per axis: float32 0/1 arrays of shape
    (ny, len(bounds_y) - 1) and (nx, len(bounds_x) - 1). Every window is a union of blocks, so its sum over a map is
    wy @ block_sums @ wx^T, with no cancellation (unlike four corners of a summed-area table)."""

    def axis(origins, length):
        bounds = axis_bounds(origins, grid.patch_size, length)
        return np.array(
            [[o <= a and b <= o + grid.patch_size for a, b in zip(bounds[:-1], bounds[1:])] for o in origins]
        )

    return (
        axis(grid.origins_y, grid.padded_height).astype("float32"),
        axis(grid.origins_x, grid.padded_width).astype("float32"),
    )


@functools.lru_cache(maxsize=256)
def patch_coverage(grid):
    """The coverage count of `ops.patches.coverage` as each patch sees it, in two separable factors: float32
    (ny, P) and (nx, P), so that patch (i, j) sees cy[i][:, None] * cx[j][None, :]."""
    P = grid.patch_size
    cy = axis_coverage(grid.origins_y, P, grid.padded_height)
    cx = axis_coverage(grid.origins_x, P, grid.padded_width)
    return np.stack([cy[o : o + P] for o in grid.origins_y]), np.stack([cx[o : o + P] for o in grid.origins_x])
