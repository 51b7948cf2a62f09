"""Data: a synthetic renderer, a reader for the real dataset's layout, and batches for `fit`."""

from keras_patchnet.data.augment import augment, flip_horizontal, jitter_photometric
from keras_patchnet.data.dataset import PatchNetDataset, SyntheticSource, cut_patches, relative_depth
from keras_patchnet.data.synthetic import KINDS, Sample, intrinsics, render, render_batch
from keras_patchnet.data.texless import DataError, Record, TexlessDataset, read_image, write_synthetic

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
