"""A light-conditioned `PatchNet(light="sh9")`: the light code's channels (`ops.light`) against NumPy, their
gradient and scale invariance; the model's dict input, its one-line errors, streaming, saving, presets and export."""

import os

import keras
import numpy as np
import pytest

from keras_patchnet import hub, models
from keras_patchnet.lighting import code_from_lights, hemisphere, shade
from keras_patchnet.models.blocks import IntensityNormalization
from keras_patchnet.ops.light import check_light, light_channels, reference_normals
from tests.helpers import check_gradient, layer_roundtrip, to_numpy

LEFT = code_from_lights([("directional", [-0.6, 0.1, -1.0], 0.9)], 0.1)
LIT_ROWS = ("true", "ball", "wrong")
RIGHT = code_from_lights([("directional", [0.6, -0.1, -1.0], 0.9)], 0.1)


def test_light_channels_against_numpy_and_independent_of_scale():
    codes = np.stack([LEFT, RIGHT, code_from_lights([("point", [0.3, -0.5, 0.2], 1.2)], 0.2)])
    want = np.stack([shade(reference_normals(), c) / shade(hemisphere(2000), c).max() for c in codes])
    got = to_numpy(light_channels(codes.astype("float32")))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(light_channels((3.7 * codes).astype("float32"))), got, rtol=1e-5, atol=1e-6)
    assert got.max() <= 1.0 + 1e-6 and np.abs(got[0] - got[1]).max() > 0.2  # mirrored lights differ
    np.testing.assert_allclose(np.linalg.norm(reference_normals(), axis=-1), 1.0)


def test_light_channels_gradient():
    code = np.stack([LEFT, RIGHT])
    assert check_gradient(lambda c: keras.ops.sum(light_channels(c) ** 2), code) < 1e-5


def test_intensity_normalization_leaves_the_light_channels_alone(tmp_path):
    x = np.random.default_rng(0).uniform(0, 200, (2, 8, 8, 12)).astype("float32")
    layer = IntensityNormalization(image_channels=3)
    out = layer_roundtrip(layer, x, tmp_path=tmp_path)
    np.testing.assert_allclose(out[..., 3:], x[..., 3:])
    np.testing.assert_allclose(out[..., :3], x[..., :3] / x[..., :3].max(axis=(1, 2, 3), keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError, match="image_channels"):
        IntensityNormalization(image_channels=0)


@pytest.fixture(scope="module")
def lit():
    model = models.unet(patch_size=32, width=2, light="sh9", intensity="image")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 48, 40, 3)).astype("uint8")
    light = np.stack([LEFT, RIGHT]).astype("float32")
    return model, images, light


def test_the_light_reaches_the_patch_network(lit):
    model, images, light = lit
    assert model.patch_model.input_shape == (None, 32, 32, 12)
    a = model.predict_on_batch({"images": images, "light": light})
    b = model.predict_on_batch({"images": images, "light": light[::-1]})
    c = model.predict_on_batch({"images": images, "light": 2.5 * light})
    assert a["depth"].shape == (2, 48, 40, 1) and a["normals"].shape == (2, 48, 40, 3)
    assert np.abs(a["normals"] - b["normals"]).max() > 1e-3
    np.testing.assert_allclose(c["normals"], a["normals"], atol=2e-3)  # a code's scale means nothing (float32)


def test_streaming_gives_the_same_maps(lit):
    model, images, light = lit
    whole = model.predict_on_batch({"images": images, "light": light})
    model.patch_batch_size = 2  # fewer than the patches of one image: the bounded-memory path
    try:
        assert model._streams({"images": images, "light": light})
        streamed = model.predict_on_batch({"images": images, "light": light})
    finally:
        model.patch_batch_size = 256
    for key in whole:
        np.testing.assert_allclose(streamed[key], whole[key], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "entries, message",
    [
        ({}, "light-conditioned"),
        ({"light": np.zeros((1, 9), "float32")}, r"shape \(batch, 9\)"),
        ({"light": np.zeros((2, 4), "float32")}, r"shape \(batch, 9\)"),
        ({"light": np.full((2, 9), np.nan, "float32")}, "non-finite"),
    ],
)
def test_bad_light_gets_one_line(lit, entries, message):
    model, images, _ = lit
    with pytest.raises(ValueError, match=message) as error:
        model.predict_on_batch({"images": images, **entries})
    assert "\n" not in str(error.value)


