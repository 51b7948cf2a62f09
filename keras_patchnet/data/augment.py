"""Augmentations that keep image, depth and normals consistent (NumPy, per sample)."""

import numpy as np


def flip_horizontal(sample):
    """Mirrors a sample left-right. The scene is mirrored about the camera's y-z plane, so the x component of the
    normals changes sign; depth is unchanged; a light code (`"light"`) is mirrored with the scene. Exact when the
    principal point is at the image centre."""
    out = dict(sample)
    if sample.get("light") is not None:
        from keras_patchnet.lighting import mirror_code

        out["light"] = mirror_code(sample["light"])
    for key in ("image", "depth", "mask", "valid"):
        if key in sample:
            out[key] = sample[key][:, ::-1].copy()
    if "normals" in sample:
        out["normals"] = sample["normals"][:, ::-1] * np.array([-1.0, 1.0, 1.0], sample["normals"].dtype)
    return out


def jitter_photometric(image, rng, brightness=0.25, contrast=0.2, gamma=0.25):
    """Light jitter on the image only: gain, contrast about the mean and gamma, in [0, 255] uint8 space."""
    x = image.astype("float32") / 255.0
    x = x ** np.exp(rng.uniform(-gamma, gamma))
    mean = x.mean()
    x = (x - mean) * (1.0 + rng.uniform(-contrast, contrast)) + mean
    x = x * (1.0 + rng.uniform(-brightness, brightness))
    return np.clip(np.round(x * 255.0), 0, 255).astype("uint8")


def augment(sample, rng, flip=True, photometric=True):
    if flip and rng.random() < 0.5:
        sample = flip_horizontal(sample)
    if photometric:
        sample = dict(sample, image=jitter_photometric(sample["image"], rng))
    return sample
