"""Export of the full-image model to a TensorFlow SavedModel and to ONNX, run and compared with Keras (1e-4)."""

import keras
import numpy as np
import pytest

from keras_patchnet import export, models
from keras_patchnet.data import render_batch

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export runs on the TensorFlow backend"
)
onnx_backends = pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "torch"),
    reason="ONNX export runs on the TensorFlow and PyTorch backends",
)


SIZE = (112, 112)


@pytest.fixture(scope="module")
def model_and_images():
    # the shipped UNet: an untrained network's near-zero normal vectors would turn float32 rounding differences
    # between runtimes into visible angles after normalisation
    model = models.unet(pretrained=True)
    return model, render_batch([1, 2, 3], *SIZE, lighting="fixed")["images"].astype("float32")


@tensorflow_only
def test_saved_model_matches_keras_with_a_dynamic_batch(model_and_images, tmp_path):
    import tensorflow as tf

    model, images = model_and_images
    export.export(model, tmp_path / "sm", "tf_saved_model", image_size=SIZE)
    loaded = tf.saved_model.load(str(tmp_path / "sm"))  # keep it: its variables die with it
    for batch in (images, images[:1]):  # two batch sizes, one export
        out, ref = loaded.serve(batch), model.predict_on_batch(batch)
        for key in ("depth", "normals"):
            np.testing.assert_allclose(np.asarray(out[key]), np.asarray(ref[key]), atol=1e-4)


@onnx_backends
def test_onnx_matches_keras_with_a_dynamic_batch(model_and_images, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if keras.backend.backend() == "tensorflow":
        pytest.importorskip("tf2onnx")
    model, images = model_and_images
    export.export(model, tmp_path / "m.onnx", "onnx", image_size=SIZE)
    onnx_run = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (inp,) = onnx_run.get_inputs()
    assert inp.shape[1:] == [*SIZE, 3] and not isinstance(inp.shape[0], int)  # batch is the dynamic dimension
    names = [o.name for o in onnx_run.get_outputs()]
    if keras.backend.backend() == "torch":  # generated output names, in the order of the outputs
        assert len(names) == 2
        names = ["depth", "normals"]
    for batch in (images, images[:2]):
        ref = model.predict_on_batch(batch)
        outputs = onnx_run.run(None, {inp.name: batch})
        assert [o.shape[-1] for o in outputs] == [1, 3]
        for name, value in zip(names, outputs):
            np.testing.assert_allclose(value, np.asarray(ref[name]), atol=1e-4)


@tensorflow_only
def test_bad_arguments(model_and_images, tmp_path):
    model, _ = model_and_images
    with pytest.raises(ValueError, match="`format` must be one of"):
        export.export(model, tmp_path / "x", "tflite")
    with pytest.raises(ValueError, match="`image_size` must be"):
        export.export(model, tmp_path / "x", image_size=(40,))
    with pytest.raises(ValueError, match="must be a keras_patchnet PatchNet"):
        export.export(model.patch_model, tmp_path / "x")


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the message on other backends")
def test_saved_model_on_another_backend_says_which_backend(model_and_images, tmp_path):
    model, _ = model_and_images
    with pytest.raises(RuntimeError, match="Export to tf_saved_model needs the tensorflow backend"):
        export.export(model, tmp_path / "x", "tf_saved_model", image_size=SIZE)
