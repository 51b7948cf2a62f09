"""Evaluation on full stitched images (DESIGN §4.4): foreground only, per image, then mean (± std) over images.

- depth MAE and RMSE in millimetres after aligning the foreground means of prediction and target (the optimal
  translation along the viewing axis: the prediction is relative depth);
- mean and median angular error in degrees between unit normals;
- share of foreground pixels with an angular error under 11.25, 22.5 and 30 degrees.

The Keras metrics accumulate per-image values over batches (`keras.metrics.Metric`); `evaluate_maps` is the NumPy
twin that returns per-image arrays and the summary. Images without foreground are skipped by both.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_patchnet.geometry import angular_error_deg
from keras_patchnet.losses import depth_mask, normal_mask

THRESHOLDS = (11.25, 22.5, 30.0)
_AXES = (1, 2, 3)


def depth_errors_mm(y_true, y_pred):
    """Per-image (MAE, RMSE) in mm after aligning foreground means, and the per-image foreground flag: (B,) each."""
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    mask = depth_mask(y_true)
    count = ops.sum(mask, axis=_AXES)
    safe = ops.maximum(count, 1.0)
    err = y_pred - y_true
    err = (err - (ops.sum(err * mask, axis=_AXES) / safe)[:, None, None, None]) * mask
    mae = ops.sum(ops.abs(err), axis=_AXES) / safe * 1000.0
    rmse = ops.sqrt(ops.sum(ops.square(err), axis=_AXES) / safe) * 1000.0
    return mae, rmse, ops.cast(count > 0, "float32")


def exact_angle(a, b):
    """Per-pixel angle (radians) between vectors on the last axis, keepdims: atan2(|a x b|, a . b), exact at 0
    and 180 degrees (no clip), for measuring; the losses use `losses.angle`, whose gradient is finite everywhere."""
    cross = ops.sqrt(ops.sum(ops.square(ops.cross(a, b)), axis=-1, keepdims=True))
    dot = ops.sum(a * b, axis=-1, keepdims=True)
    lengths = ops.sqrt(ops.sum(ops.square(a), axis=-1, keepdims=True) * ops.sum(ops.square(b), axis=-1, keepdims=True))
    # a zero-length vector has no direction: 90 degrees, as the losses' angle gives it, never a perfect 0
    return ops.where(lengths > 1e-12, ops.arctan2(cross, dot), ops.full_like(dot, math.pi / 2))


def angular_errors_deg(y_true, y_pred):
    """Per-pixel angle in degrees (B, H, W, 1) and the foreground mask."""
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    return exact_angle(y_pred, y_true) * (180.0 / math.pi), normal_mask(y_true)


def _masked_median(values, mask):
    """Per-image median of the masked values (lower median for even counts), (B, H, W, 1) -> (B,)."""
    flat = ops.reshape(values, (ops.shape(values)[0], -1))
    m = ops.reshape(mask, (ops.shape(mask)[0], -1))
    big = ops.where(m > 0, flat, ops.full_like(flat, 1e9))
    ordered = ops.sort(big, axis=-1)
    count = ops.sum(m, axis=-1)
    index = ops.cast(ops.maximum(count - 1.0, 0.0) // 2.0, "int32")
    return ops.squeeze(ops.take_along_axis(ordered, index[:, None], axis=-1), axis=-1)


class _PerImageMean(keras.metrics.Metric):
    """Mean over images of a per-image value. Images without foreground are skipped and counted in `skipped`; when
    no image had foreground the result is NaN (nothing was measured), as in `evaluate_maps`, never a perfect 0."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")
        self.skipped = self.add_variable(shape=(), initializer="zeros", name="skipped")

    def per_image(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values, valid = self.per_image(y_true, y_pred)
        values = ops.where(valid > 0, values, ops.zeros_like(values))
        self.total.assign_add(ops.sum(values * valid))
        self.count.assign_add(ops.sum(valid))
        self.skipped.assign_add(ops.sum(1.0 - valid))

    def result(self):
        total, count = ops.convert_to_tensor(self.total), ops.convert_to_tensor(self.count)
        return ops.where(count > 0, total / ops.maximum(count, 1.0), ops.full_like(total, float("nan")))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)
        self.skipped.assign(0.0)


