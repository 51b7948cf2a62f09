"""Export a full-image `PatchNet` to a TensorFlow SavedModel or to ONNX.

Dynamic: the batch dimension. Fixed at export time: height and width (`image_size`), because the patch grid,
the number of patches and the offset system are laid out from static sizes; export once per image size you serve.
Input: float32 images (batch, H, W, 3), any intensity scale; a light-conditioned model (`PatchNet(light="sh9")`)
takes a dict {"images": ..., "light": (batch, 9) float32 codes} instead. Outputs: "depth" (batch, H, W, 1) and
"normals" (batch, H, W, 3), as `PatchNet` (mask input not exported: the whole image counts as foreground).

Both formats go through Keras' `model.export`. SavedModel needs the TensorFlow backend; ONNX the TensorFlow
backend (with `tf2onnx`: `pip install "keras-patchnet[export]"`; outputs named "depth" and "normals") or the
PyTorch backend (outputs in the order depth, normals, with generated names). Weights trained on any backend load
on either. ONNX has no linear-solve operator, so the exported depth stitch uses the conjugate-gradient solver
(`depth_solver="cg"`), which gives the same offsets to float32 accuracy.
"""

import keras

FORMATS = ("tf_saved_model", "onnx")


def export(model, path, format="tf_saved_model", image_size=(224, 224), verbose=False):
    """Writes `model` (a `PatchNet`) to `path` in `format` for images of `image_size` (H, W), dynamic batch.
    Returns `path`."""
    from keras_patchnet.models import PatchNet
    from keras_patchnet.ops.light import CHANNELS as LIGHT_CHANNELS

    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {FORMATS}. Received: format={format!r}")
    if not isinstance(model, PatchNet):
        raise ValueError(f"`model` must be a keras_patchnet PatchNet. Received: {type(model).__name__}")
    backends = ("tensorflow", "torch") if format == "onnx" else ("tensorflow",)
    if keras.backend.backend() not in backends:
        raise RuntimeError(
            f"Export to {format} needs the {' or '.join(backends)} backend; this process runs "
            f"{keras.backend.backend()}. Save the weights and export from such a process."
        )
    if len(image_size) != 2 or not all(isinstance(v, int) and v > 0 for v in image_size):
        raise ValueError(f"`image_size` must be (height, width) in pixels. Received: image_size={image_size!r}")
    if format == "onnx" and model.depth_solver != "cg":
        clone = PatchNet.from_config({**model.get_config(), "depth_solver": "cg"})
        clone.set_weights(model.get_weights())
        model = clone
    spec = keras.InputSpec(shape=(None, *image_size, 3), dtype="float32")
    if model.light:
        spec = {"images": spec, "light": keras.InputSpec(shape=(None, LIGHT_CHANNELS), dtype="float32")}
    spec = [spec]
    model.export(str(path), format=format, input_signature=spec, verbose=verbose)
    return path
