import keras
import numpy as np
import pytest

from keras_patchnet.layers import BilateralRefine
from keras_patchnet.ops.bilateral import bilateral_filter
from tests.helpers import BACKEND, assert_config_complete, check_gradient, layer_roundtrip, to_numpy

# Inputs: rng = np.random.default_rng(0); NORMALS_IN = np.round(rng.random((4, 5, 3)) * 2 - 1, 3);
# DEPTH_IN = np.round(1.2 + 0.05 * rng.random((4, 5)), 4), both float32.
NORMALS_IN = np.array(
    [
        [
            [0.274, -0.46, -0.918],
            [-0.967, 0.627, 0.826],
            [0.213, 0.459, 0.087],
            [0.87, 0.632, -0.995],
            [0.715, -0.933, 0.459],
        ],
        [
            [-0.649, 0.726, 0.083],
            [-0.401, -0.155, -0.943],
            [-0.751, 0.341, 0.294],
            [0.231, -0.233, 0.994],
            [0.962, 0.371, 0.301],
        ],
        [
            [0.377, -0.222, -0.73],
            [0.443, 0.051, -0.38],
            [-0.028, 0.779, 0.868],
            [-0.284, 0.143, -0.356],
            [0.189, -0.324, -0.217],
        ],
        [
            [0.781, -0.546, 0.246],
            [-0.832, 0.665, 0.574],
            [-0.521, 0.753, -0.883],
            [-0.328, -0.699, -0.099],
            [0.593, -0.539, -0.896],
        ],
    ],
    "float32",
)
DEPTH_IN = np.array(
    [
        [1.2202, 1.2099, 1.2045, 1.2290, 1.2149],
        [1.2336, 1.2100, 1.2471, 1.2183, 1.2053],
        [1.2315, 1.2464, 1.2220, 1.2477, 1.2250],
        [1.2213, 1.2310, 1.2498, 1.2474, 1.2230],
    ],
    "float32",
)
# cv2.bilateralFilter(NORMALS_IN, d=3, sigmaColor=0.3, sigmaSpace=1), opencv-python-headless 5.0.0.93
NORMALS_CV2 = np.array(
    [
        [[0.2740000, -0.4600000, -0.9180000], [-0.9670000, 0.6270000, 0.8260000], [0.2128854, 0.4589860, 0.0870246],
         [0.8700000, 0.6320000, -0.9950000], [0.7150000, -0.9329998, 0.4590000]],
        [[-0.6490000, 0.7260000, 0.0830000], [-0.4009997, -0.1549999, -0.9429998], [-0.7509427, 0.3410070, 0.2939877],
         [0.2310000, -0.2330000, 0.9940000], [0.9620001, 0.3709999, 0.3010000]],
        [[0.3822711, -0.2001971, -0.7020475], [0.4402546, 0.0396450, -0.3945577], [-0.0280000, 0.7790000, 0.8680000],
         [-0.2835741, 0.1422016, -0.3557597], [0.1881321, -0.3231335, -0.2172966]],
        [[0.7810000, -0.5459999, 0.2459999], [-0.8320000, 0.6650000, 0.5740000], [-0.5210000, 0.7530000, -0.8830000],
         [-0.3279624, -0.6982810, -0.0992194], [0.5929578, -0.5389776, -0.8959291]],
    ],
    "float32",
)  # fmt: skip
# cv2.bilateralFilter(DEPTH_IN, d=3, sigmaColor=10, sigmaSpace=1): the report's depth setting (metres)
DEPTH_CV2_REPORT = np.array(
    [
        [1.2212976, 1.2108027, 1.2248762, 1.2183782, 1.2164934],
        [1.2225001, 1.2271720, 1.2234486, 1.2281960, 1.2150897],
        [1.2353417, 1.2302724, 1.2402343, 1.2338738, 1.2291957],
        [1.2283458, 1.2380636, 1.2362040, 1.2436116, 1.2323472],
    ],
    "float32",
)
# cv2.bilateralFilter(DEPTH_IN, d=5, sigmaColor=0.02, sigmaSpace=2): an edge-preserving setting, 13-tap window
DEPTH_CV2_D5 = np.array(
    [
        [1.2170391, 1.2170842, 1.2152098, 1.2250435, 1.2164867],
        [1.2300057, 1.2174488, 1.2384782, 1.2201736, 1.2181358],
        [1.2289685, 1.2391254, 1.2281086, 1.2409407, 1.2260458],
        [1.2344061, 1.2314541, 1.2426769, 1.2384262, 1.2322104],
    ],
    "float32",
)


