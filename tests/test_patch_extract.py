import keras
import numpy as np
import pytest

from keras_patchnet.layers import PatchExtract, PatchStitch
from tests.helpers import BACKEND, assert_config_complete, layer_roundtrip, to_numpy

SIZES = [(224, 224), (300, 200), (97, 97), (1000, 37), (128, 128), (129, 255)]


def test_patches_are_the_image_crops_at_the_grid_origins():
    x = np.random.default_rng(0).random((2, 224, 200, 3)).astype("float32")
    layer = PatchExtract(128, min_overlap=64)
    patches = to_numpy(layer(x))
    g = layer.grid(224, 200)
    assert patches.shape == (2 * g.num_patches, 128, 128, 3)
    k = 0
    for b in range(2):
        for oy in g.origins_y:
            for ox in g.origins_x:
                np.testing.assert_array_equal(patches[k], x[b, oy : oy + 128, ox : ox + 128])
                k += 1


# More than 8 windows an axis on a regular grid (`ops.grid.regular_step`) takes the blocked cut of
# `ops.patches._cut_axis`: 60 x 44 with P = 8 and overlap 4 is regular on both axes (14 x 10 windows, stride 4);
# 61 x 44 is irregular in y; P = 12 with overlap 4 has a stride (8) that does not divide P, so it keeps one slice a
# window.
@pytest.mark.parametrize(
    "size, patch_size, overlap, regular",
    [((60, 44), 8, 4, (4, 4)), ((61, 44), 8, 4, (None, 4)), ((92, 76), 12, 4, (None, None)), ((20, 100), 4, 3, (1, 1))],
)
def test_crops_on_grids_of_many_windows(size, patch_size, overlap, regular):
    from keras_patchnet.ops.grid import regular_step

    layer = PatchExtract(patch_size, min_overlap=overlap)
    g = layer.grid(*size)
    assert (regular_step(g.origins_y, patch_size), regular_step(g.origins_x, patch_size)) == regular
    assert len(g.origins_y) > 8 and len(g.origins_x) > 8
    x = np.random.default_rng(5).random((2, *size, 3)).astype("float32")
    expected = np.stack(
        [x[b, oy : oy + patch_size, ox : ox + patch_size] for b in range(2) for oy in g.origins_y for ox in g.origins_x]
    )
    np.testing.assert_array_equal(to_numpy(layer(x)), expected)
    inp = keras.Input(x.shape[1:])  # a None batch, compiled
    model = keras.Model(inp, layer(inp))
    model.compile(jit_compile=BACKEND != "torch")
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)


def test_image_smaller_than_a_patch_is_zero_padded():
    x = np.ones((1, 20, 30, 1), "float32")
    patches = to_numpy(PatchExtract(32, min_overlap=8)(x))
    assert patches.shape == (1, 32, 32, 1)
    assert patches[0, :20, :30].min() == 1 and patches[0, 20:].max() == 0 and patches[0, :, 30:].max() == 0


@pytest.mark.parametrize("rule", ["even", "half_stride"])
@pytest.mark.parametrize("size", SIZES)
def test_extract_then_stitch_is_the_identity(size, rule):
    x = np.random.default_rng(1).random((2, *size, 3)).astype("float32")
    patches = PatchExtract(128, min_overlap=64, rule=rule)(x)
    back = to_numpy(PatchStitch(128, min_overlap=64, rule=rule)(patches, output_size=size))
    assert back.shape == x.shape
    assert np.abs(back - x).max() < 1e-6


def test_symbolic_call_with_none_batch():
    inp = keras.Input((224, 224, 3))
    out = PatchExtract(128, min_overlap=1)(inp)
    assert tuple(out.shape) == (None, 128, 128, 3)
    assert PatchExtract(128).compute_output_shape((4, 224, 224, 3)) == (36, 128, 128, 3)


def test_config_roundtrip_and_keras_file(tmp_path):
    layer = PatchExtract(32, min_overlap=5, rule="half_stride")
    assert_config_complete(layer)
    x = np.random.default_rng(2).random((2, 50, 70, 3)).astype("float32")
    layer_roundtrip(layer, x, tmp_path=tmp_path)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_are_finite(policy):
    keras.config.set_dtype_policy(policy)
    x = np.random.default_rng(3).random((1, 60, 70, 3)).astype("float32")
    out = to_numpy(keras.ops.cast(PatchExtract(32, min_overlap=8)(x), "float32"))
    assert np.isfinite(out).all()


def test_runs_compiled_with_the_same_result():
    x = np.random.default_rng(4).random((2, 64, 80, 3)).astype("float32")
    inp = keras.Input((64, 80, 3))
    model = keras.Model(inp, PatchExtract(32, min_overlap=8)(inp))
    model.compile(jit_compile=BACKEND != "torch")
    np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(model(x)), atol=1e-6)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((224, 224, 3), r"`images` must be a 4D tensor .* Received: images.shape=\(224, 224, 3\)"),
        ((1, 0, 10, 3), "`images` is empty"),
    ],
)
def test_bad_images_get_a_clear_error(shape, message):
    with pytest.raises(ValueError, match=message):
        PatchExtract(32)(np.zeros(shape, "float32"))


def test_unknown_height_gets_a_clear_error():
    with pytest.raises(ValueError, match="static height and width"):
        PatchExtract(32)(keras.Input((None, None, 3)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"patch_size": 0}, "`patch_size` must be a positive int. Received: patch_size=0"),
        ({"patch_size": "128"}, "`patch_size` must be a positive int"),
        ({"patch_size": 64, "min_overlap": 64}, "`min_overlap` must satisfy 0 <= min_overlap < patch_size"),
        ({"rule": "stride"}, "`rule` must be one of"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchExtract(**kwargs)
