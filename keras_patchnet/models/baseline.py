"""The baseline PatchNet encoder-decoder (seed-spec §1.2): 768,204 trainable parameters at width 8, P = 128."""

import keras

from keras_patchnet.models import blocks


def check_patch_network_args(patch_size, width):
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 32 or patch_size % 32:
        raise ValueError(
            f"`patch_size` must be a positive multiple of 32 (five 2x poolings). Received: patch_size={patch_size!r}"
        )
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive int. Received: width={width!r}")


def baseline_network(patch_size=128, width=8, intensity="patch", name="baseline", light_channels=0):
    """Patches (N, P, P, 3 + light_channels) -> {"depth": (N, P, P, 1), "normals": (N, P, P, 3)}.

    A SegNet-like encoder (13 convs, blocks (2, 2, 3, 3, 3)) and two independent decoders with nearest-neighbour
    upsampling and a linear 1x1 head. Unlike the report's code, BatchNorm really trains: the seed called the
    network without `training=True`, so its BatchNorm layers stayed affine maps with frozen statistics; here
    `fit` trains them (seed-spec §1.5). Inputs are normalised per patch (`IntensityNormalization`).
    """
    check_patch_network_args(patch_size, width)
    inputs = blocks.patch_input(patch_size, light_channels)
    x = blocks.input_normalization(inputs, intensity)
    code, _ = blocks.encoder(x, width)
    depth = blocks.decoder(code, width, 1, "depth_decoder")
    normals = blocks.decoder(code, width, 3, "normals_decoder")
    return keras.Model(inputs, blocks.outputs(depth, normals), name=name)
