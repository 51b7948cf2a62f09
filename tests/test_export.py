"""Export of the full-image model to a TensorFlow SavedModel and to ONNX, run and compared with Keras (1e-4)."""

import keras
import numpy as np
import pytest

from keras_patchnet import export, models
from keras_patchnet.data import render_batch

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="model.export to SavedModel / ONNX runs on the TensorFlow backend")


@pytest.fixture(scope="module")
def model_and_images():
    keras.utils.set_random_seed(1)
    model = models.unet(patch_size=32, width=2, min_overlap=8)
    return model, render_batch([1, 2, 3], 40, 48)["images"].astype("float32")


def test_saved_model_matches_keras_with_a_dynamic_batch(model_and_images, tmp_path):
    import tensorflow as tf

    model, images = model_and_images
    export.export(model, tmp_path / "sm", "tf_saved_model", image_size=(40, 48))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))  # keep it: its variables die with it
    for batch in (images, images[:1]):  # two batch sizes, one export
        out, ref = loaded.serve(batch), model.predict_on_batch(batch)
        for key in ("depth", "normals"):
            np.testing.assert_allclose(np.asarray(out[key]), np.asarray(ref[key]), atol=1e-4)


def test_onnx_matches_keras_with_a_dynamic_batch(model_and_images, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    model, images = model_and_images
    export.export(model, tmp_path / "m.onnx", "onnx", image_size=(40, 48))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (inp,) = session.get_inputs()
    assert inp.shape[1:] == [40, 48, 3] and not isinstance(inp.shape[0], int)  # batch is the dynamic dimension
    names = [o.name for o in session.get_outputs()]
    for batch in (images, images[:2]):
        ref = model.predict_on_batch(batch)
        for name, value in zip(names, session.run(None, {inp.name: batch})):
            np.testing.assert_allclose(value, np.asarray(ref[name]), atol=1e-4)


def test_bad_arguments(model_and_images, tmp_path):
    model, _ = model_and_images
    with pytest.raises(ValueError, match="`format` must be one of"):
        export.export(model, tmp_path / "x", "tflite")
    with pytest.raises(ValueError, match="`image_size` must be"):
        export.export(model, tmp_path / "x", image_size=(40,))
    with pytest.raises(ValueError, match="must be a keras_patchnet PatchNet"):
        export.export(model.patch_model, tmp_path / "x")
