"""Building blocks shared by the three patch networks (seed-spec §1.1)."""

import keras
from keras import layers

from keras_patchnet.constants import INTENSITIES


def conv_bn_relu(x, filters, name, transpose=False, batch_norm=True):
    """3x3 "same" convolution (or stride-1 transposed convolution, as in the report's UNet), BatchNorm, ReLU."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, 3, padding="same", name=f"{name}_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def widths(width):
    return (width, 2 * width, 4 * width, 8 * width, 8 * width)


def encoder(x, width, name="encoder"):
    """SegNet-style encoder of seed-spec §1.2: blocks (2, 2, 3, 3, 3), widths (m, 2m, 4m, 8m, 8m), a 2x2 max-pool
    after each. Returns the pooled output and the five pre-pool activations (the UNet's skips)."""
    skips = []
    for stage, (filters, n) in enumerate(zip(widths(width), (2, 2, 3, 3, 3)), start=1):
        for i in range(n):
            x = conv_bn_relu(x, filters, f"{name}_s{stage}_{i}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"{name}_s{stage}_pool")(x)
    return x, skips


def decoder(x, width, out_channels, name, skips=None, transpose=False):
    """Upsample x2 and convolve, five times: widths (8m, 8m, 4m, 2m, m), (3, 3, 3, 2, 2) convs, then a linear 1x1
    head. With `skips` (UNet) each stage first concatenates the encoder's activation of that scale."""
    stage_widths = (8 * width, 8 * width, 4 * width, 2 * width, width)
    for stage, (filters, n) in enumerate(zip(stage_widths, (3, 3, 3, 2, 2)), start=1):
        if skips is None:
            x = layers.UpSampling2D(2, name=f"{name}_s{stage}_up")(x)
        elif stage == 1:
            x = layers.Concatenate(name=f"{name}_s1_concat")([skips[4], x])
        else:
            x = layers.UpSampling2D(2, name=f"{name}_s{stage}_up")(x)
            x = layers.Concatenate(name=f"{name}_s{stage}_concat")([x, skips[5 - stage]])
        for i in range(n):
            x = conv_bn_relu(x, filters, f"{name}_s{stage}_{i}", transpose=transpose)
    return layers.Conv2D(out_channels, 1, name=f"{name}_head", dtype="float32")(x)


@keras.saving.register_keras_serializable(package="keras_patchnet")
class IntensityNormalization(keras.layers.Layer):
    """Scales pixel intensities. scope="patch" (default): divides each patch by its own maximum (at least
    `epsilon`), so pixel scale ([0, 1] or [0, 255], uint8 or float) and light power do not matter exactly.
    scope="fixed": divides by 255, for patches cut from images already scaled to a maximum of 255 per image
    (`PatchNet(intensity="image")`), so that brightness differences between patches of one image survive.
    uint8 input is cast to the compute dtype first.

    Input shape / Output shape: (B, P, P, C).
    """

    def __init__(self, epsilon=1e-6, scope="patch", **kwargs):
        super().__init__(**kwargs)
        if scope not in ("patch", "fixed"):
            raise ValueError(f"`scope` must be 'patch' or 'fixed'. Received: scope={scope!r}")
        self.epsilon, self.scope = float(epsilon), scope

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.scope == "fixed":
            return x / 255.0
        peak = keras.ops.max(x, axis=(1, 2, 3), keepdims=True)
        return x / keras.ops.maximum(peak, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "scope": self.scope}


def input_normalization(inputs, intensity):
    """The networks' first layer: per-patch normalisation (intensity="patch") or a fixed 1/255 scale, for patches of
    per-image normalised images (intensity="image") or of images whose brightness is calibrated (intensity="none":
    input in [0, 255] as captured, for a fixed, known light)."""
    if intensity not in INTENSITIES:
        raise ValueError(f"`intensity` must be one of {INTENSITIES}. Received: intensity={intensity!r}")
    scope = "patch" if intensity == "patch" else "fixed"
    return IntensityNormalization(scope=scope, name="intensity_normalization")(inputs)


def outputs(depth, normals):
    """Named float32 outputs (linear heads; normals are not normalised inside the network, as in the report)."""
    depth = layers.Identity(name="depth", dtype="float32")(depth)
    normals = layers.Identity(name="normals", dtype="float32")(normals)
    return {"depth": depth, "normals": normals}
