"""Every example runs, on tiny sizes, so none goes stale."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_patchnet import geometry, hub, models, presets
from keras_patchnet.data import write_synthetic
from tests.hub_server import FakeHub

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_unet(tmp_path_factory):
    keras.utils.set_random_seed(0)
    config = {"arch": "unet", "patch_size": 32, "width": 2, "min_overlap": 8}
    return hub.save_preset(models.build_from_config(config), str(tmp_path_factory.mktemp("w") / "unet.tiny"))


@pytest.mark.skipif(not presets.list_pretrained("unet"), reason="no pretrained UNet in the preset table")
def test_quickstart_with_the_pretrained_unet(tmp_path):
    depth, normals = load_example("quickstart").main(["--out", str(tmp_path)])
    assert depth.shape == (112, 112) and normals.shape == (112, 112, 3)
    cloud = geometry.read_ply(tmp_path / "surface.ply")
    assert len(cloud["points"]) > 500 and np.all(np.isfinite(cloud["points"]))
    assert {"normals.png", "depth.npy"} <= set(os.listdir(tmp_path))


def test_finetune_then_publish(tiny_unet, tmp_path):
    data = write_synthetic(str(tmp_path / "data"), {"cloth": ["Lc_a", "Ll_b", "Lr_c"]}, frames=2, size=48)
    finetune = load_example("finetune")
    out = str(tmp_path / "finetuned")
    result, before, after = finetune.main([data, "--out", out, "--weights", tiny_unet, "--epochs", "1"])
    assert result["epochs"] == 1 and np.isfinite(after["depth_ratio"]) and np.isfinite(before["angle_ratio"])
    assert {"config.json", "model.weights.h5", "metadata.json", "README.md", "curve.csv"} <= set(os.listdir(out))

    server = FakeHub()
    try:
        info = load_example("publish").main([out, "me/cloth", "--endpoint", server.endpoint, "--token", "t"])
        files = server.repos["me/cloth"]["commits"][info.oid]
        assert json.loads(files["metadata.json"])["name"] == "unet.finetuned"
        (tmp_path / "pulled").mkdir()
        for name in ("config.json", "model.weights.h5"):
            (tmp_path / "pulled" / name).write_bytes(files[name])
        pulled, local = (
            models.create_model("unet", pretrained=str(tmp_path / "pulled")),
            models.create_model("unet", pretrained=out),
        )
        for a, b in zip(pulled.get_weights(), local.get_weights()):
            np.testing.assert_array_equal(a, b)
    finally:
        server.close()


def test_train_from_scratch_recipe_runs(tmp_path):
    result = load_example("train_from_scratch").main(
        [
            *"--model baseline --out".split(),
            str(tmp_path),
            *"--epochs 1 --steps 1 --batch-size 1 --image-size 40 --patch-size 32 --width 2".split(),
            *"--val-images 1 --test-images 1".split(),
        ]
    )
    assert result["recipe"]["model"] == "baseline" and result["num_images"] == 1
    assert os.path.exists(tmp_path / "backup") or os.path.exists(tmp_path / "model.weights.h5")


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="runs once, in the JAX run of the suite")
def test_distributed_data_parallel_gives_the_single_device_losses():
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip(),
        "PYTHONPATH": ROOT,
    }
    script = os.path.join(ROOT, "examples", "distributed.py")
    options = ["--optimizer", "sgd", "--lr", "1e-4", "--steps", "3"]
    # both runs at once: each is mostly start-up and compilation on one core
    runs = {
        n: subprocess.Popen(
            [sys.executable, script, "--devices", str(n), *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (2, 1)
    }
    results = {}
    for n, process in runs.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        results[n] = json.loads(out.strip().splitlines()[-1])
    two, one = results[2], results[1]
    assert two["devices"] == ["cpu:0", "cpu:1"] and one["devices"] == ["cpu:0"]
    assert one["losses"][0] != one["losses"][-1]  # the steps do train
    # float32 summation order differs between the two layouts: equal at step 1, within 1e-3 after two updates
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-3)
    assert abs(two["losses"][0] - one["losses"][0]) < 1e-5
