"""Whole-image evaluation after stitching, and the flat-plane baseline every trained model must beat."""

import numpy as np

from keras_patchnet.data import TEST_SEED, render_batch
from keras_patchnet.metrics import evaluate_maps


def flat_plane(depth_true, normals_true):
    """The trivial prediction: relative depth 0 and every normal facing the camera, (0, 0, -1)."""
    normals = np.zeros(normals_true.shape, "float32")
    normals[..., 2] = -1.0
    return np.zeros(depth_true.shape, "float32"), normals


def predict_maps(model, images, batch_size=8):
    depth, normals = [], []
    for i in range(0, len(images), batch_size):
        out = model.predict_on_batch(images[i : i + batch_size])
        depth.append(np.asarray(out["depth"]))
        normals.append(np.asarray(out["normals"]))
    return np.concatenate(depth), np.concatenate(normals)


def summarise(result):
    return {k: {"mean": result["mean"][k], "std": result["std"][k]} for k in result["mean"]}


def evaluate_synthetic(model, num_images=64, size=224, seed=TEST_SEED, batch_size=8):
    """Metrics of `model` and of the flat plane on `num_images` held-out renders (seeds seed..seed+num_images-1)."""
    data = render_batch(range(seed, seed + num_images), size, size)
    depth, normals = predict_maps(model, data["images"].astype("float32"), batch_size)
    flat_depth, flat_normals = flat_plane(data["depth"], data["normals"])
    return {
        "num_images": num_images,
        "image_size": size,
        "seed": seed,
        "model": summarise(evaluate_maps(data["depth"], depth, data["normals"], normals)),
        "flat_plane": summarise(evaluate_maps(data["depth"], flat_depth, data["normals"], flat_normals)),
    }