@keras.saving.register_keras_serializable(package="keras_patchnet")
class DepthMAE(_PerImageMean):
    """Mean over images of the foreground depth MAE in mm after aligning foreground means (depth output)."""

    def __init__(self, name="depth_mae_mm", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        mae, _, valid = depth_errors_mm(y_true, y_pred)
        return mae, valid


@keras.saving.register_keras_serializable(package="keras_patchnet")
class DepthRMSE(_PerImageMean):
    """Mean over images of the foreground depth RMSE in mm after aligning foreground means (depth output)."""

    def __init__(self, name="depth_rmse_mm", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        _, rmse, valid = depth_errors_mm(y_true, y_pred)
        return rmse, valid


@keras.saving.register_keras_serializable(package="keras_patchnet")
class MeanAngularError(_PerImageMean):
    """Mean over images of the per-image mean angular error in degrees (normals output)."""

    def __init__(self, name="mean_angle_deg", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        err, mask = angular_errors_deg(y_true, y_pred)
        count = ops.sum(mask, axis=_AXES)
        return ops.sum(err * mask, axis=_AXES) / ops.maximum(count, 1.0), ops.cast(count > 0, "float32")


@keras.saving.register_keras_serializable(package="keras_patchnet")
class MedianAngularError(_PerImageMean):
    """Mean over images of the per-image median angular error in degrees (normals output)."""

    def __init__(self, name="median_angle_deg", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        err, mask = angular_errors_deg(y_true, y_pred)
        return _masked_median(err, mask), ops.cast(ops.sum(mask, axis=_AXES) > 0, "float32")


@keras.saving.register_keras_serializable(package="keras_patchnet")
class AngleUnder(_PerImageMean):
    """Mean over images of the share of foreground pixels with angular error under `threshold` degrees."""

    def __init__(self, threshold=11.25, name=None, dtype=None):
        self.threshold = float(threshold)
        super().__init__(name=name or f"under_{self.threshold:g}_deg", dtype=dtype)

    def per_image(self, y_true, y_pred):
        err, mask = angular_errors_deg(y_true, y_pred)
        count = ops.sum(mask, axis=_AXES)
        under = ops.cast(err < self.threshold, "float32") * mask
        return ops.sum(under, axis=_AXES) / ops.maximum(count, 1.0), ops.cast(count > 0, "float32")

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def patchnet_metrics():
    """Metrics for `compile(metrics=...)` of a full-image model: {"depth": [...], "normals": [...]}."""
    return {
        "depth": [DepthMAE(), DepthRMSE()],
        "normals": [MeanAngularError(), MedianAngularError()] + [AngleUnder(t) for t in THRESHOLDS],
    }


def evaluate_maps(depth_true, depth_pred, normals_true, normals_pred):
    """NumPy evaluation of stitched maps: per-image metric arrays and their mean and std over images.

    Args: (B, H, W, 1) depths in metres (target 0 on background), (B, H, W, 3) normals (target 0 on background).
    Returns: {"per_image": {metric: (B',) array}, "mean": {...}, "std": {...}, "skipped": {"depth": n, "normals": n}}
    over the B' images with foreground (depth foreground: target depth != 0; normal foreground: non-zero target
    normal); images without foreground are skipped and counted, and a metric over no image is NaN.
    """
    per_image = {k: [] for k in ("depth_mae_mm", "depth_rmse_mm", "mean_angle_deg", "median_angle_deg")}
    per_image.update({f"under_{t:g}_deg": [] for t in THRESHOLDS})
    for dt, dp, nt, np_ in zip(depth_true, depth_pred, normals_true, normals_pred):
        m = dt[..., 0] != 0
        if m.any():
            e = (dp[..., 0] - dt[..., 0])[m].astype("float64")
            e -= e.mean()
            per_image["depth_mae_mm"].append(np.abs(e).mean() * 1000)
            per_image["depth_rmse_mm"].append(np.sqrt(np.mean(e**2)) * 1000)
        m = np.sum(nt.astype("float64") ** 2, axis=-1) > 0.25
        if m.any():
            ang = angular_error_deg(np_[m].astype("float64"), nt[m].astype("float64"))
            per_image["mean_angle_deg"].append(ang.mean())
            per_image["median_angle_deg"].append(np.sort(ang)[(len(ang) - 1) // 2])
            for t in THRESHOLDS:
                per_image[f"under_{t:g}_deg"].append(np.mean(ang < t))
    per_image = {k: np.asarray(v) for k, v in per_image.items()}
    skipped = {
        "depth": len(depth_true) - len(per_image["depth_mae_mm"]),
        "normals": len(normals_true) - len(per_image["mean_angle_deg"]),
    }
    return {
        "skipped": skipped,
        "per_image": per_image,
        "mean": {k: float(v.mean()) if len(v) else float("nan") for k, v in per_image.items()},
        "std": {k: float(v.std()) if len(v) else float("nan") for k, v in per_image.items()},
    }
