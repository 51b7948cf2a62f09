"""The Hub client path against a loopback server that speaks the Hub protocol (tests/hub_server.py)."""

import os

import huggingface_hub
import numpy as np
import pytest

from keras_patchnet import hub, models, presets
from keras_patchnet.data import render_batch
from tests.helpers import to_numpy
from tests.hub_server import FakeHub

REPO = "keras-patchnet/baseline.tiny"
CONFIG = {"arch": "baseline", "patch_size": 32, "width": 2, "min_overlap": 8}


@pytest.fixture
def server():
    fake = FakeHub()
    yield fake
    fake.close()


@pytest.fixture
def published(server, tmp_path, monkeypatch):
    """A tiny baseline preset, written by save_preset, committed to the fake Hub and entered in the table."""
    model = models.build_from_config(CONFIG)
    images = render_batch([1], 40, 48)["images"]
    folder = hub.save_preset(model, str(tmp_path / "preset"), name="baseline.tiny", golden_images=images)
    files = {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}
    revision = server.commit(REPO, files)
    table = {
        "baseline.tiny": {
            "arch": "baseline",
            "repo_id": REPO,
            "revision": revision,
            "files": {name: hub.sha256(os.path.join(folder, name)) for name in ("config.json", "model.weights.h5")},
            "config": CONFIG,
        }
    }
    monkeypatch.setattr(presets, "PRESETS", table)
    monkeypatch.setattr(hub, "SOURCE_WEIGHTS", str(tmp_path / "no-source-checkout"))
    monkeypatch.setattr(hub, "PACKAGED_WEIGHTS", str(tmp_path / "nothing-packaged"))
    golden = np.load(os.path.join(folder, "golden.npz"))
    return {"cache": str(tmp_path / "hf-cache"), "golden": golden, "revision": revision}


def load(published, server, pretrained="tiny"):
    return models.baseline(pretrained=pretrained, cache_dir=published["cache"], endpoint=server.endpoint)


def assert_golden(model, golden):
    # save_preset writes golden.npz with predict_on_batch: compare the same path (on torch, predict folds BatchNorm
    # into the convolutions, which moves float32 rounding by up to about 1e-4 against calling the model)
    out = model.predict_on_batch(golden["images"])
    np.testing.assert_allclose(to_numpy(out["depth"]), golden["depth"], atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["normals"]), golden["normals"], atol=1e-5)


def test_download_by_tag_name_and_true(published, server):
    for pretrained in ("tiny", "baseline.tiny", True):
        assert_golden(load(published, server, pretrained), published["golden"])
    resolves = [p for m, p in server.requests if "/resolve/" in p]
    assert resolves and all(f"/resolve/{published['revision']}/" in p for p in resolves)  # pinned, never "main"


def test_second_load_makes_no_request(published, server):
    load(published, server)
    before = len(server.requests)
    assert_golden(load(published, server), published["golden"])
    assert len(server.requests) == before


