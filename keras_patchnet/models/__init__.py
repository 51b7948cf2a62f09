"""The three PatchNet networks and the full-image model.

`baseline()`, `unet()` and `inception()` return a `PatchNet` (full images in, stitched maps out); its
`.patch_model` is the encoder-decoder on patches. `list_models()` names them.
"""

import importlib
import inspect

from keras_patchnet import hub
from keras_patchnet.constants import ARCHITECTURES
from keras_patchnet.models.baseline import baseline_network
from keras_patchnet.models.blocks import IntensityNormalization
from keras_patchnet.models.inception import inception_network
from keras_patchnet.models.patchnet import PatchNet
from keras_patchnet.models.unet import unet_network
from keras_patchnet.ops.light import CHANNELS as LIGHT_CHANNELS

# The one registry: `keras_patchnet.models.<name>.<name>_network` for every name in constants.ARCHITECTURES.
NETWORKS = {
    name: getattr(importlib.import_module(f"keras_patchnet.models.{name}"), f"{name}_network") for name in ARCHITECTURES
}
_GRID_ARGS = ("patch_size", "width", "intensity", "name", "light_channels", "light_film")


def list_models():
    """Names accepted by `create_model` (and functions of this module): ["baseline", "inception", "unet"]."""
    return sorted(NETWORKS)


def network_arguments(name, network_kwargs=None):
    """The network's own arguments (beyond patch size, width and intensity), defaults filled in: what a config
    records, e.g. {"encoder_activation": "relu"} for Inception, {} for the others."""
    params = inspect.signature(NETWORKS[name]).parameters
    own = {k: p.default for k, p in params.items() if k not in _GRID_ARGS}
    unknown = set(network_kwargs or {}) - set(own)
    if unknown:
        raise ValueError(f"Unknown `network_kwargs` {sorted(unknown)} for {name!r}. Known: {sorted(own)}")
    return {**own, **(network_kwargs or {})}


def create_model(
    name,
    pretrained=False,
    patch_size=128,
    width=8,
    network_kwargs=None,
    intensity="patch",
    cache_dir=None,
    endpoint=None,
    **kwargs,
):
    """A `PatchNet` with the `name` patch network. `kwargs` go to `PatchNet` (grid, refinement).

    `pretrained`: False, True (the default weights of `name`), a tag or preset name (see
    `keras_patchnet.presets.list_pretrained()`), or a local folder / `.weights.h5` file. A preset or folder brings
    its own architecture (config.json); `patch_size`, `width`, `network_kwargs` and `intensity` then only apply to
    a bare `.weights.h5` file. `cache_dir` and `endpoint` go to the Hub download. `intensity`: see `PatchNet`."""
    if name not in NETWORKS:
        raise ValueError(f"Unknown model name {name!r}. Available: {list_models()}")
    if pretrained is not False and pretrained is not None:
        architecture = {
            "patch_size": patch_size,
            "width": width,
            "network_kwargs": network_kwargs,
            "intensity": intensity,
        }
        config, weights, label = hub.resolve_weights(name, pretrained, architecture, cache_dir, endpoint)
        return hub.load_weights(build_from_config(config, **kwargs), weights, label)
    own = network_arguments(name, network_kwargs)
    light_channels = LIGHT_CHANNELS if kwargs.get("light") else 0
    if kwargs.get("light") == "sh9-film":
        if name != "unet":
            raise ValueError(f"light='sh9-film' (FiLM) is built for the UNet only. Received: name={name!r}")
        own = {**own, "light_film": True}
    network = NETWORKS[name](
        patch_size=patch_size, width=width, intensity=intensity, light_channels=light_channels, **own
    )
    own.pop("light_film", None)
    architecture = {"arch": name, "width": width, "network_kwargs": own}
    return PatchNet(
        network,
        patch_size=patch_size,
        intensity=intensity,
        architecture=architecture,
        name=f"patchnet_{name}",
        **kwargs,
    )


def build_from_config(config, **kwargs):
    """The untrained `PatchNet` described by a preset's config.json ({"arch", "patch_size", "width",
    "min_overlap", ...}; kwargs: grid and refinement options of `PatchNet` that override it)."""
    config = {**config, **kwargs}
    return create_model(config.pop("arch"), **config)


def with_light_input(model, light="sh9"):
    """A light-conditioned copy (`light` "sh9" or "sh9-film") of a `PatchNet` built by this module, which starts
    out as `model`: the patch network's weights are copied, and the first convolution's weights for the 9 light
    channels ("sh9") or the FiLM layers' last weights ("sh9-film") are zero, so it gives `model`'s maps under any
    light until it is trained (a start for a light-conditioned preset)."""
    import numpy as np

    if not isinstance(model, PatchNet) or not model.architecture:
        raise ValueError("`model` must be a PatchNet built by keras_patchnet.models (it records its architecture)")
    if model.light:
        raise ValueError(f"`model` takes a light already (light={model.light!r})")
    if light not in ("sh9", "sh9-film"):
        raise ValueError(f"`light` must be 'sh9' or 'sh9-film'. Received: light={light!r}")
    arch = model.architecture
    film = {"light_film": True} if light == "sh9-film" else {}
    network = NETWORKS[arch["arch"]](
        patch_size=model.patch_size,
        width=arch["width"],
        intensity=model.intensity,
        light_channels=LIGHT_CHANNELS,
        **arch.get("network_kwargs", {}),
        **film,
    )
    old = {layer.name: layer for layer in model.patch_model.layers}
    for layer in network.layers:
        if layer.name not in old:  # the FiLM layers: as built (their last Dense at zero)
            continue
        weights = []
        for new, value in zip(layer.get_weights(), old[layer.name].get_weights()):
            if new.shape != value.shape:  # the first convolution: (k, k, 3, f) -> (k, k, 3 + 9, f), zeros added
                value = np.concatenate([value, np.zeros((*value.shape[:-2], LIGHT_CHANNELS, value.shape[-1]))], -2)
            weights.append(value.astype(new.dtype))
        layer.set_weights(weights)
    return PatchNet(**{**model.get_config(), "patch_model": network, "light": light})


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
    "build_from_config",
    "network_arguments",
    "list_models",
    "with_light_input",
]
