import math

import keras
import numpy as np
import pytest

from keras_patchnet import losses
from tests.helpers import BACKEND, to_numpy, value_and_grad


def random_targets(seed=0, batch=3, size=(12, 14)):
    rng = np.random.default_rng(seed)
    mask = rng.random((batch, *size, 1)) > 0.3
    depth = np.where(mask, 1.2 + 0.1 * rng.random((batch, *size, 1)), 0.0).astype("float32")
    n = rng.normal(size=(batch, *size, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    normals = np.where(mask, n, 0.0).astype("float32")
    pred_depth = rng.normal(0.3, 0.2, (batch, *size, 1)).astype("float32")
    pred_normals = (n + 0.5 * rng.normal(size=n.shape)).astype("float32")
    return depth, normals, pred_depth, pred_normals, mask


def depth_reference(t, p, shift_invariant):
    out = []
    for tt, pp in zip(t[..., 0], p[..., 0]):
        m = tt != 0
        if shift_invariant:
            e = (pp - tt)[m]
            e = e - e.mean()
        else:
            e = pp[m] - (tt[m] - tt[m].mean())
        out.append(np.abs(e).mean())
    return np.array(out)


def normal_reference(t, p, kappa=10.0, l2=1.0):
    out = []
    for tt, pp in zip(t, p):
        m = np.linalg.norm(tt, axis=-1) > 0.5
        a, b = pp[m].astype("float64"), tt[m].astype("float64")
        length = np.linalg.norm(a, axis=-1)
        ang = np.arccos(np.clip(np.sum(a * b, -1) / (length * np.linalg.norm(b, axis=-1)), -1, 1))
        out.append(np.mean(kappa * ang / math.pi + (length - 1) ** 2 + l2 * np.sum((a - b) ** 2, -1)))
    return np.array(out)


@pytest.mark.parametrize("shift_invariant", [True, False])
def test_depth_loss_matches_numpy(shift_invariant):
    t, _, p, _, _ = random_targets()
    got = to_numpy(losses.depth_l1(t, p, shift_invariant))
    np.testing.assert_allclose(got, depth_reference(t, p, shift_invariant), rtol=1e-5)


def test_shift_invariant_depth_loss_ignores_a_constant_offset():
    t, _, p, _, _ = random_targets()
    a = to_numpy(losses.depth_l1(t, p))
    b = to_numpy(losses.depth_l1(t, p + 0.37))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_normal_loss_matches_numpy():
    _, t, _, p, _ = random_targets(1)
    np.testing.assert_allclose(to_numpy(losses.normal_loss(t, p)), normal_reference(t, p), rtol=1e-4)
    np.testing.assert_allclose(to_numpy(losses.normal_loss(t, p, l2=0.0)), normal_reference(t, p, l2=0.0), rtol=1e-4)


def test_reductions_sum_over_patches_or_mean():
    t, n, p, pn, _ = random_targets(2)
    per_sample = depth_reference(t, p, True)
    assert abs(float(to_numpy(losses.DepthLoss(reduction="sum")(t, p))) - per_sample.sum()) < 1e-5
    assert abs(float(to_numpy(losses.DepthLoss()(t, p))) - per_sample.mean()) < 1e-5
    per_sample = normal_reference(n, pn)
    assert abs(float(to_numpy(losses.NormalLoss(reduction="sum")(n, pn))) - per_sample.sum()) < 1e-3


def _grad(fn, x):
    value, grad = value_and_grad(lambda v: keras.ops.sum(fn(v)), x.astype("float32"))
    return np.asarray(value), grad


def test_empty_foreground_gives_zero_loss_and_zero_gradient():
    zeros_d, zeros_n = np.zeros((2, 8, 8, 1), "float32"), np.zeros((2, 8, 8, 3), "float32")
    pred_d = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype("float32")
    pred_n = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    for shift in (True, False):
        value, grad = _grad(lambda v: losses.depth_l1(zeros_d, v, shift), pred_d)
        assert value == 0 and np.all(grad == 0)
    value, grad = _grad(lambda v: losses.normal_loss(zeros_n, v), pred_n)
    assert value == 0 and np.all(grad == 0)


@pytest.mark.parametrize("case", ["equal", "opposite", "zero"])
def test_normal_loss_gradient_is_finite_for_degenerate_predictions(case):
    _, t, _, _, _ = random_targets(3)
    pred = {"equal": t, "opposite": -t, "zero": np.zeros_like(t)}[case]
    value, grad = _grad(lambda v: losses.normal_loss(t, v), pred)
    assert np.isfinite(value) and np.isfinite(grad).all()
    expected = {"equal": 0.0, "opposite": 10.0 + 4.0, "zero": 10.0 / 2 + 1.0 + 1.0}[case]  # angle, length, l2
    assert abs(float(value) / len(t) - expected) < 1e-2


def test_depth_loss_gradient_is_finite_for_a_perfect_prediction():
    t, _, _, _, _ = random_targets(4)
    value, grad = _grad(lambda v: losses.depth_l1(t, v), t + 0.1)
    assert abs(float(value)) < 1e-5 and np.isfinite(grad).all()


def test_losses_serialise():
    for loss in losses.patchnet_losses(reduction="sum").values():
        clone = loss.__class__.from_config(loss.get_config())
        assert clone.get_config() == loss.get_config()


def test_backend_is_known():
    assert BACKEND in ("tensorflow", "torch", "jax")
