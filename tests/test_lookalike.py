"""Renders that look like a set-up of one's own: its light and encoding fitted from its frames, and fine-tuning
that mixes them with the frames."""

import json

import numpy as np
import pytest

import keras_patchnet as kp
from keras_patchnet import finetuning, lighting
from keras_patchnet.data.lookalike import Frames, _to_linear, fit_setup, lookalike_renders

MOVED = {"direction": (-0.6, 0.1, -1.0)}


def _frames(encoding, count=6, size=64):
    frames = Frames()
    for seed in range(count):
        s = kp.data.render(seed, size, size, lighting=MOVED, encoding=encoding)
        frames.append({"image": s.image, "depth": s.depth, "normals": s.normals, "mask": s.mask})
    return frames


@pytest.mark.parametrize("encoding", ["linear", "srgb"])
def test_fit_setup_finds_the_encoding_and_the_light(encoding):
    setup = fit_setup(_frames(encoding))
    assert setup["encoding"] == encoding
    truth = np.asarray(MOVED["direction"]) / np.linalg.norm(MOVED["direction"])
    angle = np.degrees(np.arccos(np.clip(np.dot(setup["light"]["direction"], truth), -1, 1)))
    assert angle < 10, angle
    true_code = lighting.code_from_lights([("directional", MOVED["direction"], 0.8)], 0.1)
    # sheets show a cap of normals, not a ball's half sphere: the code is close, and far closer than another light's
    assert lighting.difference(true_code, setup["code"]) < 0.1
    assert (
        lighting.difference(true_code, setup["code"]) < lighting.difference(true_code, lighting.calibrated_code()) / 2
    )
    # the light dict is one the renderer takes
    kp.data.render(0, 16, 16, lighting=setup["light"])


def test_lookalike_renders_have_the_set_ups_encoding_and_brightness():
    setup = fit_setup(_frames("srgb"))
    renders = lookalike_renders(setup, 3, 48, 40, seed=5)
    assert len(renders) == 3
    for r in renders:
        assert r["image"].shape == (48, 40, 3) and r["image"].dtype == np.uint8
        assert r["depth"].shape == (48, 40) and r["normals"].shape == (48, 40, 3)
    level = np.median(np.concatenate([_to_linear(r["image"], "srgb").mean(-1)[r["mask"]] for r in renders]))
    assert abs(level - setup["level"]) < 0.05 * setup["level"] + 2 / 255
    assert fit_setup(Frames(renders))["encoding"] == "srgb"


def test_fit_setup_warns_when_no_light_explains_the_frames():
    frames = _frames("linear", count=2)
    rng = np.random.default_rng(0)
    for f in frames:  # brightness that has nothing to do with the normals
        f["image"] = rng.integers(30, 220, f["image"].shape).astype("uint8")
    with pytest.warns(UserWarning, match="explains the frames' brightness poorly"):
        fit_setup(frames)


def test_fit_setup_refuses_frames_without_usable_pixels():
    frames = Frames([{"image": np.zeros((8, 8, 3)), "normals": np.zeros((8, 8, 3)), "mask": np.zeros((8, 8), bool)}])
    with pytest.raises(lighting.LightError, match="usable pixels"):
        fit_setup(frames)


def test_finetune_mixes_renders_and_records_the_fitted_set_up(tmp_path, tiny_folder):
    root = kp.data.write_synthetic(str(tmp_path / "d"), {"cloth": ["a", "b"]}, 2, 32, 3, MOVED, "standard")
    model = kp.models.unet(pretrained=tiny_folder)
    result = finetuning.finetune(model, root, str(tmp_path / "r"), epochs=1, steps_per_epoch=1, renders=3)
    assert len(result["curve"]) == 1
    with open(tmp_path / "r" / "metadata.json") as f:
        meta = json.load(f)
    assert meta["setup"]["encoding"] == "linear" and len(meta["setup"]["light"]["direction"]) == 3
    assert json.loads(meta["training"]["schedule"])["renders"] == 3
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="`renders` must be an int >= 0"):
            finetuning.finetune(model, root, str(tmp_path / "r2"), epochs=1, renders=bad)
