"""Test helpers on keras, numpy and pytest only; the few backend-specific lines (gradients) live here."""

import contextlib

import keras
import numpy as np
from keras import ops

BACKEND = keras.backend.backend()
TOLERANCE = {"float64": 1e-10, "float32": 1e-5, "float16": 1e-3, "bfloat16": 8e-3}


# A small UNet for tests of the command line and of whole models (the `tiny_folder` fixture is its preset folder).
TINY = {"arch": "unet", "patch_size": 32, "width": 2, "min_overlap": 8}


def backend_has_gpu():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if BACKEND == "torch":
        import torch

        return torch.cuda.is_available()
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


@contextlib.contextmanager
def float64():
    """Lets the backend compute in float64 (JAX truncates to float32 unless x64 is enabled)."""
    if BACKEND == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


def value_and_grad(fn, x):
    """Value of the scalar fn(x) and its gradient with respect to the array x, on the active backend."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = fn(xt)
        return np.asarray(y), tape.gradient(y, xt).numpy()
    if BACKEND == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        y = fn(xt)
        y.backward()
        return y.detach().cpu().numpy(), xt.grad.cpu().numpy()
    import jax

    y, g = jax.value_and_grad(fn)(jax.numpy.asarray(x))
    return np.asarray(y), np.asarray(g)


def check_gradient(fn, x, num_checks=12, eps=1e-6, seed=0):
    """Max relative error between the backend gradient of scalar fn at x (float64) and central differences.

    Checks `num_checks` random coordinates plus a random direction.
    """
    x = np.asarray(x, "float64")
    if BACKEND == "jax":  # one compilation of fn (and one of its gradient), not one per eager op
        import jax

        fn = jax.jit(fn)
    with float64():
        _, grad = value_and_grad(fn, x)
        f = lambda v: float(ops.convert_to_numpy(fn(ops.convert_to_tensor(v))))  # noqa: E731
        rng = np.random.default_rng(seed)
        directions = []
        for i in rng.choice(x.size, size=min(num_checks, x.size), replace=False):
            e = np.zeros(x.size)
            e[i] = 1.0
            directions.append(e.reshape(x.shape))
        directions.append(rng.standard_normal(x.shape))
        worst = 0.0
        for v in directions:
            numeric = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
            analytic = float(np.sum(grad * v))
            scale = max(abs(numeric), abs(analytic), 1e-6)
            worst = max(worst, abs(numeric - analytic) / scale)
    return worst


def to_numpy(x):
    return ops.convert_to_numpy(x)


def layer_roundtrip(layer, inputs, call_kwargs=None, tmp_path=None, atol=1e-6):
    """get_config/from_config and .keras save/load of a model holding `layer` give the same outputs."""
    call_kwargs = call_kwargs or {}
    expected = to_numpy(layer(inputs, **call_kwargs))
    clone = layer.__class__.from_config(layer.get_config())
    np.testing.assert_allclose(to_numpy(clone(inputs, **call_kwargs)), expected, atol=atol)
    if tmp_path is not None:
        inp = keras.Input(shape=inputs.shape[1:], batch_size=None)
        model = keras.Model(inp, layer(inp, **call_kwargs))
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(to_numpy(loaded(inputs)), expected, atol=atol)
    return expected


def assert_config_complete(layer):
    """Every constructor argument of the layer's class is stored under the same name in get_config()."""
    import inspect

    params = [
        p
        for p, v in inspect.signature(layer.__class__.__init__).parameters.items()
        if p != "self" and v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)
    ]
    config = layer.get_config()
    missing = [p for p in params if p not in config]
    assert not missing, f"{layer.__class__.__name__}.get_config() misses {missing}"


def weight_gradients(model, x, loss_fn):
    """Gradients of loss_fn(model(x, training=True)) with respect to model.trainable_weights, as NumPy arrays."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(model(x, training=True))
        return [None if g is None else g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    if BACKEND == "torch":
        model.zero_grad() if hasattr(model, "zero_grad") else None
        loss = loss_fn(model(x, training=True))
        loss.backward()
        return [None if w.value.grad is None else w.value.grad.cpu().numpy() for w in model.trainable_weights]
    import jax

    trainable = [w.value for w in model.trainable_weights]
    non_trainable = [w.value for w in model.non_trainable_weights]

    def f(tv):
        out, _ = model.stateless_call(tv, non_trainable, x, training=True)
        return loss_fn(out)

    return [np.asarray(g) for g in jax.jit(jax.grad(f))(trainable)]  # one compilation, not one per eager op


def set_deterministic_weights(model, seed=0):
    """Fills every weight from a seeded NumPy generator (same values on every backend); BN variances stay > 0."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in w.path:
            value = rng.uniform(0.5, 1.5, shape)
        elif "gamma" in w.path:
            value = rng.uniform(0.8, 1.2, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            value = (
                rng.normal(0, 1.0 / np.sqrt(max(fan_in, 1)), shape) if len(shape) > 1 else rng.normal(0, 0.05, shape)
            )
        w.assign(value.astype(w.dtype))
