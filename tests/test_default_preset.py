"""The shipped default preset (`unet(pretrained=True)`): exposure and numeric range do not change its answer,
on every backend, from the files installed with the package."""

import numpy as np
import pytest

from keras_patchnet import data, models


@pytest.fixture(scope="module")
def default_model():
    return models.unet(pretrained=True)


@pytest.fixture(scope="module")
def sample():
    image, _ = data.load_sample()  # the shipped uint8 render
    return image[None]


def maps(model, images):
    out = model.predict_on_batch(images)
    return np.asarray(out["depth"]), np.asarray(out["normals"])


def angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def test_exposure_and_numeric_range_do_not_change_the_answer(default_model, sample):
    image = sample.astype("float32")
    depth, normals = maps(default_model, sample)
    versions = {
        "uint16": (sample.astype("uint16") * 257),
        "float [0, 255]": image,
        "float [0, 1]": image / 255.0,
        **{f"exposure x{k:g}": image * k for k in (0.5, 0.7, 1.4, 2.0)},  # float: nothing clips
    }
    for name, version in versions.items():
        d, n = maps(default_model, version)
        depth_gap = np.abs((d - d.mean()) - (depth - depth.mean())).max() * 1000  # mm, up to the free constant
        assert depth_gap < 2.0, (name, depth_gap)
        assert angle_deg(n, normals).max() < 2.0, name


def test_the_default_preset_normalises_brightness_per_image(default_model):
    assert default_model.intensity == "image"
