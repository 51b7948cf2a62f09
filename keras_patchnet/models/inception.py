"""The Inception PatchNet variant (seed-spec §1.4): 10,756,132 trainable parameters at width 8, P = 128.

An Inception-v4-style encoder (stem, Inception-A, Reduction-A, Inception-B, Inception-C; Szegedy et al. 2017) with
the report's changes kept for parameter parity: stride 1 in the stem's last max-pool, 1x1 "average pools"
(identities), two 1x7 convolutions in Inception-B's third branch. Its decoders are the baseline's.

Activations: the report's encoder has none (and no BatchNorm), so apart from the max-pools it is one linear map.
Here `encoder_activation="relu"` (the default) puts a ReLU after every encoder convolution, as in Inception-v4;
`encoder_activation=None` reproduces the report. Parameter counts are the same either way.
"""

import keras
from keras import layers

from keras_patchnet.models import blocks
from keras_patchnet.models.baseline import check_patch_network_args


class _Convs:
    def __init__(self, activation):
        self.activation, self.count = activation, 0

    def __call__(self, x, filters, kernel, strides=1, padding="same"):
        self.count += 1
        return layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding=padding,
            activation=self.activation,
            name=f"encoder_conv{self.count}",
        )(x)


def _inception_encoder(x, width, activation):
    conv = _Convs(activation)
    cat = layers.Concatenate
    # Stem
    x = conv(x, 32, 3, strides=2, padding="valid")
    x = conv(x, 32, 3, padding="valid")
    x = conv(x, 64, 3)
    x = cat()([layers.MaxPooling2D(3, strides=2)(x), conv(x, 96, 3, strides=2, padding="valid")])
    a = conv(conv(x, 64, 1), 96, 3, padding="valid")
    b = conv(conv(conv(conv(x, 64, 1), 64, (7, 1)), 64, (1, 7)), 96, 3, padding="valid")
    x = cat()([a, b])
    x = cat()([conv(x, 192, 3, padding="valid"), layers.MaxPooling2D(3, strides=1)(x)])
    x = layers.MaxPooling2D(2)(x)
    # Inception-A
    x = cat()(
        [
            conv(layers.AveragePooling2D(1)(x), 96, 1),
            conv(x, 96, 1),
            conv(conv(x, 64, 1), 96, 3),
            conv(conv(conv(x, 64, 1), 96, 3), 96, 3),
        ]
    )
    # Reduction-A (k, l, m, n = 192, 224, 256, 384)
    x = cat()(
        [
            layers.MaxPooling2D(3, strides=2)(x),
            conv(x, 384, 3, strides=2, padding="valid"),
            conv(conv(conv(x, 192, 1), 224, 3), 256, 3, strides=2, padding="valid"),
        ]
    )
    # Inception-B
    x = cat()(
        [
            conv(layers.AveragePooling2D(1)(x), 128, 1),
            conv(x, 384, 1),
            conv(conv(conv(x, 192, 1), 224, (1, 7)), 256, (1, 7)),
            conv(conv(conv(conv(conv(x, 192, 1), 192, (1, 7)), 224, (7, 1)), 224, (1, 7)), 256, (7, 1)),
        ]
    )
    x = conv(x, 256, 1)
    # Inception-C
    c3 = conv(x, 384, 1)
    c4 = conv(conv(conv(x, 384, 1), 448, (1, 3)), 512, (3, 1))
    x = cat()(
        [
            conv(layers.AveragePooling2D(1)(x), 256, 1),
            conv(x, 256, 1),
            conv(c3, 256, (1, 3)),
            conv(c3, 256, (3, 1)),
            conv(c4, 256, (3, 1)),
            conv(c4, 256, (1, 3)),
        ]
    )
    return conv(x, 8 * width, 3, padding="valid")


def inception_network(
    patch_size=128, width=8, encoder_activation="relu", intensity="patch", name="inception", light_channels=0
):
    """Patches (N, 128, 128, 3) -> {"depth": (N, 128, 128, 1), "normals": (N, 128, 128, 3)}.

    The encoder's valid convolutions fix its output at 4 x 4 for 128-pixel patches only, so `patch_size` must be 128.
    """
    check_patch_network_args(patch_size, width)
    if patch_size != 128:
        raise ValueError(f"The Inception encoder supports `patch_size`=128 only. Received: patch_size={patch_size}")
    if encoder_activation not in ("relu", None):
        raise ValueError(
            f"`encoder_activation` must be 'relu' or None. Received: encoder_activation={encoder_activation!r}"
        )
    inputs = blocks.patch_input(patch_size, light_channels)
    x = blocks.input_normalization(inputs, intensity)
    code = _inception_encoder(x, width, encoder_activation)
    depth = blocks.decoder(code, width, 1, "depth_decoder")
    normals = blocks.decoder(code, width, 3, "normals_decoder")
    return keras.Model(inputs, blocks.outputs(depth, normals), name=name)
