"""Data: a synthetic renderer, a reader for the real dataset's layout, and batches for `fit`."""

import numpy as np

from keras_patchnet.constants import SAMPLE, TEST_SEED, TRAIN_SEED, VAL_SEED
from keras_patchnet.data import lookalike  # noqa: F401  (kp.data.lookalike)
from keras_patchnet.data.augment import augment, flip_horizontal, jitter_photometric
from keras_patchnet.data.ball import render_ball
from keras_patchnet.data.dataset import PatchNetDataset, RandomPatches, SyntheticSource, cut_patches, relative_depth
from keras_patchnet.data.sensor import sensor_depth
from keras_patchnet.data.synthetic import KINDS, Sample, intrinsics, render, render_batch
from keras_patchnet.data.texless import (
    DataError,
    Record,
    TexlessDataset,
    close_holes,
    read_image,
    read_mask,
    to_uint8,
)
from keras_patchnet.data.writing import write_synthetic


def load_sample(with_truth=False):
    """The render shipped with the package: a cloth at 112x112 under the calibrated light (`render(7, 112, 112,
    kind="cloth", lighting="fixed")`). Returns (image (H, W, 3) uint8, mask (H, W) bool), and with `with_truth`
    also {"depth": (H, W) metres, 0 on background, "normals": (H, W, 3)}."""
    image = read_image(SAMPLE)
    with np.load(SAMPLE.replace(".png", "_truth.npz")) as f:
        truth = {"depth": f["depth"], "normals": f["normals"]}
        mask = f["mask"].astype(bool)
    return (image, mask, truth) if with_truth else (image, mask)


__all__ = [
    "render",
    "render_batch",
    "render_ball",
    "intrinsics",
    "Sample",
    "KINDS",
    "TexlessDataset",
    "Record",
    "DataError",
    "read_image",
    "read_mask",
    "load_sample",
    "SAMPLE",
    "to_uint8",
    "write_synthetic",
    "sensor_depth",
    "close_holes",
    "PatchNetDataset",
    "RandomPatches",
    "SyntheticSource",
    "cut_patches",
    "relative_depth",
    "augment",
    "flip_horizontal",
    "jitter_photometric",
    "TRAIN_SEED",
    "TEST_SEED",
    "VAL_SEED",
]
