"""The bounded-memory predict path (`models.streaming`): the graph path's maps, chunk by chunk."""

import keras
import numpy as np
import pytest

from keras_patchnet import models
from tests.helpers import check_gradient, to_numpy


def pair(intensity="patch", **kwargs):
    """The same small network twice: one predicting through the graph, one streaming 5 patches at a time."""
    keras.utils.set_random_seed(0)
    graph = models.unet(patch_size=32, width=2, min_overlap=8, intensity=intensity, patch_batch_size=None, **kwargs)
    stream = models.PatchNet.from_config({**graph.get_config(), "patch_batch_size": 5})
    stream.set_weights(graph.get_weights())
    return graph, stream


def images(shape=(2, 70, 90, 3), seed=0):
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    base = 120 + 60 * np.sin(yy / 9.0)[..., None] * np.cos(xx / 13.0)[..., None]
    noise = np.random.default_rng(seed).uniform(-20, 20, shape)
    return np.clip(base + noise, 0, 255).astype("float32")


def compare(graph, stream, x):
    assert stream._streams(x) and not graph._streams(x)
    expected, got = graph.predict_on_batch(x), stream.predict_on_batch(x)
    for key in ("depth", "normals"):
        assert got[key].shape == expected[key].shape
        want = to_numpy(expected[key])
        if key == "normals":
            # JAX's CPU convolutions differ by about 1e-8 between a batch of 5 patches and one of all of them (seen
            # on a CPU without AVX-512), and re-normalising this untrained net's small (|n| ~ 0.05) patch normals and
            # their average amplifies that: 17 of 37,800 values differed by up to 1e-4. A wrong chunk is off by 0.1+.
            assert np.mean(np.abs(got[key] - want) > 2e-5) < 1e-3, key
            np.testing.assert_allclose(got[key], want, atol=5e-4, err_msg=key)
        else:
            np.testing.assert_allclose(got[key], want, atol=2e-5, err_msg=key)


@pytest.mark.parametrize("with_mask", [False, True])
def test_streaming_gives_the_graph_maps(with_mask):
    graph, stream = pair()
    x = images()
    if with_mask:
        yy, xx = np.mgrid[:70, :90]
        disc = (np.hypot(yy - 35, xx - 45) < 30).astype("float32")[None, ..., None]
        x = {"images": x, "mask": np.repeat(disc, 2, 0)}
    compare(graph, stream, x)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the layout shortcut exists on PyTorch only")
def test_streaming_runs_the_patch_network_without_keras_torch_layout_copies(monkeypatch):
    """The streaming path calls the patch network outside Keras' predict step, where autograd is still on; it must
    turn autograd off itself so that `_torch_layout.fast_channels_last` applies (it did not: 1.4x slower at 1024²)."""
    from keras.src.backend.torch import nn as torch_nn

    copies = []
    original = torch_nn._transpose_spatial_inputs

    def counted(inputs):
        copies.append(inputs.ndim)
        return original(inputs)

    monkeypatch.setattr(torch_nn, "_transpose_spatial_inputs", counted)
    _, stream = pair()
    x = images()
    stream.predict_on_batch(x[:1, :40, :40])  # the graph path: Keras' predict step, the shortcut on
    assert 4 not in copies
    assert stream._streams(x)
    stream.predict_on_batch(x)
    assert 4 not in copies
    assert torch_nn._transpose_spatial_inputs is counted  # restored after the call


def test_streaming_in_calls_smaller_than_the_chunk_gives_the_graph_maps(monkeypatch):
    """Each streamed chunk of 5 patches goes through the network in calls of at most `STREAM_CHUNK_PIXELS` pixels
    of patches (here 2 patches of 32², so calls of 2, 2 and 1), with the graph path's result."""
    from keras_patchnet.models import streaming

    graph, stream = pair()
    monkeypatch.setitem(streaming.STREAM_CHUNK_PIXELS, keras.backend.backend(), 2 * 32 * 32)
    assert streaming.stream_step(stream) == 2
    calls = []
    predict = stream.patch_model.predict_on_batch
    monkeypatch.setattr(stream.patch_model, "predict_on_batch", lambda x: calls.append(len(x)) or predict(x))
    compare(graph, stream, images())
    assert calls and set(calls) == {2, 1}


def test_stream_step_is_cache_sized_on_jax():
    from keras_patchnet.models import streaming

    for patch_batch_size in (256, 8, None):
        model = models.baseline(patch_size=64, width=1, patch_batch_size=patch_batch_size)
        expected = model.inference_chunk()
        if keras.backend.backend() == "jax":
            expected = min(patch_batch_size or 16, 16)
        assert streaming.stream_step(model) == expected


def test_streaming_with_image_intensity_a_working_width_and_a_non_finite_pixel():
    graph, stream = pair(intensity="image", working_width=60)
    x = images((1, 80, 100, 3), seed=1)
    x[0, 10, 20] = np.nan
    compare(graph, stream, x)
    out = stream.predict(x)
    assert np.isfinite(out["depth"]).all() and out["depth"].shape == (1, 80, 100, 1)


def test_small_images_and_calls_stay_on_the_graph_path():
    graph, stream = pair()
    assert not stream._streams(images((3, 32, 32, 3)))  # 1 patch an image, even in a batch of 3
    assert not stream._streams(images((1, 70, 90, 3))[:0])
    out = stream(images((1, 70, 90, 3)))  # calling the model is always the graph
    assert tuple(out["depth"].shape) == (1, 70, 90, 1)