def test_offline_with_and_without_cache(published, server, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub.WeightsError, match=r"not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        load(published, server)
    assert not server.requests
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    load(published, server)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    before = len(server.requests)
    assert_golden(load(published, server), published["golden"])
    assert len(server.requests) == before


def test_missing_file(published, server):
    presets.PRESETS["baseline.tiny"]["files"]["extra.bin"] = "0" * 64
    with pytest.raises(hub.WeightsError, match=r"Preset 'baseline.tiny': .* has no file extra.bin"):
        load(published, server)


def test_corrupt_file_is_downloaded_again_then_refused(published, server):
    server.corrupt.add((REPO, "model.weights.h5"))
    with pytest.raises(
        hub.WeightsError, match=r"Preset 'baseline.tiny': model.weights.h5 is corrupt .* also after a fresh download"
    ):
        load(published, server)
    gets = [p for m, p in server.requests if m == "GET" and p.endswith("model.weights.h5")]
    assert len(gets) == 2
    server.corrupt.clear()
    assert_golden(load(published, server), published["golden"])  # the next load repairs the cache


def test_truncated_download_is_an_error(published, server):
    server.truncate.add((REPO, "model.weights.h5"))
    with pytest.raises(hub.WeightsError, match=r"Preset 'baseline.tiny'"):
        load(published, server)


def test_upload_then_download_round_trip(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    model = models.build_from_config(CONFIG)
    images = render_batch([2], 40, 48)["images"]
    info = hub.push_to_hub(
        model, "someone/my-baseline", golden_images=images, endpoint=server.endpoint, token="hf_fake"
    )
    files = server.repos["someone/my-baseline"]["commits"][info.oid]
    assert {"config.json", "model.weights.h5", "metadata.json", "README.md", "golden.npz"} <= set(files)
    card = files["README.md"].decode()
    assert "metres" in card and "pointing to" in card and "Input contract" in card and "Licence" in card
    path = huggingface_hub.hf_hub_download(
        "someone/my-baseline",
        "model.weights.h5",
        revision=info.oid,
        cache_dir=str(tmp_path / "c"),
        endpoint=server.endpoint,
    )
    folder = os.path.dirname(path)
    huggingface_hub.hf_hub_download(
        "someone/my-baseline", "config.json", revision=info.oid, cache_dir=str(tmp_path / "c"), endpoint=server.endpoint
    )
    loaded = models.baseline(pretrained=folder)
    np.testing.assert_allclose(to_numpy(loaded(images)["normals"]), to_numpy(model(images)["normals"]), atol=1e-6)


def test_local_folder_and_file(tmp_path):
    model = models.build_from_config(CONFIG)
    folder = hub.save_preset(model, str(tmp_path / "p"))
    images = render_batch([3], 40, 48)["images"]
    expected = to_numpy(model(images)["depth"])
    np.testing.assert_allclose(to_numpy(models.baseline(pretrained=folder)(images)["depth"]), expected, atol=1e-6)
    file_model = models.baseline(
        pretrained=os.path.join(folder, "model.weights.h5"), patch_size=32, width=2, min_overlap=8
    )
    np.testing.assert_allclose(to_numpy(file_model(images)["depth"]), expected, atol=1e-6)


def test_mismatching_or_corrupt_local_weights_are_refused(tmp_path):
    folder = hub.save_preset(models.build_from_config(CONFIG), str(tmp_path / "p"))
    with pytest.raises(hub.WeightsError, match="holds 'baseline' weights, not 'unet'"):
        models.unet(pretrained=folder)
    with pytest.raises(hub.WeightsError, match=r"Cannot load the weights of file .* into patchnet_baseline"):
        models.baseline(pretrained=os.path.join(folder, "model.weights.h5"))  # default width 8: shapes differ
    net = models.unet(patch_size=32, width=2)
    net.patch_model.save_weights(str(tmp_path / "patch.weights.h5"))  # the patch network alone, as a backup holds
    with pytest.raises(hub.WeightsError) as e:
        models.unet(pretrained=str(tmp_path / "patch.weights.h5"), patch_size=32, width=2)
    assert "objects could not be loaded" in str(e.value) and "\n" not in str(e.value)  # one line, not every layer
    with open(os.path.join(folder, "model.weights.h5"), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(hub.WeightsError, match=r"model\.weights\.h5 is corrupt \(its sha256 differs"):
        models.baseline(pretrained=folder)  # the folder's manifest finds it before h5py reads it
    os.remove(os.path.join(folder, hub.MANIFEST_FILE))
    with pytest.warns(UserWarning, match="cannot be verified"):
        with pytest.raises(hub.WeightsError, match="Cannot load the weights of folder"):
            models.baseline(pretrained=folder)
    os.remove(os.path.join(folder, "config.json"))
    with pytest.raises(hub.WeightsError, match="has no config.json"):
        models.baseline(pretrained=folder)


def test_unknown_or_unpublished_names(monkeypatch):
    monkeypatch.setattr(presets, "PRESETS", {})
    with pytest.raises(ValueError, match=r"No pretrained weights for 'unet' yet"):
        models.unet(pretrained=True)
    with pytest.raises(ValueError, match=r"Unknown pretrained weights 'imagenet' for 'unet'"):
        models.unet(pretrained="imagenet")
    with pytest.raises(ValueError, match=r"`pretrained` must be a bool, a preset tag or name, or a path"):
        models.unet(pretrained=3)


def test_shipped_presets_load_from_the_source_checkout_and_reproduce_their_golden_outputs():
    for name in presets.list_pretrained():
        arch, tag = name.split(".", 1)
        model = models.create_model(arch, pretrained=tag)
        golden = np.load(os.path.join(hub.local_preset_folder(name), "golden.npz"))
        x = golden["images"].astype("float32")
        assert bool(model.light) == ("light" in golden), name  # a light-conditioned preset's golden holds the light
        out = model.predict_on_batch({"images": x, "light": golden["light"]} if model.light else x)
        np.testing.assert_allclose(np.asarray(out["depth"]), golden["depth"], atol=1e-4)
        # the light-conditioned preset's golden normals (made on TensorFlow) differ by up to 1.2e-3 (0.07 degrees)
        # on PyTorch and JAX, 4.6e-4 when read as linear: FiLM's scales amplify float rounding; the others by < 1e-4
        tolerance = 2e-3 if model.light else 1e-4
        np.testing.assert_allclose(np.asarray(out["normals"]), golden["normals"], atol=tolerance)


def test_hub_never_imports_models_and_the_model_carries_its_architecture():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(hub))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "models" not in imported and "keras_patchnet.models" not in imported  # imports go models -> hub
    model = models.inception(patch_size=128, width=1, min_overlap=8)
    assert model.architecture == {"arch": "inception", "width": 1, "network_kwargs": {"encoder_activation": "relu"}}
    clone = models.PatchNet.from_config(model.get_config())
    assert clone.architecture == model.architecture
    assert hub.model_config(clone) == {
        "arch": "inception",
        "input_encoding": "linear",
        "patch_size": 128,
        "width": 1,
        "min_overlap": 8,
        "network_kwargs": {"encoder_activation": "relu"},
    }
    with pytest.raises(ValueError, match="records no architecture"):
        hub.model_config(models.PatchNet(model.patch_model, patch_size=128))
