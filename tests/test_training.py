"""Parts of the training recipe (`keras_patchnet.training`) below the whole runs that test_cli and test_examples do."""

import keras
import numpy as np
import pytest

from keras_patchnet import models
from keras_patchnet.training import DEFAULTS, batch_norm_layers, build_for_fit, recalibrate_batch_norm


def small_net():
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2", momentum=0.9)(x)
    return keras.Model(inputs, x)


def batches(n, seed=0):
    rng = np.random.default_rng(seed)
    # batches of very different scale and offset, as an unnormalised encoder's activations are
    return [(rng.normal(size=(4, 6, 6, 3)) * 10.0**k + k).astype("float32") for k in range(n)]


def test_moving_statistics_become_the_plain_average_of_the_batch_statistics():
    net, data = small_net(), batches(4)
    conv1 = keras.Model(net.input, net.get_layer("conv1").output)
    features = [np.asarray(keras.ops.convert_to_numpy(conv1(x))) for x in data]
    expected_mean = np.mean([f.mean(axis=(0, 1, 2)) for f in features], axis=0)
    expected_var = np.mean([f.var(axis=(0, 1, 2)) for f in features], axis=0)

    assert recalibrate_batch_norm(net, [(x, None) for x in data], batches=10) == 4  # (x, y) items; capped at len

    bn1 = net.get_layer("bn1")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn1.moving_mean), expected_mean, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn1.moving_variance), expected_var, rtol=1e-4)
    assert bn1.momentum == 0.99 and net.get_layer("bn2").momentum == 0.9  # restored


def test_one_batch_makes_inference_equal_training_mode_on_it():
    net, (x,) = small_net(), batches(1)
    before = keras.ops.convert_to_numpy(net(x, training=False))
    recalibrate_batch_norm(net, [x])
    inference = keras.ops.convert_to_numpy(net(x, training=False))
    training = keras.ops.convert_to_numpy(net(x, training=True))
    np.testing.assert_allclose(inference, training, rtol=1e-4, atol=1e-4)
    assert np.abs(before - training).max() > 1.0  # the default statistics (0, 1) were far off


def test_weights_other_than_the_statistics_do_not_change():
    net = small_net()
    trainable = [keras.ops.convert_to_numpy(w) for w in net.trainable_weights]
    recalibrate_batch_norm(net, batches(3))
    for a, b in zip(trainable, net.trainable_weights):
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))


# encoder blocks (2, 2, 3, 3, 3) = 13 BatchNorms (not in Inception's encoder), each decoder (3, 3, 3, 2, 2) = 13
@pytest.mark.parametrize("arch,size,count", [("unet", 32, 39), ("baseline", 32, 39), ("inception", 128, 26)])
def test_finds_every_batch_norm_layer_of_the_patch_networks(arch, size, count):
    assert len(batch_norm_layers(models.NETWORKS[arch](patch_size=size, width=1))) == count


def test_finds_the_batch_norm_layers_inside_a_patchnet():
    assert len(batch_norm_layers(models.baseline(patch_size=32, width=1))) == 39  # PatchNet -> patch model -> BN


def test_zero_batches_turn_it_off():
    assert recalibrate_batch_norm(small_net(), batches(2), batches=0) == 0
    assert DEFAULTS["bn_batches"] > 0


@pytest.mark.parametrize("batches", [-1, 2.5, True, "10"])
def test_bad_batches_are_refused_by_name(batches):
    with pytest.raises(ValueError, match=r"`batches` must be an int >= 0"):
        recalibrate_batch_norm(small_net(), [np.zeros((1, 6, 6, 3), "float32")], batches)


