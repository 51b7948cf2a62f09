import os

import keras
import numpy as np
import pytest

from keras_patchnet import hub, losses, metrics, models
from keras_patchnet.data import render_batch
from keras_patchnet.training import build_for_fit
from tests.golden.make_golden import CONFIGS, HERE, build
from tests.helpers import BACKEND, set_deterministic_weights, to_numpy, weight_gradients

PARAMS = {"baseline": 768_204, "unet": 1_989_452, "inception": 10_756_132}


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_trainable_parameter_counts_match_the_report(name):
    model = getattr(models, name)()
    assert count(model.patch_model.trainable_weights) == PARAMS[name]
    assert count(model.trainable_weights) == PARAMS[name]


def test_baseline_total_parameters_and_non_trainable_bn_statistics():
    net = models.baseline_network()
    assert count(net.weights) == 771_372 and count(net.non_trainable_weights) == 3_168


def test_list_models():
    assert models.list_models() == ["baseline", "inception", "unet"]


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_trainable_weight_gets_a_finite_nonzero_gradient(name):
    keras.utils.set_random_seed(0)
    net = getattr(models, f"{name}_network")(
        **({"width": 2} if name == "inception" else {"patch_size": 32, "width": 2})
    )
    size = net.input_shape[1]
    x = np.random.default_rng(0).random((2, size, size, 3)).astype("float32") * 255
    target = np.random.default_rng(1).normal(size=(2, size, size, 3)).astype("float32")
    loss_fn = lambda out: (
        keras.ops.mean(keras.ops.square(keras.ops.subtract(out["normals"], target)))
        + keras.ops.mean(  # noqa: E731
            keras.ops.square(out["depth"])
        )
    )
    grads = weight_gradients(net, x, loss_fn)
    for w, g in zip(net.trainable_weights, grads):
        assert g is not None and np.isfinite(g).all(), w.path
        assert np.abs(g).max() > 0, w.path


@pytest.mark.parametrize("patch_size", [64, 96, 160])
def test_unet_bottleneck_works_for_any_multiple_of_32(patch_size):
    net = models.unet_network(patch_size=patch_size, width=2)
    out = net(np.zeros((1, patch_size, patch_size, 3), "float32"))
    assert tuple(out["depth"].shape) == (1, patch_size, patch_size, 1)
    assert tuple(out["normals"].shape) == (1, patch_size, patch_size, 3)


def test_full_image_model_takes_any_size_and_uint8_or_float():
    model = models.baseline(patch_size=32, width=2)
    for size in [(48, 56), (20, 70), (33, 33)]:
        images = render_batch([1, 2], *size)["images"]
        out_uint8 = model(images)
        assert tuple(out_uint8["depth"].shape) == (2, *size, 1) and tuple(out_uint8["normals"].shape) == (2, *size, 3)
        out_float = model(images.astype("float32") / 255.0)  # scale does not matter: per-patch normalisation
        # float32 rounding of x / 255 (~1e-7) is amplified by the untrained network and the normalisation of its
        # near-zero normal vectors; the normalisation itself is checked exactly below
        np.testing.assert_allclose(to_numpy(out_float["normals"]), to_numpy(out_uint8["normals"]), atol=5e-3)
        norm = models.IntensityNormalization()
        patches = model.extract(images)
        np.testing.assert_allclose(
            to_numpy(norm(keras.ops.cast(patches, "float32") / 255.0)), to_numpy(norm(patches)), atol=1e-6
        )
        norms = np.linalg.norm(to_numpy(out_uint8["normals"]), axis=-1)
        assert norms.max() < 1.0 + 1e-4  # unit, or 0 where an untrained network outputs an all-zero vector
    assert model.patch_model is model.layers[0] or model.patch_model.name == "baseline"


def test_predict_on_batch_takes_a_new_size_each_call():
    # TensorFlow's predict function retraces with (None, None) dims on a second size unless PatchNet resets it.
    model = models.baseline(patch_size=32, width=2)
    for size in [(48, 56), (20, 70), (48, 56), (33, 40)]:
        images = render_batch([3], *size)["images"].astype("float32")
        out = model.predict_on_batch(images)
        assert tuple(out["depth"].shape) == (1, *size, 1)
        np.testing.assert_allclose(np.asarray(out["depth"]), to_numpy(model(images)["depth"]), atol=1e-5)
        out = model.predict({"images": images, "mask": np.ones((1, *size, 1), "float32")}, verbose=0)
        assert tuple(out["normals"].shape) == (1, *size, 3)


