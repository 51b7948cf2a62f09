"""The sRGB tone curve (`ops.encoding`) and `PatchNet(input_encoding=...)`: the IEC 61966-2-1 formula, its inverse,
a finite gradient, and a model told "srgb" that reads an sRGB image as the linear model reads its linear twin."""

import keras
import numpy as np
import pytest

from keras_patchnet import models
from keras_patchnet.data import render
from keras_patchnet.ops.encoding import linear_to_srgb, read_images, srgb_to_linear
from tests.helpers import check_gradient, to_numpy


def srgb_to_linear_np(x):
    c = np.asarray(x, "float64") / 255.0
    return 255.0 * np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def test_the_curve_and_its_inverse_against_the_standard():
    x = np.arange(256, dtype="float32")
    np.testing.assert_allclose(to_numpy(srgb_to_linear(x)), srgb_to_linear_np(x), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(to_numpy(linear_to_srgb(srgb_to_linear(x))), x, atol=2e-3)
    assert to_numpy(srgb_to_linear(np.array([128], "uint8")))[0] == pytest.approx(55.0444, abs=1e-3)


def test_the_curve_has_a_finite_gradient_everywhere():
    x = np.array([0.0, 3.0, 10.0, 10.6, 100.0, 254.0])  # both sides of the knee at 10.31
    assert check_gradient(lambda v: keras.ops.sum(srgb_to_linear(v) ** 2), x) < 1e-4
    grad_at_zero = check_gradient(lambda v: keras.ops.sum(srgb_to_linear(v)), np.zeros(3))
    assert np.isfinite(grad_at_zero) and grad_at_zero < 1e-4


def test_read_images_decodes_only_when_told():
    x = np.array([[[[0, 128, 255]]]], "uint8")
    np.testing.assert_allclose(to_numpy(read_images(x)), x.astype("float32"))
    np.testing.assert_allclose(to_numpy(read_images(x, "srgb")), srgb_to_linear_np(x), rtol=1e-5, atol=1e-4)
    sixteen = x.astype("uint16") * 257
    np.testing.assert_allclose(to_numpy(read_images(sixteen, "srgb")), srgb_to_linear_np(x), rtol=1e-4, atol=1e-3)


def test_a_model_told_srgb_reads_an_srgb_image_as_the_linear_model_reads_its_twin(tmp_path):
    keras.utils.set_random_seed(0)
    tiny = {"arch": "unet", "patch_size": 32, "width": 2, "min_overlap": 8}
    linear = models.build_from_config(tiny)
    srgb = models.build_from_config({**tiny, "input_encoding": "srgb"})
    srgb.set_weights(linear.get_weights())
    image = render(2, 40, 40, lighting="fixed").image.astype("float32")
    encoded = to_numpy(linear_to_srgb(image))
    a = linear.predict_on_batch(image[None])
    b = srgb.predict_on_batch(encoded[None])
    np.testing.assert_allclose(a["depth"], b["depth"], atol=1e-4)
    np.testing.assert_allclose(a["normals"], b["normals"], atol=1e-4)
    assert srgb.get_config()["input_encoding"] == "srgb"
    path = str(tmp_path / "m.keras")
    srgb.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.input_encoding == "srgb"
    np.testing.assert_allclose(loaded.predict_on_batch(encoded[None])["depth"], b["depth"], atol=1e-5)
    with pytest.raises(ValueError, match="`input_encoding` must be one of"):
        models.build_from_config({**tiny, "input_encoding": "gamma"})


def test_every_preset_records_its_encoding():
    from keras_patchnet import presets

    for name in presets.list_pretrained():  # the calibrated presets read linear values, as they always have
        expected = ("linear",) if "calibrated" in name else ("srgb", "linear")
        assert presets.PRESETS[name]["config"]["input_encoding"] in expected, name
