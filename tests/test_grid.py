import numpy as np
import pytest

from keras_patchnet.ops import grid as grid_lib
from keras_patchnet.ops.grid import axis_origins, patch_grid


def test_paper_layouts_at_224():
    assert axis_origins(224, 128, 64) == (0, 48, 96)
    assert axis_origins(224, 128, 1) == (0, 96)
    assert axis_origins(224, 128, rule="half_stride") == (0, 64, 96)
    assert patch_grid(224, 224, 128, 64).num_patches == 9
    assert patch_grid(224, 224, 128, 1).num_patches == 4


@pytest.mark.parametrize(
    "length, expected", [(256, (0, 64, 128)), (300, (0, 64, 128, 172)), (384, (0, 64, 128, 192, 256))]
)
def test_half_stride_matches_report_table(length, expected):
    # seed-spec §2: origins of the report's fixed-overlap rule.
    assert axis_origins(length, 128, rule="half_stride") == expected


def test_half_stride_covers_lengths_where_the_report_leaves_rows_uncovered():
    # The report's rule gives n = 1 (origin 22) at 150, leaving rows 0..21 uncovered.
    assert axis_origins(150, 128, rule="half_stride") == (0, 22)


@pytest.mark.parametrize("length", [129, 200, 224, 255, 300, 480, 640, 1000, 2048])
@pytest.mark.parametrize("min_overlap", [0, 1, 16, 64, 100])
def test_even_rule_overlaps_are_at_least_min_and_differ_by_at_most_one(length, min_overlap):
    origins = np.array(axis_origins(length, 128, min_overlap))
    assert origins[0] == 0 and origins[-1] == length - 128
    overlaps = 128 - np.diff(origins)
    assert overlaps.min() >= min_overlap
    assert overlaps.max() - overlaps.min() <= 1


def test_short_axis_is_padded_to_one_patch():
    g = patch_grid(97, 1000, 128, 64)
    assert g.origins_y == (0,) and g.padded_height == 128 and g.padded_width == 1000


def test_overlap_areas_of_the_dense_224_grid():
    g = patch_grid(224, 224, 128, 64, "half_stride")
    corners = grid_lib.pair_rectangles(g)
    sat = np.pad(np.ones((224, 224)).cumsum(0).cumsum(1), ((1, 0), (1, 0))).reshape(-1)
    area = (sat[corners[0]] - sat[corners[1]] - sat[corners[2]] + sat[corners[3]]).reshape(9, 9)
    # seed-spec §8: with origins {0, 64, 96} all 36 pairs of the 9 patches overlap.
    assert (area[np.triu_indices(9, 1)] > 0).sum() == 36
    assert area[0, 0] == 128 * 128 and area[0, 1] == 64 * 128 and area[1, 2] == 96 * 128


def test_seam_band_marks_pixels_next_to_inner_patch_edges_only():
    g = patch_grid(224, 224, 128, 1)  # origins (0, 96): inner edges at 96 and 128
    band = grid_lib.seam_band(g, 2)
    assert band[:, 94:98].all() and band[:, 126:130].all()
    assert not band[50, 0:94].any() and not band[50, 98:126].any() and not band[50, 130:].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"patch_size": 0}, "`patch_size` must be a positive int"),
        ({"patch_size": 12.5}, "`patch_size` must be a positive int"),
        ({"min_overlap": 128}, "`min_overlap` must satisfy 0 <= min_overlap < patch_size"),
        ({"min_overlap": -1}, "`min_overlap` must satisfy"),
        ({"rule": "dense"}, "`rule` must be one of"),
        ({"height": 0}, "Image `height` must be a known positive int"),
        ({"width": None}, "Image `width` must be a known positive int"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    args = {"height": 224, "width": 224, "patch_size": 128, "min_overlap": 64, "rule": "even", **kwargs}
    with pytest.raises(ValueError, match=message):
        patch_grid(**args)


@pytest.mark.parametrize("length, patch_size", [(11, 3), (40, 5), (101, 7), (224, 128), (300, 33)])
def test_half_stride_covers_every_pixel_also_for_odd_patches(length, patch_size):
    from keras_patchnet.ops.grid import axis_origins

    origins = axis_origins(length, patch_size, rule="half_stride")
    covered = np.zeros(max(length, patch_size), bool)
    for o in origins:
        covered[o : o + patch_size] = True
    assert covered.all() and list(origins) == sorted(set(origins)), origins