def test_image_intensity_mode_keeps_brightness_between_patches_and_ignores_image_scale(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, min_overlap=8, intensity="image")
    assert model.patch_model.get_layer("intensity_normalization").scope == "fixed"
    images = render_batch([4], 48, 56)["images"].astype("float32")
    full, half = model(images), model(images * 0.5)
    for key in ("depth", "normals"):
        np.testing.assert_allclose(to_numpy(half[key]), to_numpy(full[key]), atol=1e-4)
    # the patch network sees the per-image scaled patches, as PatchNetDataset(intensity="image") cuts them
    scaled = images * (255.0 / images.max(axis=(1, 2, 3), keepdims=True))
    direct = model.patch_model(model.extract(scaled))
    via_model = model.patch_model(model.extract(images * 255.0 / images.max()))
    np.testing.assert_allclose(to_numpy(direct["depth"]), to_numpy(via_model["depth"]), atol=1e-5)
    assert hub.model_config(model)["intensity"] == "image"
    clone = models.build_from_config(hub.model_config(model))
    assert clone.intensity == "image"
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(images)["depth"]), to_numpy(full["depth"]), atol=1e-5)
    with pytest.raises(ValueError, match="`intensity` must be one of"):
        models.PatchNet(models.unet_network(32, 2), patch_size=32, intensity="image")
    with pytest.raises(ValueError, match="`intensity` must be one of"):
        models.unet(patch_size=32, width=2, intensity="global")


def test_mask_input_restricts_the_depth_solve():
    model = models.baseline(patch_size=32, width=2)
    b = render_batch([3], 48, 56)
    out = model({"images": b["images"], "mask": b["mask"].astype("float32")})
    assert np.isfinite(to_numpy(out["depth"])).all()


def _fit(model, x, y, loss, epochs=6, prebuild=False):
    # JAX's default, a jitted step: without it every op dispatches on its own (1.9 s a step of the tiny baseline,
    # against 0.03 s jitted); TensorFlow and torch without XLA / torch.compile, whose compiling costs more than these
    # few steps
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, jit_compile=BACKEND == "jax")
    if prebuild:  # the README's advice for a plain Keras model (on TensorFlow: its step traced once, not twice)
        build_for_fit(model, (x, y))
    history = model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False)
    return history.history["loss"]


def test_fit_on_whole_images_trains_through_the_stitcher():
    keras.utils.set_random_seed(0)
    model = models.baseline(patch_size=32, width=2, min_overlap=8)
    b = render_batch(range(4), 48, 56)
    steps, train_step = [], model.train_step
    model.train_step = lambda *args: steps.append(1) or train_step(*args)  # counts the Python runs of the step
    loss = _fit(
        model, b["images"].astype("float32"), {"depth": b["depth"], "normals": b["normals"]}, losses.patchnet_losses()
    )
    assert np.isfinite(loss).all() and loss[-1] < 0.8 * loss[0]
    if BACKEND == "tensorflow":  # traced once: PatchNet.fit builds the optimizer and loss variables before it
        assert len(steps) == 1


def test_fit_on_patches_as_in_the_report():
    from keras_patchnet.data import PatchNetDataset, SyntheticSource

    keras.utils.set_random_seed(0)
    model = models.baseline(patch_size=32, width=2, min_overlap=8)
    ds = PatchNetDataset(
        SyntheticSource(4, 48, 56, resample=False),
        batch_size=4,
        mode="patches",
        patch_size=32,
        min_overlap=8,
        shuffle=False,
    )
    x, y = ds[0]
    loss = _fit(model.patch_model, x, y, losses.patchnet_losses(reduction="sum"), prebuild=True)
    assert np.isfinite(loss).all() and loss[-1] < 0.8 * loss[0]


def test_batchnorm_statistics_move_under_fit():
    model = models.baseline(patch_size=32, width=2, min_overlap=8)
    b = render_batch(range(4), 48, 56)
    moving = [w for w in model.non_trainable_weights if "moving_mean" in w.path][0]
    before = to_numpy(moving).copy()
    _fit(
        model,
        b["images"].astype("float32"),
        {"depth": b["depth"], "normals": b["normals"]},
        losses.patchnet_losses(),
        epochs=1,
    )
    assert not np.allclose(to_numpy(moving), before)