@pytest.mark.parametrize(
    "inputs, kwargs, expected",
    [
        (NORMALS_IN, {"diameter": 3, "sigma_space": 1.0, "sigma_range": 0.3}, NORMALS_CV2),
        (DEPTH_IN[..., None], {"diameter": 3, "sigma_space": 1.0, "sigma_range": 10.0}, DEPTH_CV2_REPORT[..., None]),
        (DEPTH_IN[..., None], {"diameter": 5, "sigma_space": 2.0, "sigma_range": 0.02}, DEPTH_CV2_D5[..., None]),
    ],
)
def test_matches_opencv_bilateral_filter(inputs, kwargs, expected):
    out = to_numpy(BilateralRefine(**kwargs)(inputs[None]))[0]
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)


def test_report_depth_setting_is_a_fixed_plus_shaped_blur():
    # seed-spec §8: with sigma_range = 10 m the weights are centre 1/(1+4e^-1/2) = 0.29188, neighbour 0.17703.
    x = np.zeros((1, 5, 5, 1), "float64")
    x[0, 2, 2, 0] = 0.01  # a 1 cm bump: exp(-0.01^2 / 200) = 1 - 5e-7
    out = to_numpy(BilateralRefine(3, 1.0, 10.0, dtype="float64")(x))[0, ..., 0] / 0.01
    centre = 1 / (1 + 4 * np.exp(-0.5))
    assert abs(out[2, 2] - centre) < 1e-5 and abs(out[1, 2] - centre * np.exp(-0.5)) < 1e-5
    assert abs(centre - 0.29188) < 1e-5 and abs(centre * np.exp(-0.5) - 0.17703) < 1e-5
    assert out[1, 1] == 0.0


def test_layer_equals_function():
    x = np.random.default_rng(0).random((2, 9, 11, 3)).astype("float32")
    layer = BilateralRefine(5, 1.5, 0.2, range_distance="l2", window="square")
    expected = bilateral_filter(x, 5, 1.5, 0.2, "l2", "square")
    np.testing.assert_allclose(to_numpy(layer(x)), to_numpy(expected), atol=1e-7)


def test_refining_a_constant_map_returns_it():
    x = np.full((2, 17, 19, 3), 0.37, "float32")
    fg = (np.random.default_rng(0).random((2, 17, 19, 1)) > 0.4).astype("float32")
    out = to_numpy(BilateralRefine(5, 2.0, 0.1)(x, foreground=fg))
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_guided_by_its_own_input_equals_the_plain_filter():
    x = np.random.default_rng(1).random((1, 12, 13, 3)).astype("float32")
    layer = BilateralRefine(3, 1.0, 0.25)
    np.testing.assert_allclose(to_numpy(layer(x, guide=x)), to_numpy(layer(x)), atol=1e-7)


def test_background_is_unchanged_and_never_bleeds_into_the_foreground():
    depth = np.full((1, 10, 10, 1), 1.0, "float32")
    depth[:, :, 5:] = 0.0  # background depth 0 on the right half
    fg = (depth > 0).astype("float32")
    out = to_numpy(BilateralRefine(5, 2.0, 100.0)(depth, foreground=fg))
    np.testing.assert_array_equal(out, depth)  # a huge range sigma would blur 0 into the edge without the mask


def test_seam_region_changes_only_pixels_near_inner_patch_edges():
    x = np.random.default_rng(2).random((1, 224, 224, 1)).astype("float32")
    layer = BilateralRefine(3, 1.0, 10.0, region="seams", seam_width=2, patch_size=128, min_overlap=1)
    changed = np.abs(to_numpy(layer(x)) - x)[0, ..., 0] > 0
    near = np.zeros(224, bool)
    near[[94, 95, 96, 97, 126, 127, 128, 129]] = True  # 2 pixels each side of the inner edges at 96 and 128
    band = near[:, None] | near[None, :]
    assert not changed[~band].any()
    assert changed[band].mean() > 0.9