def test_a_model_without_light_refuses_one():
    with pytest.raises(ValueError, match="takes no light"):
        check_light(None, np.zeros((1, 9)), 1)
    with pytest.raises(ValueError, match="`light` must be one of"):
        models.unet(patch_size=32, width=2, light="rgb")


def test_save_load_and_preset_keep_the_light(lit, tmp_path):
    model, images, light = lit
    x = {"images": images, "light": light}
    want = model.predict_on_batch(x)
    model.save(str(tmp_path / "lit.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "lit.keras"))
    assert loaded.light == "sh9"
    np.testing.assert_allclose(loaded.predict_on_batch(x)["normals"], want["normals"], atol=1e-6)
    assert hub.model_config(model)["light"] == "sh9" and "light" not in hub.model_config(models.unet(patch_size=32))
    lit_table = {
        "images": 2,
        "size": 48,
        "command": "python benchmarks/bench_lit.py --weights unet.test-lit",
        "date": "2026-01-01",
        "lightings": {
            "rig": {
                **{k: {"depth_ratio": 0.5, "angle_ratio": 0.25, "beats_plane": 1.0} for k in LIT_ROWS},
                "true_by_angle": {"0-15": None, "15-90": {"depth_ratio": 0.5, "angle_ratio": 0.25, "images": 2}},
            }
        },
    }
    folder = str(tmp_path / "preset")
    hub.save_preset(
        model, folder, name="unet.test-lit", golden_images=images, golden_light=light, metadata={"lit": lit_table}
    )
    preset = models.unet(pretrained=folder)
    assert preset.light == "sh9" and preset.intensity == "image"
    np.testing.assert_allclose(preset.predict_on_batch(x)["depth"], want["depth"], atol=1e-6)
    golden = np.load(os.path.join(folder, "golden.npz"))
    np.testing.assert_allclose(golden["light"], light)
    np.testing.assert_allclose(golden["depth"], want["depth"], atol=1e-6)
    card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    assert "| rig | 0.50 / 0.25 (100%) | 0.50 / 0.25 (100%) | 0.50 / 0.25 (100%) |" in card
    assert "| rig | - | 0.50 / 0.25 (2) |" in card  # by the light's angle from the camera axis
    assert "'light' (B, 9)" in card and "calibrate" in card  # the card's input contract names the light input
    with pytest.raises(ValueError, match="`golden_light` must be given exactly when"):
        hub.save_preset(model, str(tmp_path / "no-light"), golden_images=images)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="SavedModel export needs the TensorFlow backend")
def test_saved_model_takes_the_light_as_a_second_input(lit, tmp_path):
    import tensorflow as tf

    from keras_patchnet.export import export

    model, images, light = lit
    x = images.astype("float32")
    export(model, str(tmp_path / "saved"), image_size=(48, 40))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))  # kept: its variables live as long as it does
    out = loaded.serve({"images": x, "light": light})
    want = model.predict_on_batch({"images": x, "light": light})
    for key in want:
        np.testing.assert_allclose(np.asarray(out[key]), want[key], atol=1e-4)


def test_a_render_knows_its_light_and_a_flip_mirrors_it():
    from keras_patchnet.data import render
    from keras_patchnet.data.augment import flip_horizontal
    from keras_patchnet.lighting import code_from_render, shade

    for seed, lighting in ((4, "fixed"), (5, "rig"), (6, "random"), (7, "random")):
        s = render(seed, 112, 112, lighting=lighting)
        code = code_from_render(s)
        brightness = s.image.astype("float64").mean(-1)[s.mask]
        shading = shade(s.normals[s.mask], code)
        assert np.corrcoef(brightness, shading)[0, 1] > 0.9, lighting  # noise, tints, falloff: not in the code
        flipped = flip_horizontal({"image": s.image, "normals": s.normals, "mask": s.mask, "light": code})
        np.testing.assert_allclose(shade(flipped["normals"], flipped["light"]), shade(s.normals, code)[:, ::-1])


