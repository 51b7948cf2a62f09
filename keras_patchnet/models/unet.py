"""The UNet PatchNet variant (seed-spec §1.3): 1,989,452 trainable parameters at width 8, P = 128."""

import keras
from keras import layers

from keras_patchnet.models import blocks
from keras_patchnet.models.baseline import check_patch_network_args


def unet_network(patch_size=128, width=8, intensity="patch", name="unet", light_channels=0, light_film=False):
    """Patches (N, P, P, 3 + light_channels) -> {"depth": (N, P, P, 1), "normals": (N, P, P, 3)}.

    The baseline encoder, a dense bottleneck shared by both decoders, and two decoders of stride-1 transposed
    convolutions with skip connections at every scale. The report reshaped the Dense output to a hard-coded
    4 x 4 x 64, which only works for P = 128 and width 8; here the Dense layer has (P / 32)^2 * 8 * width units and
    is reshaped to (P / 32, P / 32, 8 * width), so any P that is a multiple of 32 works (the Dense layer grows with
    P^4: 16.8 M parameters at P = 256). BatchNorm trains under `fit`. `light_channels`: the light code's
    channels after the image's (a light-conditioned `PatchNet`), read as input channels, or with `light_film` as
    FiLM modulations of the encoder's stages.
    """
    check_patch_network_args(patch_size, width)
    inputs = blocks.patch_input(patch_size, light_channels)
    x, light = inputs, None
    if light_film:  # the code modulates the encoder instead of entering as channels
        x, light = blocks.SplitLight(name="split_light")(inputs)
        light = layers.Dense(32, activation="relu", name="light_embed")(light)
    x = blocks.input_normalization(x, intensity)
    code, skips = blocks.encoder(x, width, light=light)
    side, channels = patch_size // 32, 8 * width
    x = layers.Flatten(name="bottleneck_flatten")(code)
    x = layers.Dense(side * side * channels, activation="relu", name="bottleneck_dense")(x)
    x = layers.Reshape((side, side, channels), name="bottleneck_reshape")(x)
    x = layers.UpSampling2D(2, name="bottleneck_up")(x)
    depth = blocks.decoder(x, width, 1, "depth_decoder", skips=skips, transpose=True)
    normals = blocks.decoder(x, width, 3, "normals_decoder", skips=skips, transpose=True)
    return keras.Model(inputs, blocks.outputs(depth, normals), name=name)