def test_data_without_a_length_is_refused_by_name():
    with pytest.raises(TypeError, match=r"`data` must be indexable with a length"):
        recalibrate_batch_norm(small_net(), iter(batches(2)))


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("curve_images", -1, "must be an int >= 0"),
        ("curve_images", 2.0, "must be an int >= 0"),
        ("bn_batches", -3, "must be an int >= 0"),
        ("scales", "1,x", "must be comma-separated floats"),
        ("curve_sizes", "112,big", "must be comma-separated ints"),
        ("curve_sizes", "112,0", "must be positive image sizes"),
        ("dtype_policy", "mixed_float16", "must be one of"),
        ("lighting", "fixed,sun", "must be one of"),
    ],
)
def test_bad_options_are_refused_by_name_before_anything_runs(tmp_path, key, value, message):
    from keras_patchnet.training import train

    with pytest.raises(ValueError, match=f"`{key}` {message}"):
        train(out=str(tmp_path / "run"), **{key: value})
    assert not (tmp_path / "run").exists()


def test_the_learning_curve_has_a_ratio_column_per_extra_validation_set(tmp_path):
    import csv

    from keras_patchnet.training import validation_curve

    rng = np.random.default_rng(0)
    truth = {}
    for label, size in (("main", 8), ("16", 16)):
        depth = rng.normal(0, 0.01, (2, size, size, 1)).astype("float32")
        normals = rng.normal(size=(2, size, size, 3)).astype("float32")
        truth[label] = depth, normals / np.linalg.norm(normals, axis=-1, keepdims=True)
    d16, n16 = truth["16"]
    perfect = validation_curve(
        lambda: truth["main"], *truth["main"], str(tmp_path / "c.csv"), more=[("16", lambda: (d16 / 2, n16), d16, n16)]
    )
    perfect.on_epoch_end(0, {"loss": 1.0})
    (row,) = csv.DictReader(open(tmp_path / "c.csv"))
    assert float(row["depth_ratio"]) == 0 and float(row["angle_ratio"]) == 0  # the main set predicted exactly
    assert float(row["depth_ratio_16"]) == pytest.approx(0.5, abs=1e-3)  # half the relief: half the plane's error
    assert float(row["angle_ratio_16"]) == 0


class Batches(keras.utils.PyDataset):
    def __init__(self, n=3):
        super().__init__()
        rng = np.random.default_rng(1)
        self.items = [
            (rng.normal(size=(4, 6, 6, 3)).astype("float32"), rng.normal(size=(4, 6, 6, 5)).astype("float32"))
            for _ in range(n)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class CountingNet(keras.Model):
    """small_net's layers, counting how often Keras runs the Python of `train_step` (on TensorFlow: once a trace)."""

    steps = 0

    def train_step(self, *args, **kwargs):
        CountingNet.steps += 1
        return super().train_step(*args, **kwargs)


def fit_history(prebuild):
    plain = small_net()
    net = CountingNet(plain.inputs, plain.outputs)
    net.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    data = Batches()
    if prebuild:
        build_for_fit(net, data)
        assert net.optimizer.built
    CountingNet.steps = 0
    # shuffle=False: fit's shuffling of a PyDataset draws from a random state that the plain path's own build
    # advances by one batch, so the batch order (not the arithmetic) would differ
    history = net.fit(data, epochs=2, shuffle=False, verbose=0).history
    return CountingNet.steps, history


def test_build_for_fit_changes_no_result_and_on_tensorflow_traces_the_step_once():
    plain_steps, plain = fit_history(prebuild=False)
    built_steps, built = fit_history(prebuild=True)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(built[key], plain[key], rtol=1e-5)
    if keras.backend.backend() == "tensorflow":
        # without it, the variables created in the first trace make tf.function trace it again (the cost removed)
        assert (plain_steps, built_steps) == (2, 1)


def test_build_for_fit_names_what_it_needs():
    net = small_net()
    with pytest.raises(ValueError, match="must be compiled"):
        build_for_fit(net, Batches())
    net.compile(optimizer="adam", loss="mse")
    build_for_fit(net, list(Batches()[0]))  # a list batch, as Keras reads one
    assert net.optimizer.built
    with pytest.raises(TypeError, match="`data` must be a keras.utils.PyDataset or one batch"):
        build_for_fit(net, np.zeros((4, 6, 6, 3), "float32"))
