"""The three PatchNet layers: thin Keras layers over `keras_patchnet.ops`."""

from keras_patchnet.layers.bilateral_refine import BilateralRefine
from keras_patchnet.layers.patch_extract import PatchExtract
from keras_patchnet.layers.patch_stitch import PatchStitch

__all__ = ["PatchExtract", "PatchStitch", "BilateralRefine"]