@pytest.mark.parametrize("mode", ["patches", "images"])
def test_the_dataset_feeds_the_light_as_the_model_reads_it(mode):
    from keras_patchnet.data import PatchNetDataset, SyntheticSource
    from keras_patchnet.ops.light import light_channels

    source = SyntheticSource(2, 64, 64, lighting="rig", light=True)
    model = models.unet(patch_size=32, width=2, light="sh9", intensity="image")
    data = PatchNetDataset(source, batch_size=2, mode=mode, shuffle=False, **model.data_settings)
    x, y = data[0]
    codes = np.stack([source.load(i)["light"] for i in range(2)]).astype("float32")
    if mode == "images":
        np.testing.assert_allclose(x["light"], codes)
        assert model.predict_on_batch(x)["depth"].shape == y["depth"].shape
        return
    assert x.shape[-1] == 12 and x.shape[0] == y["depth"].shape[0]
    per_image = x.shape[0] // 2
    np.testing.assert_allclose(x[0, 5, 7, 3:], to_numpy(light_channels(codes))[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x[per_image, 0, 0, 3:], to_numpy(light_channels(codes))[1], rtol=1e-5, atol=1e-6)
    model.patch_model.compile(optimizer="adam", loss={"depth": "mse", "normals": "mse"})
    assert np.isfinite(model.patch_model.train_on_batch(x, y)).all()
    with pytest.raises(ValueError, match="no light code"):
        PatchNetDataset(SyntheticSource(1, 64, 64), mode=mode, **model.data_settings)[0]


@pytest.mark.parametrize("light", ["sh9", "sh9-film"])
def test_with_light_input_starts_as_the_model_it_copies(light, tmp_path):
    base = models.unet(patch_size=32, width=2, intensity="image", working_width=40)
    lit = models.with_light_input(base, light)
    assert lit.light == light and lit.working_width == 40 and lit.patch_model.input_shape[-1] == 12
    images = np.random.default_rng(1).integers(0, 256, (2, 48, 40, 3)).astype("uint8")
    want = base.predict_on_batch(images)
    got = lit.predict_on_batch({"images": images, "light": np.stack([LEFT, RIGHT]).astype("float32")})
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-5)
    with pytest.raises(ValueError, match="takes a light already"):
        models.with_light_input(lit)
    for w in lit.patch_model.weights:  # the light's weights woken: the two lights now give different maps
        if "film_dense" in w.path or "s1_0_conv" in w.path:
            w.assign(np.random.default_rng(2).normal(0, 0.2, w.shape).astype("float32"))
    x = {"images": images, "light": np.stack([LEFT, RIGHT]).astype("float32")}
    a = lit.predict_on_batch(x)
    b = lit.predict_on_batch({**x, "light": x["light"][::-1]})
    assert np.abs(a["normals"] - b["normals"]).max() > 1e-3
    hub.save_preset(lit, str(tmp_path / "preset"), name="unet.test-lit")
    again = models.unet(pretrained=str(tmp_path / "preset"))
    assert again.light == light
    np.testing.assert_allclose(again.predict_on_batch(x)["normals"], a["normals"], atol=1e-5)


def test_bench_lit_runs_small_and_reproducibly(tiny_folder, tmp_path):
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    import bench_lit

    lit = hub.save_preset(
        models.with_light_input(models.unet(pretrained=tiny_folder)), str(tmp_path / "lit"), name="unet.tiny-lit"
    )
    argv = ["--weights", lit, "--images", "3", "--size", "48", "--lightings", "rig"]
    first = bench_lit.main([*argv, "--json", str(tmp_path / "lit.json")])["lightings"]["rig"]
    result = bench_lit.main(argv)
    again = result["lightings"]["rig"]
    assert first == again and 0 <= first["ball_code_difference"] < 0.1
    assert hub.lit_markdown(result, brief=True).splitlines()[-1].startswith("| rig | ")  # the README's table
    assert hub.lit_markdown(result).splitlines()[-1].startswith("| rig | ")  # the card's, by angle
    for name in ("true", "ball", "wrong"):
        assert (
            first[name]["images"] == 3 and np.isfinite([first[name]["depth_ratio"], first[name]["angle_ratio"]]).all()
        )
    assert sum(v["images"] for v in first["true_by_angle"].values() if v) == 3