@pytest.mark.parametrize("region, renormalize", [("seams", False), ("all", True)])
def test_refinement_band_by_band_equals_the_whole_map(region, renormalize):
    from keras_patchnet.layers import BilateralRefine

    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 70, 90, 3)).astype("float32")
    mask = (rng.random((1, 70, 90, 1)) > 0.2).astype("float32")
    layer = BilateralRefine(5, 1.5, 0.3, region=region, patch_size=32, min_overlap=8, renormalize=renormalize)
    whole = to_numpy(layer(x, foreground=mask))
    np.testing.assert_allclose(layer.filter_rows(x, foreground=mask, rows=16), whole, atol=1e-6)


@pytest.mark.parametrize("size, new", [((224, 224), (112, 112)), ((480, 640), (84, 112)), ((50, 60), (93, 112))])
def test_resize_equals_keras_antialiased_bilinear(size, new):
    from keras_patchnet.ops.resize import resize

    x = np.random.default_rng(0).uniform(0, 255, (1, *size, 3)).astype("float32")
    expected = to_numpy(keras.ops.image.resize(x, new, interpolation="bilinear", antialias=True))
    np.testing.assert_allclose(to_numpy(resize(keras.ops.convert_to_tensor(x), new)), expected, atol=2e-3)  # of 255


@pytest.mark.parametrize("size, new", [((224, 224), (112, 112)), ((480, 640), (84, 112)), ((50, 60), (93, 112))])
def test_nearest_resize_takes_the_pixel_under_each_centre(size, new):
    from PIL import Image

    from keras_patchnet.ops.resize import resize

    x = np.random.default_rng(0).integers(0, 256, (*size, 3)).astype("uint8")
    got = to_numpy(resize(keras.ops.convert_to_tensor(x[None].astype("float32")), new, "nearest"))[0]
    # closed form: the input pixel under each output pixel's centre (2i + 1) / 2 * in / out, in integers
    rows, cols = ((2 * np.arange(n) + 1) * m // (2 * n) for n, m in zip(new, size))
    np.testing.assert_array_equal(got, x[rows][:, cols].astype("float32"))
    # PIL's NEAREST (Pillow, computed here) agrees but where a centre lies exactly on a pixel boundary, which its
    # floating point rounds either way (every centre at 224 -> 112; 12 rows and 16 columns at 480x640 -> 84x112)
    pil = np.asarray(Image.fromarray(x).resize(new[::-1], Image.NEAREST), "float32")
    ties = [(2 * np.arange(n) + 1) * m % (2 * n) == 0 for n, m in zip(new, size)]
    clean = ~(ties[0][:, None] | ties[1][None, :])
    np.testing.assert_array_equal(got[clean], pil[clean])


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resize_gradient(interpolation):
    from keras_patchnet.ops.resize import resize

    x = np.random.default_rng(3).normal(size=(1, 9, 7, 2))
    w = keras.ops.convert_to_tensor(np.random.default_rng(4).normal(size=(1, 4, 5, 2)))
    fn = lambda v: keras.ops.sum(resize(v, (4, 5), interpolation) * keras.ops.cast(w, v.dtype))  # noqa: E731
    assert check_gradient(fn, x) < 1e-6


def test_resize_refuses_an_unknown_interpolation_by_name():
    from keras_patchnet.ops.resize import resize

    with pytest.raises(ValueError, match="`interpolation` must be one of"):
        resize(keras.ops.zeros((1, 8, 8, 1)), (4, 4), "bicubic")


@pytest.mark.parametrize(
    "rows, message", [(0, "`rows` must be a positive int"), (2.5, "`rows` must be a positive int")]
)
def test_banded_refinement_refuses_bad_rows_by_name(rows, message):
    from keras_patchnet.layers import BilateralRefine

    with pytest.raises(ValueError, match=message):
        BilateralRefine(5, 1.5, 0.3).filter_rows(np.zeros((1, 8, 8, 1), "float32"), rows=rows)


def test_banded_refinement_refuses_a_map_of_the_wrong_rank_by_name():
    from keras_patchnet.layers import BilateralRefine

    with pytest.raises(ValueError, match="`inputs` must be a 4D tensor"):
        BilateralRefine(5, 1.5, 0.3).filter_rows(np.zeros((8, 8, 1), "float32"))


@pytest.mark.parametrize("size", [(0, 4), (4,), (4.0, 4), "44", (True, 4)])
def test_resize_refuses_a_bad_size_by_name(size):
    from keras_patchnet.ops.resize import resize

    with pytest.raises(ValueError, match="`size` must be a pair of positive ints"):
        resize(keras.ops.zeros((1, 8, 8, 1)), size)


def test_numpy_shrink_equals_the_models_resize():
    from keras_patchnet.data.dataset import shrink
    from keras_patchnet.ops.resize import resize

    x = np.random.default_rng(1).uniform(0, 255, (300, 200, 3)).astype("float32")
    np.testing.assert_allclose(
        shrink(x, (112, 75)), to_numpy(resize(keras.ops.convert_to_tensor(x[None]), (112, 75)))[0], atol=1e-3
    )
