"""PatchNet losses (seed-spec §5.1, DESIGN §4.4), per sample (a patch or a whole image), in `keras.ops`.

The foreground comes from the targets: depth targets are 0 on background (absolute depth > 0, or relative depth
with background set to 0), normal targets are 0 vectors on background. A sample without foreground contributes
zero loss and zero gradient. Every loss returns one value per sample; the Keras `reduction` then either sums over
samples (`"sum"`, the report's choice: every patch weighs the same whatever the batch) or averages
(`"sum_over_batch_size"`, the Keras default).
"""

import math

import keras
from keras import ops

_SAMPLE_AXES = (1, 2, 3)


def _masked_mean(values, mask):
    return ops.sum(values * mask, axis=_SAMPLE_AXES) / ops.maximum(ops.sum(mask, axis=_SAMPLE_AXES), 1.0)


def depth_mask(y_true):
    return ops.cast(ops.not_equal(y_true, 0.0), "float32")


def normal_mask(y_true):
    return ops.cast(ops.sum(ops.square(y_true), axis=-1, keepdims=True) > 0.25, "float32")


def depth_l1(y_true, y_pred, shift_invariant=True):
    """Masked mean absolute depth error per sample (metres), (B, H, W, 1) -> (B,).

    shift_invariant=True: the error's foreground mean is removed first (equivalently, prediction and target are
    each centred on their foreground mean), since the stitcher recovers per-patch shifts anyway.
    shift_invariant=False: the report's variant, the target centred on its foreground mean, the prediction as is.
    """
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    mask = depth_mask(y_true)
    if shift_invariant:
        err = y_pred - y_true
        err = err - _masked_mean(err, mask)[:, None, None, None]
    else:
        err = y_pred - (y_true - _masked_mean(y_true, mask)[:, None, None, None])
    return _masked_mean(ops.abs(err), mask)


def angle(a, b, epsilon=1e-6):
    """Per-pixel angle (radians) between vectors on the last axis, keepdims. A clipped acos of the normalised dot
    product: its gradient is finite everywhere, also for equal, opposite or zero-length vectors."""
    norm_a = ops.sqrt(ops.sum(ops.square(a), axis=-1, keepdims=True) + epsilon)
    norm_b = ops.sqrt(ops.sum(ops.square(b), axis=-1, keepdims=True) + epsilon)
    cos = ops.sum(a * b, axis=-1, keepdims=True) / (norm_a * norm_b)
    return ops.arccos(ops.clip(cos, -1.0 + 1e-6, 1.0 - 1e-6))


def normal_loss(y_true, y_pred, kappa=10.0, l2=1.0):
    """Per sample: masked mean of kappa * angle / pi + (|n_pred| - 1)^2 + l2 * |n_pred - n_true|^2,
    (B, H, W, 3) -> (B,).

    The angle is symmetric about the target, so its gradient vanishes at 180 degrees, where the error is largest;
    the squared distance of the raw prediction to the target (`l2`, default 1) keeps a gradient of 4 * l2 there
    that pulls a flipped normal through the origin towards the target. `l2=0` is the report's loss (the shipped
    presets were trained with it).
    """
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    mask = normal_mask(y_true)
    length = ops.sqrt(ops.sum(ops.square(y_pred), axis=-1, keepdims=True) + 1e-12)
    per_pixel = kappa * angle(y_pred, y_true) / math.pi + ops.square(length - 1.0)
    if l2:
        per_pixel = per_pixel + l2 * ops.sum(ops.square(y_pred - y_true), axis=-1, keepdims=True)
    return _masked_mean(per_pixel, mask)


@keras.saving.register_keras_serializable(package="keras_patchnet")
class DepthLoss(keras.losses.Loss):
    """`depth_l1` as a Keras loss. Args: shift_invariant (default True), reduction, name."""

    def __init__(self, shift_invariant=True, reduction="sum_over_batch_size", name="depth_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.shift_invariant = bool(shift_invariant)

    def call(self, y_true, y_pred):
        return depth_l1(y_true, y_pred, self.shift_invariant)

    def get_config(self):
        return {**super().get_config(), "shift_invariant": self.shift_invariant}


@keras.saving.register_keras_serializable(package="keras_patchnet")
class NormalLoss(keras.losses.Loss):
    """`normal_loss` as a Keras loss. Args: kappa (weight of the angular term, default 10), l2 (weight of the
    squared distance to the target, default 1; 0 is the report's loss), reduction, name."""

    def __init__(self, kappa=10.0, l2=1.0, reduction="sum_over_batch_size", name="normal_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.kappa, self.l2 = float(kappa), float(l2)

    def call(self, y_true, y_pred):
        return normal_loss(y_true, y_pred, self.kappa, self.l2)

    def get_config(self):
        return {**super().get_config(), "kappa": self.kappa, "l2": self.l2}


def patchnet_losses(reduction="sum_over_batch_size", shift_invariant=True, kappa=10.0, l2=1.0):
    """The PatchNet loss for `compile(loss=...)`: {"depth": DepthLoss, "normals": NormalLoss}, summed with equal
    weights by Keras. reduction="sum" sums over patches as in the report; l2=0 drops the term that keeps a
    gradient for flipped normals (the report's loss)."""
    return {
        "depth": DepthLoss(shift_invariant, reduction=reduction),
        "normals": NormalLoss(kappa, l2, reduction=reduction),
    }
