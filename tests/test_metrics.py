import numpy as np
import pytest

from keras_patchnet import metrics
from tests.helpers import to_numpy
from tests.test_losses import random_targets


def tilt_every_normal(n, degrees, seed=0):
    """Rotates each normal by exactly `degrees` about an axis perpendicular to it (Rodrigues, axis ⊥ n)."""
    axis = np.cross(n, np.random.default_rng(seed).normal(size=n.shape))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True) + 1e-30
    a = np.radians(degrees)
    return (n * np.cos(a) + np.cross(axis, n) * np.sin(a)).astype("float32")


def test_closed_forms():
    t, n, _, _, mask = random_targets(0)
    # a constant depth offset is aligned away; tilting every normal by 20 degrees gives exactly 20 degrees
    result = metrics.evaluate_maps(t, t + 0.25, n, tilt_every_normal(n, 20.0))
    assert result["mean"]["depth_mae_mm"] < 1e-3 and result["mean"]["depth_rmse_mm"] < 1e-3
    assert abs(result["mean"]["mean_angle_deg"] - 20.0) < 1e-3 and abs(result["mean"]["median_angle_deg"] - 20.0) < 1e-3
    assert result["mean"]["under_11.25_deg"] == 0.0 and result["mean"]["under_22.5_deg"] == 1.0
    # a depth error of +/- 5 mm in a checkerboard gives MAE = RMSE = 5 mm
    checker = (np.indices(t.shape[1:3]).sum(0) % 2 * 2 - 1)[None, ..., None] * 0.005
    result = metrics.evaluate_maps(np.ones_like(t), np.ones_like(t) + checker, n, n)
    assert abs(result["mean"]["depth_mae_mm"] - 5.0) < 0.1 and abs(result["mean"]["depth_rmse_mm"] - 5.0) < 0.1
    assert result["mean"]["mean_angle_deg"] < 1e-3 and result["mean"]["under_11.25_deg"] == 1.0


def test_keras_metrics_accumulate_like_the_numpy_evaluation():
    batches = [random_targets(seed, batch=2, size=(10, 9)) for seed in (1, 2)]
    keras_metrics = metrics.patchnet_metrics()
    for t, n, p, pn, _ in batches:
        for m in keras_metrics["depth"]:
            m.update_state(t, p)
        for m in keras_metrics["normals"]:
            m.update_state(n, pn)
    t, n, p, pn = (np.concatenate([b[i] for b in batches]) for i in range(4))
    expected = metrics.evaluate_maps(t, p, n, pn)["mean"]
    for m in keras_metrics["depth"] + keras_metrics["normals"]:
        assert abs(float(to_numpy(m.result())) - expected[m.name]) < 1e-3 * max(1.0, abs(expected[m.name])), m.name


def test_images_without_foreground_are_skipped():
    t, n, p, pn, _ = random_targets(3, batch=2)
    t[1], n[1] = 0, 0
    m = metrics.DepthMAE()
    m.update_state(t, p)
    expected = metrics.evaluate_maps(t[:1], p[:1], n[:1], pn[:1])["mean"]["depth_mae_mm"]
    assert abs(float(to_numpy(m.result())) - expected) < 1e-3
    result = metrics.evaluate_maps(t, p, n, pn)
    assert len(result["per_image"]["depth_mae_mm"]) == 1 and np.isfinite(result["std"]["mean_angle_deg"])


@pytest.mark.parametrize(
    "cls", [metrics.DepthMAE, metrics.DepthRMSE, metrics.MeanAngularError, metrics.MedianAngularError]
)
def test_reset_and_config(cls):
    m = cls()
    t, n, p, pn, _ = random_targets(4)
    m.update_state(*((t, p) if "Depth" in cls.__name__ else (n, pn)))
    m.reset_state()
    assert np.isnan(float(to_numpy(m.result())))  # nothing measured since the reset
    assert cls.from_config(m.get_config()).name == m.name
