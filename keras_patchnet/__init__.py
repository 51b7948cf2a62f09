"""keras-patchnet: depth and normal maps of textureless deformable surfaces from one RGB image (PatchNet), on
every Keras 3 backend."""

__version__ = "0.1.0"

from keras_patchnet import data, geometry, layers, losses, metrics, models, ops  # noqa: E402

__all__ = ["data", "geometry", "layers", "losses", "metrics", "models", "ops", "__version__"]
