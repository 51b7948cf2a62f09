"""keras-patchnet: depth and normal maps of textureless deformable surfaces from one RGB image (PatchNet), on
every Keras 3 backend.

Submodules load on first use (`keras_patchnet.models`, `.layers`, ...), so `import keras_patchnet` does not import
Keras yet and a program (the CLI's `--backend`) can still choose `KERAS_BACKEND` after it.
"""

import importlib

__version__ = "0.2.0"

_SUBMODULES = (
    "constants",
    "data",
    "evaluation",
    "export",
    "geometry",
    "hub",
    "io",
    "layers",
    "lighting",
    "losses",
    "metrics",
    "models",
    "ops",
    "presets",
    "training",
    "viz",
)
__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_patchnet.{name}")
    raise AttributeError(f"module 'keras_patchnet' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