def test_renormalize_gives_unit_normals():
    n = np.random.default_rng(3).normal(size=(1, 8, 8, 3)).astype("float32")
    out = to_numpy(BilateralRefine(3, 1.0, 0.3, renormalize=True)(n))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("range_distance", ["l1", "l2"])
def test_gradient_matches_finite_differences(range_distance):
    rng = np.random.default_rng(4)
    x = rng.random((1, 6, 7, 3))
    fg = (rng.random((1, 6, 7, 1)) > 0.3).astype("float64")
    guide = rng.random((1, 6, 7, 3))
    weights = rng.normal(size=(1, 6, 7, 3))
    layer = BilateralRefine(5, 1.5, 0.4, range_distance=range_distance, dtype="float64")
    fn = lambda v: keras.ops.sum(keras.ops.multiply(layer(v, foreground=fg), weights))  # noqa: E731
    assert check_gradient(fn, x) < 1e-4
    fn = lambda v: keras.ops.sum(keras.ops.multiply(layer(v, foreground=fg, guide=guide), weights))  # noqa: E731
    assert check_gradient(fn, x) < 1e-4


def test_config_roundtrip_and_keras_file(tmp_path):
    layer = BilateralRefine(5, 1.5, 0.2, "l2", "square", "seams", 3, 16, 4, "half_stride", True)
    assert_config_complete(layer)
    x = np.random.default_rng(5).random((2, 30, 40, 3)).astype("float32")
    layer_roundtrip(layer, x, tmp_path=tmp_path)


def test_symbolic_call_with_none_batch_and_compiled_run():
    inp = keras.Input((24, 30, 3))
    fg = keras.Input((24, 30, 1))
    out = BilateralRefine(3, 1.0, 0.3)(inp, foreground=fg)
    assert tuple(out.shape) == (None, 24, 30, 3)
    model = keras.Model([inp, fg], out)
    model.compile(jit_compile=BACKEND != "torch")
    x = np.random.default_rng(6).random((2, 24, 30, 3)).astype("float32")
    m = np.ones((2, 24, 30, 1), "float32")
    np.testing.assert_allclose(model.predict([x, m], verbose=0), to_numpy(model([x, m])), atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_are_finite(policy):
    keras.config.set_dtype_policy(policy)
    x = np.random.default_rng(7).normal(size=(1, 16, 16, 3)).astype("float32")
    out = BilateralRefine(3, 1.0, 0.3, renormalize=True)(x)
    assert np.isfinite(to_numpy(keras.ops.cast(out, "float32"))).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"diameter": 4}, "`diameter` must be a positive odd int. Received: diameter=4"),
        ({"diameter": 0}, "`diameter` must be a positive odd int"),
        ({"sigma_space": 0}, "`sigma_space` must be a positive number"),
        ({"sigma_range": -1.0}, "`sigma_range` must be a positive number"),
        ({"range_distance": "linf"}, "`range_distance` must be one of"),
        ({"window": "round"}, "`window` must be one of"),
        ({"region": "edges"}, "`region` must be one of"),
        ({"seam_width": 0}, "`seam_width` must be a positive int"),
        ({"patch_size": 16, "min_overlap": 16}, "`min_overlap` must satisfy"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BilateralRefine(**kwargs)


@pytest.mark.parametrize(
    "x_shape, kwargs, message",
    [
        ((8, 8, 3), {}, r"`inputs` must be a 4D tensor"),
        ((1, 8, 8, 3), {"foreground": np.ones((1, 8, 9, 1))}, r"`foreground` must be 4D with the height and width"),
        ((1, 8, 8, 3), {"foreground": np.ones((1, 8, 8, 2))}, r"`foreground` must have 1 channel"),
        ((1, 8, 8, 3), {"guide": np.ones((1, 7, 8, 3))}, r"`guide` must be 4D with the height and width"),
    ],
)
def test_bad_input_gets_a_clear_error(x_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        BilateralRefine()(np.zeros(x_shape, "float32"), **kwargs)