@pytest.mark.parametrize("name", ["baseline", "unet"])
def test_weights_saved_on_tensorflow_load_here_with_the_same_outputs(name):
    golden = np.load(os.path.join(HERE, f"{name}.npz"))
    model = build(name)
    model(golden["images"])
    model.load_weights(os.path.join(HERE, f"{name}.weights.h5"))
    out = model(golden["images"])
    np.testing.assert_allclose(to_numpy(out["depth"]), golden["depth"], atol=1e-4)
    np.testing.assert_allclose(to_numpy(out["normals"]), golden["normals"], atol=1e-4)


def test_inception_gives_the_tensorflow_outputs_for_the_same_weights():
    golden = np.load(os.path.join(HERE, "inception.npz"))
    model = build("inception")
    model(golden["images"])
    set_deterministic_weights(model, seed=0)
    out = model(golden["images"])
    np.testing.assert_allclose(to_numpy(out["depth"]), golden["depth"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(out["normals"]), golden["normals"], atol=1e-4)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_keras_file_round_trip(name, tmp_path):
    model = build(name)
    x = render_batch([7], 128 if name == "inception" else 40, 128 if name == "inception" else 50)["images"]
    expected = model(x)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, models.PatchNet) and loaded.get_config()["patch_size"] == model.patch_size
    out = loaded(x)
    for key in ("depth", "normals"):
        np.testing.assert_allclose(to_numpy(out[key]), to_numpy(expected[key]), atol=1e-5)


@pytest.mark.parametrize("working_width", [None, 40])
def test_compiled_prediction_equals_eager(working_width):
    """Also with the resize to a working scale inside (it once lowered to an op XLA cannot compile)."""
    model = models.unet(patch_size=32, width=2, min_overlap=8, working_width=working_width)
    x = render_batch([1, 2], 48, 56)["images"].astype("float32")
    eager = model(x)
    model.compile(jit_compile=BACKEND != "torch")
    compiled = model.predict(x, verbose=0)
    # Resampled normals of this untrained net nearly cancel at a few pixels, and renormalising them magnifies
    # float rounding (torch picks other conv kernels without gradients): 1e-3 there.
    for key, atol in (("depth", 1e-4), ("normals", 1e-4 if working_width is None else 1e-3)):
        np.testing.assert_allclose(compiled[key], to_numpy(eager[key]), atol=atol)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_forward_and_loss_are_finite(policy):
    keras.config.set_dtype_policy(policy)
    model = models.baseline(patch_size=32, width=2, min_overlap=8)
    b = render_batch([1, 2], 48, 56)
    out = model(b["images"])
    assert all(np.isfinite(to_numpy(keras.ops.cast(v, "float32"))).all() for v in out.values())
    loss = losses.normal_loss(b["normals"], out["normals"]) + losses.depth_l1(b["depth"], out["depth"])
    assert np.isfinite(to_numpy(loss)).all()


