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


def encoder(x, width, name="encoder", light=None):
    """SegNet-style encoder of seed-spec §1.2: blocks (2, 2, 3, 3, 3), widths (m, 2m, 4m, 8m, 8m), a 2x2 max-pool
    after each. Returns the pooled output and the five pre-pool activations (the UNet's skips). `light`: a light
    code (N, K) that scales and shifts each stage's output channels (FiLM, Perez et al. 2018), through a Dense
    layer per stage initialised at zero (so the encoder starts as it would without the code)."""
    skips = []
    for stage, (filters, n) in enumerate(zip(widths(width), (2, 2, 3, 3, 3)), start=1):
        for i in range(n):
            x = conv_bn_relu(x, filters, f"{name}_s{stage}_{i}")
        if light is not None:
            film = layers.Dense(2 * filters, kernel_initializer="zeros", name=f"{name}_s{stage}_film_dense")(light)
            x = FiLM(name=f"{name}_s{stage}_film")([x, film])
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
    uint8 input is cast to the compute dtype first. `image_channels`: None (default) scales every channel; an int
    scales only the first `image_channels` (the image) and passes the rest (e.g. a light code's channels) unchanged.

    Input shape / Output shape: (B, P, P, C).
    """

    def __init__(self, epsilon=1e-6, scope="patch", image_channels=None, **kwargs):
        super().__init__(**kwargs)
        if scope not in ("patch", "fixed"):
            raise ValueError(f"`scope` must be 'patch' or 'fixed'. Received: scope={scope!r}")
        if image_channels is not None and (
            isinstance(image_channels, bool) or not isinstance(image_channels, int) or image_channels < 1
        ):
            raise ValueError(
                f"`image_channels` must be a positive int or None. Received: image_channels={image_channels!r}"
            )
        self.epsilon, self.scope, self.image_channels = float(epsilon), scope, image_channels

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        rest = None
        if self.image_channels is not None and x.shape[-1] != self.image_channels:
            x, rest = x[..., : self.image_channels], x[..., self.image_channels :]
        if self.scope == "fixed":
            x = x / 255.0
        else:
            peak = keras.ops.max(x, axis=(1, 2, 3), keepdims=True)
            x = x / keras.ops.maximum(peak, self.epsilon)
        return x if rest is None else keras.ops.concatenate([x, rest], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {**super().get_config(), "epsilon": self.epsilon, "scope": self.scope}
        if self.image_channels is not None:
            config["image_channels"] = self.image_channels
        return config


@keras.saving.register_keras_serializable(package="keras_patchnet")
class SplitLight(keras.layers.Layer):
    """(N, P, P, 3 + K) patches -> [(N, P, P, 3) image, (N, K) light code]: the code's constant channels averaged
    over the pixels that hold them (a patch's zero padding left out)."""

    def call(self, inputs):
        image, channels = inputs[..., :3], inputs[..., 3:]
        held = keras.ops.cast(keras.ops.any(channels != 0, axis=-1, keepdims=True), channels.dtype)
        count = keras.ops.maximum(keras.ops.sum(held, axis=(1, 2)), 1.0)
        return [image, keras.ops.sum(channels * held, axis=(1, 2)) / count]

    def compute_output_shape(self, input_shape):
        return [(*input_shape[:3], 3), (input_shape[0], input_shape[3] - 3)]


@keras.saving.register_keras_serializable(package="keras_patchnet")
class FiLM(keras.layers.Layer):
    """[x (N, H, W, C), film (N, 2C)] -> x * (1 + gamma) + beta, with (gamma, beta) = film split in two."""

    def call(self, inputs):
        x, film = inputs
        gamma, beta = keras.ops.split(keras.ops.cast(film, x.dtype), 2, axis=-1)
        return x * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def patch_input(patch_size, light_channels=0):
    """The patch networks' input: RGB patches, followed by `light_channels` constant channels of a light code
    (a light-conditioned `PatchNet`, see `PatchNet(light=...)`)."""
    if isinstance(light_channels, bool) or not isinstance(light_channels, int) or light_channels < 0:
        raise ValueError(f"`light_channels` must be an int >= 0. Received: light_channels={light_channels!r}")
    return keras.Input((patch_size, patch_size, 3 + light_channels), name="patches")


def input_normalization(inputs, intensity):
    """The networks' first layer: per-patch normalisation (intensity="patch") or a fixed 1/255 scale, for patches of
    per-image normalised images (intensity="image") or of images whose brightness is calibrated (intensity="none":
    input in [0, 255] as captured, for a fixed, known light)."""
    if intensity not in INTENSITIES:
        raise ValueError(f"`intensity` must be one of {INTENSITIES}. Received: intensity={intensity!r}")
    scope = "patch" if intensity == "patch" else "fixed"
    image_channels = 3 if inputs.shape[-1] != 3 else None  # light channels pass unscaled
    return IntensityNormalization(scope=scope, image_channels=image_channels, name="intensity_normalization")(inputs)


def outputs(depth, normals):
    """Named float32 outputs (linear heads; normals are not normalised inside the network, as in the report)."""
    depth = layers.Identity(name="depth", dtype="float32")(depth)
    normals = layers.Identity(name="normals", dtype="float32")(normals)
    return {"depth": depth, "normals": normals}
