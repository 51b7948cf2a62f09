"""Data: a synthetic renderer, a reader for the real dataset's layout, and batches for `fit`."""

import os

from keras_patchnet.data.augment import augment, flip_horizontal, jitter_photometric
from keras_patchnet.data.dataset import PatchNetDataset, SyntheticSource, cut_patches, relative_depth
from keras_patchnet.data.synthetic import KINDS, Sample, intrinsics, render, render_batch
from keras_patchnet.data.texless import DataError, Record, TexlessDataset, read_image, to_uint8, write_synthetic

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples", "cloth.png")


def load_sample(threshold=24):
    """The render shipped with the package (calibrated light, 112x112): (image (H, W, 3) uint8, mask (H, W) bool).

    The mask is the pixels whose brightest channel exceeds `threshold` (of 255), as `keras-patchnet predict` finds
    the surface without --mask.
    """
    image = read_image(SAMPLE)
    return image, image.max(axis=-1) > threshold


# Seeds of the fixed synthetic splits: training draws from TRAIN_SEED, the held-out test set from TEST_SEED.
TRAIN_SEED = 0
TEST_SEED = 1_000_000_007

__all__ = [
    "render",
    "render_batch",
    "intrinsics",
    "Sample",
    "KINDS",
    "TexlessDataset",
    "Record",
    "DataError",
    "read_image",
    "load_sample",
    "SAMPLE",
    "to_uint8",
    "write_synthetic",
    "PatchNetDataset",
    "SyntheticSource",
    "cut_patches",
    "relative_depth",
    "augment",
    "flip_horizontal",
    "jitter_photometric",
    "TRAIN_SEED",
    "TEST_SEED",
]