def test_metrics_compile_with_the_full_image_model():
    model = models.baseline(patch_size=32, width=2, min_overlap=8)
    model.compile(loss=losses.patchnet_losses(), metrics=metrics.patchnet_metrics(), jit_compile=BACKEND == "jax")
    b = render_batch(range(2), 48, 56)
    result = model.evaluate(
        b["images"].astype("float32"), {"depth": b["depth"], "normals": b["normals"]}, verbose=0, return_dict=True
    )
    assert 0 < result["depth_depth_mae_mm"] < 1e4 and 0 <= result["normals_under_30_deg"] <= 1


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: models.baseline_network(patch_size=100),
            r"`patch_size` must be a positive multiple of 32 \(five 2x poolings\). Received: patch_size=100",
        ),
        (lambda: models.unet_network(width=0), r"`width` must be a positive int"),
        (lambda: models.inception_network(patch_size=64), r"supports `patch_size`=128 only"),
        (lambda: models.inception_network(encoder_activation="gelu"), r"`encoder_activation` must be 'relu' or None"),
        (
            lambda: models.create_model("resnet"),
            r"Unknown model name 'resnet'. Available: \['baseline', 'inception', 'unet'\]",
        ),
        (
            lambda: models.PatchNet(models.baseline_network(patch_size=64, width=1), patch_size=128),
            r"`patch_model` must take patches of shape",
        ),
    ],
)
def test_bad_arguments_get_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "inputs, message",
    [
        (np.zeros((48, 56, 3), "uint8"), r"`images` must be a 4D tensor"),
        (np.zeros((1, 48, 56, 4), "uint8"), r"`images` must have 3 \(RGB\) channels"),
        ({"image": np.zeros((1, 48, 56, 3), "uint8")}, r"A dict input needs an 'images' entry"),
        (
            {"images": np.zeros((1, 48, 56, 3), "uint8"), "mask": np.ones((1, 48, 50, 1))},
            r"`mask` must have shape \(batch, 48, 56, 1\)",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(inputs, message):
    with pytest.raises(ValueError, match=message):
        models.baseline(patch_size=32, width=1)(inputs)


def _randomize_batch_norm(model, seed):
    from keras_patchnet.training import batch_norm_layers

    rng = np.random.default_rng(seed)
    for layer in batch_norm_layers(model.patch_model):
        shape = layer.moving_mean.shape
        layer.moving_mean.assign(rng.normal(0, 3, shape).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.2, 5, shape).astype("float32"))
        layer.gamma.assign(rng.uniform(0.5, 2, shape).astype("float32"))
        layer.beta.assign(rng.normal(0, 1, shape).astype("float32"))


@pytest.mark.parametrize("name", ["unet", "baseline"])
def test_torch_layout_shortcut_changes_no_output(monkeypatch, name):
    """PatchNet's inference skips Keras' torch layout copies and runs each conv -> BatchNorm -> ReLU chain as one
    folded convolution (`models._torch_layout`); the outputs are the same as with Keras' own path (BatchNormalization
    with trained-looking statistics, the UNet's transposed convolutions included), also after the weights change
    (the fold is made at every call, nothing cached), and Keras' functions and the layers' calls are restored after
    the call. (On TensorFlow and JAX the shortcut is a no-op and the comparison holds trivially.)"""
    import contextlib

    import keras_patchnet.models.patchnet as patchnet_module

    keras.utils.set_random_seed(0)
    model = getattr(models, name)(patch_size=32, width=2, min_overlap=8)
    x = np.random.default_rng(0).uniform(0, 255, (2, 50, 60, 3)).astype("float32")
    fast_path = patchnet_module.fast_channels_last
    for seed in (1, 2):
        _randomize_batch_norm(model, seed)
        if seed == 2:  # new kernels and biases too: a cached fold would go stale here
            rng = np.random.default_rng(seed)
            for w in model.patch_model.trainable_weights:
                noise = rng.normal(0, 0.05, w.shape) + np.asarray(to_numpy(w)) * rng.uniform(0.5, 1.5, w.shape)
                w.assign(noise.astype("float32"))  # the biases start at zero: nonzero ones are checked here
        monkeypatch.setattr(patchnet_module, "fast_channels_last", fast_path)
        fast = model.predict_on_batch(x)
        if keras.backend.backend() == "torch":
            from keras.src.backend.torch import nn as torch_nn

            originals = torch_nn._transpose_spatial_inputs, torch_nn.batch_normalization
            model.predict_on_batch(x)
            assert (torch_nn._transpose_spatial_inputs, torch_nn.batch_normalization) == originals
        assert not [layer.name for layer in model.patch_model.layers if "call" in vars(layer)]
        monkeypatch.setattr(patchnet_module, "fast_channels_last", lambda *a, **k: contextlib.nullcontext())
        plain = model.predict_on_batch(x)
        for key in ("depth", "normals"):  # kernels may sum in another order
            np.testing.assert_allclose(fast[key], plain[key], rtol=1e-4, atol=1e-4, err_msg=f"{key}, seed {seed}")


def test_torch_fold_finds_every_conv_bn_relu_chain_and_only_those():
    """`conv_bn_relu_chains`: every block of the patch networks (all convolutions but the two 1x1 heads), and no
    chain whose BatchNorm output is used twice, whose convolution is strided or whose activation is not a plain
    ReLU. The fold applies only in inference: with `training` or autograd on, no layer's call is replaced."""
    from keras import layers

    from keras_patchnet.models._torch_layout import conv_bn_relu_chains, fast_channels_last

    for name in ("unet", "baseline"):
        network = getattr(models, name)(patch_size=32, width=1).patch_model
        convs = [layer for layer in network.layers if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose))]
        chains = conv_bn_relu_chains(network)
        assert len(chains) == len(convs) - 2
        names = [(c.name, b.name, r.name) for c, b, r in chains]
        assert all(c.endswith("_conv") and b.endswith("_bn") and r.endswith("_relu") for c, b, r in names)

    inputs = keras.Input((8, 8, 2))
    shared = layers.BatchNormalization(name="shared_bn")(layers.Conv2D(3, 3, padding="same", name="a")(inputs))
    strided = layers.BatchNormalization()(layers.Conv2D(3, 3, strides=2, padding="same", name="b")(inputs))
    capped = layers.ReLU(max_value=6)(layers.BatchNormalization()(layers.Conv2D(3, 3, name="c")(inputs)))
    plain = layers.ReLU(name="d_relu")(layers.BatchNormalization()(layers.Conv2D(3, 3, name="d")(inputs)))
    outputs = [layers.ReLU()(shared), shared, layers.ReLU()(strided), capped, plain]
    network = keras.Model(inputs, outputs)
    assert [tuple(layer.name for layer in chain)[::2] for chain in conv_bn_relu_chains(network)] == [("d", "d_relu")]

    folded = lambda: [layer.name for layer in network.layers if "call" in vars(layer)]  # noqa: E731
    with fast_channels_last(network, training=True):
        assert folded() == []
    with fast_channels_last(network):  # autograd on (torch) or another backend: nothing replaced
        assert folded() == []
    if keras.backend.backend() == "torch":
        import torch

        with torch.no_grad(), fast_channels_last(network):
            assert sorted(folded()) == sorted(layer.name for layer in conv_bn_relu_chains(network)[0])
        assert folded() == []


