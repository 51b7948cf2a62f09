"""The three PatchNet networks and the full-image model.

`baseline()`, `unet()` and `inception()` return a `PatchNet` (full images in, stitched maps out); its
`.patch_model` is the encoder-decoder on patches. `list_models()` names them.
"""

from keras_patchnet.models.baseline import baseline_network
from keras_patchnet.models.blocks import IntensityNormalization
from keras_patchnet.models.inception import inception_network
from keras_patchnet.models.patchnet import PatchNet
from keras_patchnet.models.unet import unet_network

NETWORKS = {"baseline": baseline_network, "unet": unet_network, "inception": inception_network}


def list_models():
    """Names accepted by `create_model` (and functions of this module): ["baseline", "inception", "unet"]."""
    return sorted(NETWORKS)


def create_model(name, pretrained=False, patch_size=128, width=8, network_kwargs=None, intensity="patch", **kwargs):
    """A `PatchNet` with the `name` patch network. `kwargs` go to `PatchNet` (grid, refinement).

    `pretrained`: False, True (the default weights of `name`), a tag or preset name (see
    `keras_patchnet.presets.list_pretrained()`), or a local folder / `.weights.h5` file. A preset or folder brings
    its own architecture (config.json); `patch_size` and `width` then only apply to a bare `.weights.h5` file.
    `cache_dir` and `endpoint` in kwargs go to the Hub download. `intensity`: "patch" (each patch divided by its
    maximum) or "image" (each image scaled to a maximum of 255 before it is cut; see `PatchNet`)."""
    if name not in NETWORKS:
        raise ValueError(f"Unknown model name {name!r}. Available: {list_models()}")
    if pretrained is not False and pretrained is not None:
        from keras_patchnet import hub

        architecture = {
            "patch_size": patch_size,
            "width": width,
            "network_kwargs": network_kwargs,
            "intensity": intensity,
        }
        return hub.load_pretrained(name, pretrained, architecture=architecture, **kwargs)
    network = NETWORKS[name](patch_size=patch_size, width=width, intensity=intensity, **(network_kwargs or {}))
    return PatchNet(network, patch_size=patch_size, intensity=intensity, name=f"patchnet_{name}", **kwargs)


def baseline(pretrained=False, patch_size=128, width=8, **kwargs):
    """The report's baseline PatchNet (768,204 trainable parameters at the defaults). See `PatchNet` for kwargs."""
    return create_model("baseline", pretrained, patch_size, width, **kwargs)


def unet(pretrained=False, patch_size=128, width=8, **kwargs):
    """The UNet PatchNet (1,989,452 trainable parameters at the defaults). See `PatchNet` for kwargs."""
    return create_model("unet", pretrained, patch_size, width, **kwargs)


def inception(pretrained=False, patch_size=128, width=8, encoder_activation="relu", **kwargs):
    """The Inception PatchNet (10,756,132 trainable parameters at the defaults; `encoder_activation=None` is the
    report's linear encoder). See `PatchNet` for kwargs."""
    return create_model(
        "inception", pretrained, patch_size, width, network_kwargs={"encoder_activation": encoder_activation}, **kwargs
    )


__all__ = [
    "PatchNet",
    "IntensityNormalization",
    "baseline",
    "unet",
    "inception",
    "baseline_network",
    "unet_network",
    "inception_network",
    "create_model",
    "list_models",
]
