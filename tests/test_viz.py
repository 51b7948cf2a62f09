"""viz: colour maps against matplotlib, normal-map colours by closed form, figures written."""

import matplotlib
import numpy as np
import pytest

from keras_patchnet import viz
from keras_patchnet.data import render


def test_turbo_matches_matplotlib():
    t = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(viz.turbo(t), matplotlib.colormaps["turbo"](t)[:, :3], atol=0.025)
    np.testing.assert_allclose(viz.turbo([-1.0, 2.0]), viz.turbo([0.0, 1.0]))  # clipped


def test_depth_to_rgb_scales_the_foreground_and_blacks_out_the_background():
    depth = np.tile(np.linspace(1.0, 2.0, 50), (10, 1))
    mask = np.ones(depth.shape, bool)
    mask[:, :5] = False
    rgb = viz.depth_to_rgb(depth[..., None], mask, vmin=1.0, vmax=2.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (10, 50, 3)
    assert np.all(rgb[:, :5] == 0)
    np.testing.assert_array_equal(rgb[0, -1], np.round(viz.turbo(1.0) * 255).astype("uint8"))
    np.testing.assert_array_equal(rgb[0, 25], np.round(viz.turbo(depth[0, 25] - 1.0) * 255).astype("uint8"))


def test_normals_to_rgb_closed_form():
    normals = np.array([[[0, 0, -1.0], [1.0, 0, 0], [0, -1.0, 0], [0, 0, 0]]])
    rgb = viz.normals_to_rgb(normals)
    # facing the camera -> (0.5, 0.5, 1); +x -> (1, 0.5, 0.5); up (-y) -> (0.5, 1, 0.5); zero vector -> black
    np.testing.assert_array_equal(rgb[0], [[128, 128, 255], [255, 128, 128], [128, 255, 128], [0, 0, 0]])


def test_figures_are_written(tmp_path):
    s = render(3, 48, 56)
    fig = viz.prediction_figure(s.image, s.depth, s.normals, s.mask, path=tmp_path / "p.png", title="t")
    assert (tmp_path / "p.png").stat().st_size > 1000 and len(fig.axes) == 4  # three panels and a colour bar
    noisy = s.normals + 0.1 * s.mask[..., None]
    fig = viz.error_figure(s.image, s.depth, s.depth + 0.01 * s.mask, s.normals, noisy, path=tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("|depth error| (mm), mean 0.0") for t in titles)  # a constant shift is no error
    assert any(t.startswith("angular error (deg)") for t in titles)


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match=r"`normals` must have shape \(H, W, 3\)"):
        viz.normals_to_rgb(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"`depth` must have shape \(H, W\) or \(H, W, 1\)"):
        viz.depth_to_rgb(np.zeros((2, 4, 4, 1)))
    with pytest.raises(ValueError, match="no foreground"):
        viz.error_figure(
            np.zeros((4, 4, 3)), np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4, 3)), np.zeros((4, 4, 3))
        )