def test_patch_batch_size_runs_the_network_in_chunks_with_the_same_result():
    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, min_overlap=8)
    x = np.random.default_rng(1).uniform(0, 255, (2, 70, 90, 3)).astype("float32")  # 2 x 12 patches
    whole = model.predict_on_batch(x)
    calls = []
    network_call = model.patch_model.call
    model.patch_model.call = lambda inputs, *a, **k: calls.append(inputs.shape[0]) or network_call(inputs, *a, **k)
    model.patch_batch_size = 5
    chunked = {k: to_numpy(v) for k, v in model(x).items()}
    model.patch_model.call = network_call
    assert calls == [5, 5, 5, 5, 4]
    for key in ("depth", "normals"):
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-5, atol=1e-5)
    config = model.get_config()
    assert config["patch_batch_size"] == 5
    with pytest.raises(ValueError, match="patch_batch_size"):
        models.unet(patch_size=32, width=2, patch_batch_size=0)


def test_inference_chunk_is_the_patch_batch_size_but_cache_sized_on_torch():
    from keras_patchnet.models.patchnet import TORCH_CHUNK_PIXELS

    torch = keras.backend.backend() == "torch"
    for patch_batch_size in (256, 8, None):
        model = models.baseline(patch_size=64, width=1, patch_batch_size=patch_batch_size)
        small = TORCH_CHUNK_PIXELS // 64**2
        expected = min(patch_batch_size or small, small) if torch else patch_batch_size
        assert model.inference_chunk() == expected


def test_working_width_runs_the_network_at_its_scale_and_returns_maps_at_the_input_size():
    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, min_overlap=8, working_width=40)
    x = np.random.default_rng(2).uniform(0, 255, (1, 60, 80, 3)).astype("float32")
    mask = np.ones((1, 60, 80, 1), "float32")
    out = model.predict_on_batch({"images": x, "mask": mask})
    assert out["depth"].shape == (1, 60, 80, 1) and out["normals"].shape == (1, 60, 80, 3)
    length = np.linalg.norm(out["normals"], axis=-1)
    # renormalised: unit, but near the zero vectors an untrained net gives (dead ReLUs) lengths fall to 0
    assert np.all(length < 1 + 1e-3) and np.mean(np.abs(length - 1) < 1e-3) > 0.8
    # the same as running the network on the image resized to 40 wide, then resizing the maps back
    small = to_numpy(keras.ops.image.resize(x, (30, 40), interpolation="bilinear", antialias=True))
    native = models.PatchNet.from_config({**model.get_config(), "working_width": None})
    native.set_weights(model.get_weights())
    ref = native.predict_on_batch({"images": small, "mask": np.ones((1, 30, 40, 1), "float32")})
    back = to_numpy(keras.ops.image.resize(ref["depth"], (60, 80), interpolation="bilinear"))
    np.testing.assert_allclose(out["depth"], back, atol=1e-4)
    assert models.PatchNet.from_config(model.get_config()).working_width == 40
    with pytest.raises(ValueError, match="working_width"):
        models.unet(patch_size=32, width=2, working_width=0)


def test_working_interpolation_nearest_samples_the_input_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, min_overlap=8, working_width=40, working_interpolation="nearest")
    x = np.random.default_rng(2).uniform(0, 255, (1, 60, 80, 3)).astype("float32")
    out = model.predict_on_batch(x)
    # the same as running the network on the pixels under the working pixels' centres (rows 1, 3, ...)
    native = models.PatchNet.from_config({**model.get_config(), "working_width": None})
    native.set_weights(model.get_weights())
    rows, cols = np.floor((np.arange(30) + 0.5) * 2).astype(int), np.floor((np.arange(40) + 0.5) * 2).astype(int)
    ref = native.predict_on_batch(x[:, rows][:, :, cols])
    back = to_numpy(keras.ops.image.resize(ref["depth"], (60, 80), interpolation="bilinear"))
    np.testing.assert_allclose(out["depth"], back, atol=1e-4)
    assert hub.model_config(model)["working_interpolation"] == "nearest"
    assert "working_interpolation" not in hub.model_config(models.unet(patch_size=32, width=2, working_width=40))
    clone = models.PatchNet.from_config(model.get_config())
    assert clone.working_interpolation == "nearest"
    path = str(tmp_path / "nearest.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.working_interpolation == "nearest"
    np.testing.assert_allclose(to_numpy(loaded(x)["depth"]), to_numpy(model(x)["depth"]), atol=1e-5)
    with pytest.raises(ValueError, match="`working_interpolation` must be one of"):
        models.unet(patch_size=32, width=2, working_width=40, working_interpolation="area")


def test_shipped_presets_work_at_their_training_width():
    from keras_patchnet import presets

    for name in presets.list_pretrained():
        assert presets.PRESETS[name]["config"]["working_width"] in (112, 224), name


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the fold exists on PyTorch only")
def test_torch_fold_is_safe_with_threads():
    """Blocks of two threads overlap: the folded calls stay until the last block leaves, Keras' functions come back
    after it, and a thread outside any block, calling the same network meanwhile in training mode, gets Keras' own
    path (BatchNorm with the batch's statistics), not the folded one."""
    import threading

    import torch
    from keras.src.backend.torch import nn as torch_nn

    from keras_patchnet.models._torch_layout import fast_channels_last

    keras.utils.set_random_seed(0)
    model = models.unet(patch_size=32, width=2, min_overlap=8)
    _randomize_batch_norm(model, 1)
    network = model.patch_model
    patches = np.random.default_rng(0).uniform(0, 1, (3, 32, 32, 3)).astype("float32")
    with torch.no_grad():
        in_training = to_numpy(network(patches, training=True)["depth"])  # batch statistics: folding would be wrong
        expected = to_numpy(network(patches)["depth"])  # after: the training call moved the moving statistics
    originals = torch_nn._transpose_spatial_inputs, torch_nn.batch_normalization
    folded = lambda: [layer.name for layer in network.layers if "call" in vars(layer)]  # noqa: E731
    inside, leave, results = threading.Event(), threading.Event(), {}

    def in_a_block():
        with torch.no_grad(), fast_channels_last(network):
            results["folded"] = to_numpy(network(patches)["depth"])
            inside.set()
            leave.wait(30)

    def outside():
        with torch.no_grad():
            results["outside"] = to_numpy(network(patches, training=True)["depth"])

    thread = threading.Thread(target=in_a_block)
    thread.start()
    assert inside.wait(30)
    with torch.no_grad(), fast_channels_last(network):
        assert folded()
    assert folded(), "the other thread's block is still open"
    other = threading.Thread(target=outside)
    other.start()
    other.join(30)
    leave.set()
    thread.join(30)
    assert folded() == []
    assert (torch_nn._transpose_spatial_inputs, torch_nn.batch_normalization) == originals
    np.testing.assert_allclose(results["outside"], in_training, rtol=1e-4, atol=1e-4)  # fused BatchNorm rounds
    np.testing.assert_allclose(results["folded"], expected, rtol=1e-4, atol=1e-4)
