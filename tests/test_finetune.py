"""Fine-tuning on a set-up of one's own: sensor-like data (depth only, holes, noise), `finetune` and its command."""

import csv
import json
import os

import numpy as np
import pytest

import keras_patchnet as kp
from keras_patchnet import finetuning
from keras_patchnet.data import close_holes, sensor_depth
from keras_patchnet.data.texless import smooth_depth
from keras_patchnet.geometry import angular_error_deg

MOVED = {"direction": (-0.6, 0.1, -1.0)}


def _folder(root, normals=True, sensor=None, sequences=("a", "b"), frames=2, size=48, world="physical"):
    return kp.data.write_synthetic(
        str(root), {"cloth": list(sequences)}, frames, size, 3, MOVED, world, normals=normals, sensor=sensor
    )


def test_moved_light_renders_as_the_calibrated_light_does():
    fixed = kp.data.render(0, 40, 40, lighting="fixed")
    own = kp.data.render(0, 40, 40, lighting={"direction": (0.3, -0.4, -1.0), "power": 0.8, "ambient": 0.1})
    np.testing.assert_array_equal(fixed.image, own.image)
    moved = kp.data.render(0, 40, 40, lighting=MOVED)
    assert np.mean(moved.image[moved.mask] != fixed.image[fixed.mask]) > 0.5
    for bad in ({"direction": (0, 0, 1)}, {"direction": (0, 0, -1), "power": -1}, {"dir": (0, 0, -1)}):
        with pytest.raises(ValueError, match="light of one's own"):
            kp.data.render(0, 16, 16, lighting=bad)


def test_close_holes_fills_inside_not_outside():
    mask = np.zeros((12, 12), bool)
    mask[2:10, 2:10] = True
    holey = mask.copy()
    holey[4:6, 4:7] = False  # a hole inside
    holey[2:4, 2] = False  # a notch open to the outside
    closed = close_holes(holey)
    assert closed[4:6, 4:7].all()
    assert not closed[2:4, 2].any()
    assert not closed[~mask].any()


def test_sensor_noise_grows_with_squared_distance_and_leaves_holes():
    rng = np.random.default_rng(0)
    normals = np.zeros((64, 64, 3), "float32")
    normals[..., 2] = -1
    spread = []
    for z in (1.0, 2.0):
        depth = np.full((64, 64), z, "float32")
        read = sensor_depth(depth, normals, rng, step=0, edge_band=0, blobs=(0, 0))
        spread.append(float(np.std(read - depth)))
    assert spread[0] == pytest.approx(kp.data.sensor.KINECT_SIGMA, rel=0.1)
    assert spread[1] / spread[0] == pytest.approx(4.0, rel=0.15)
    s = kp.data.render(1, 64, 64, lighting="fixed", world="physical")
    read = sensor_depth(s.depth, s.normals, 1)
    holes = s.mask & (read == 0)
    assert 0 < holes.mean() < 0.5 * s.mask.mean()
    assert not read[~s.mask].any()
    np.testing.assert_array_equal(read, sensor_depth(s.depth, s.normals, 1))  # reproducible
    on = read > 0
    assert np.allclose(np.round(read[on] / 1e-3) * 1e-3, read[on], atol=1e-6)  # millimetre steps


def test_depth_only_folder_derives_normals_and_keeps_holes_out(tmp_path):
    root = _folder(tmp_path / "d", normals=False, sensor="kinect", sequences=("a",), frames=1, size=96)
    assert not os.path.isdir(os.path.join(root, "cloth", "normals"))
    sample = kp.data.TexlessDataset(root).load(0)
    truth = kp.data.render(3 * 1_000_003, 96, 96, None, MOVED, "physical")
    valid, mask = sample["valid"], sample["mask"]
    assert (mask & ~valid).any() and not (valid & ~mask).any()  # holes: in the silhouette, not known
    assert not sample["depth"][~valid].any() and not sample["normals"][~valid].any()
    errors = angular_error_deg(sample["normals"][valid], truth.normals[valid])
    assert np.median(errors) < 12.0  # derived from smoothed sensor depth, same convention (towards the camera)
    assert np.mean(mask != truth.mask) < 0.1


def test_smooth_depth_ignores_unknown_pixels():
    depth = np.full((9, 9), 2.0, "float32")
    known = np.ones((9, 9), bool)
    known[4, 4] = False
    depth[4, 4] = 0.0
    out = smooth_depth(depth, known, 1.5)
    np.testing.assert_allclose(out[known], 2.0, rtol=1e-6)
    assert out[4, 4] == 0


def test_masks_folder_is_the_silhouette(tmp_path):
    from PIL import Image

    root = _folder(tmp_path / "m", sequences=("a",), frames=1, size=32, world="standard")
    folder = os.path.join(root, "cloth", "masks", "a")
    os.makedirs(folder)
    square = np.zeros((32, 32), "uint8")
    square[8:24, 8:24] = 255
    Image.fromarray(square).save(os.path.join(folder, "mask_0000.png"))
    sample = kp.data.TexlessDataset(root).load(0)
    np.testing.assert_array_equal(sample["mask"], square > 0)
    assert not sample["valid"][square == 0].any()
    os.remove(os.path.join(folder, "mask_0000.png"))
    Image.fromarray(square).save(os.path.join(folder, "mask_0007.png"))
    with pytest.raises(kp.data.DataError, match="masks"):
        kp.data.TexlessDataset(root)


def test_split_frames_by_sequence_else_by_frame(tmp_path):
    several = kp.data.TexlessDataset(_folder(tmp_path / "s", sequences=("a", "b", "c"), frames=2, size=16))
    train, val = finetuning.split_frames(several)
    assert {r.sequence for r in train.records}.isdisjoint({r.sequence for r in val.records})
    one = kp.data.TexlessDataset(_folder(tmp_path / "o", sequences=("a",), frames=5, size=16))
    train, val = finetuning.split_frames(one)
    assert len(train) == 4 and len(val) == 1


def test_random_patches_are_reproducible_and_cover_foreground():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (40, 50, 3)).astype("float32")
    depth = np.zeros((40, 50, 1), "float32")
    normals = np.zeros((40, 50, 3), "float32")
    depth[10:30, 20:45], normals[10:30, 20:45, 2] = 0.1, -1.0
    data = kp.data.RandomPatches([(image, depth, normals)], 16, batch_size=6, steps=3, seed=1)
    x, y = data[0]
    assert x.shape == (6, 16, 16, 3) and y["depth"].shape == (6, 16, 16, 1) and y["normals"].shape == (6, 16, 16, 3)
    assert all((n[..., 2] != 0).mean() >= 0.1 for n in y["normals"])
    np.testing.assert_array_equal(x, data[0][0])
    data.on_epoch_end()
    assert not np.array_equal(x, data[0][0])  # a new crop every epoch


def test_finetune_resumes_after_a_stop(tmp_path, tiny_folder, monkeypatch):
    root = _folder(tmp_path / "d", sequences=("a", "b"), frames=2, size=32)
    run = str(tmp_path / "run")
    calls = {"n": 0}
    real = finetuning.plane_ratios

    def stop_after_first_epoch(model, dataset, light=None):
        calls["n"] += 1
        if calls["n"] == 3:  # before, epoch 1, then the stop during epoch 2's validation
            raise KeyboardInterrupt
        return real(model, dataset, light)

    monkeypatch.setattr(finetuning, "plane_ratios", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        finetuning.finetune(kp.models.unet(pretrained=tiny_folder), root, run, epochs=3, steps_per_epoch=1)
    assert os.path.isfile(os.path.join(run, "checkpoint", "optimizer.npz"))
    monkeypatch.setattr(finetuning, "plane_ratios", real)
    result = finetuning.finetune(kp.models.unet(pretrained=tiny_folder), root, run, epochs=3, steps_per_epoch=1)
    assert [row["epoch"] for row in result["curve"]] == [1, 2, 3]
    assert not os.path.exists(os.path.join(run, "checkpoint"))


def test_finetune_refuses_bad_budgets(tmp_path, tiny_folder):
    root = _folder(tmp_path / "d", sequences=("a",), frames=2, size=16, world="standard")
    model = kp.models.unet(pretrained=tiny_folder)
    with pytest.raises(ValueError, match="minutes"):
        finetuning.finetune(model, root, str(tmp_path / "r"), minutes=0)
    with pytest.raises(ValueError, match="epochs"):
        finetuning.finetune(model, root, str(tmp_path / "r"))
    with pytest.raises(ValueError, match="`decay` must be 'cosine' or 'none'"):
        finetuning.finetune(model, root, str(tmp_path / "r"), epochs=1, decay="linear")


def test_cosine_decay_falls_from_the_rate_to_five_percent_over_the_epochs(tmp_path, tiny_folder):
    root = _folder(tmp_path / "d", sequences=("a", "b"), frames=2, size=16, world="standard")
    model = kp.models.unet(pretrained=tiny_folder)
    result = finetuning.finetune(model, root, str(tmp_path / "r"), epochs=3, steps_per_epoch=1, lr=1e-3, decay="cosine")
    lrs = [row["lr"] for row in result["curve"]]
    np.testing.assert_allclose(lrs, [1e-3, 1e-3 * (0.05 + 0.95 * 0.75), 1e-3 * (0.05 + 0.95 * 0.25)], rtol=1e-3)


def test_finetune_command_writes_a_loadable_preset_without_optimizer_state(tmp_path, tiny_folder, capsys):
    from keras_patchnet.cli import main

    root = _folder(tmp_path / "d", normals=False, sensor="kinect", sequences=("a", "b"), frames=2, size=48)
    run = str(tmp_path / "run")
    assert main(["finetune", root, "--out", run, "--weights", tiny_folder, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("validation depth") == 2 and f"--weights {run}" in out
    assert sorted(os.listdir(run)) == [
        "README.md",
        "config.json",
        "curve.csv",
        "manifest.json",
        "metadata.json",
        "model.weights.h5",
    ]
    assert os.path.getsize(os.path.join(run, "model.weights.h5")) == pytest.approx(
        os.path.getsize(os.path.join(tiny_folder, "model.weights.h5")), rel=0.02
    )  # weights only: Adam's state would double it
    meta = json.load(open(os.path.join(run, "metadata.json")))
    assert set(meta["finetune"]) == {"before", "after", "best_epoch"}
    assert json.loads(meta["training"]["schedule"])["batch_norm"] == "frozen"  # the recipe, from a preset
    best = meta["finetune"]["best_epoch"]
    rows = list(csv.DictReader(open(os.path.join(run, "curve.csv"))))
    assert len(rows) == 2
    if best:  # the kept weights are the best epoch's: their validation figures are that row's
        assert float(rows[best - 1]["depth_ratio"]) == pytest.approx(meta["finetune"]["after"]["depth_ratio"], abs=2e-3)
    assert main(["predict", "--sample", "--weights", run, "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert main(["finetune", str(tmp_path / "nowhere"), "--out", run]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err
    assert main(["finetune", root, "--out", run, "--minutes", "0"]) == 1
    assert "--minutes" in capsys.readouterr().err


def test_finetune_command_picks_the_fastest_installed_backend():
    import importlib.util

    from keras_patchnet.cli._common import FASTEST_FIRST, default_backend

    installed = [b for b in FASTEST_FIRST if importlib.util.find_spec(b) is not None]
    assert default_backend() == installed[0]


def test_frozen_batch_norm_keeps_the_start_statistics(tmp_path, tiny_folder):
    root = _folder(tmp_path / "d", sequences=("a", "b"), frames=2, size=16, world="standard")
    model = kp.models.unet(pretrained=tiny_folder)
    stats = {w.path: np.array(w.numpy()) for w in model.patch_model.weights if "moving" in w.path or "_bn/" in w.path}
    assert stats
    finetuning.finetune(model, root, str(tmp_path / "r"), epochs=2, steps_per_epoch=2, lr=1e-2, batch_norm="frozen")
    for w in model.patch_model.weights:
        if w.path in stats:
            np.testing.assert_array_equal(np.asarray(w.numpy()), stats[w.path])
    with pytest.raises(ValueError, match="`batch_norm` must be 'train' or 'frozen'"):
        finetuning.finetune(model, root, str(tmp_path / "r2"), epochs=1, batch_norm="fixed")


def test_a_light_conditioned_model_fine_tunes_with_its_light(tmp_path, tiny_folder):
    from keras_patchnet.lighting import code_from_lights

    root = _folder(tmp_path / "d", sequences=("a", "b"), frames=2, size=16, world="standard")
    lit = kp.models.with_light_input(kp.models.unet(pretrained=tiny_folder))
    with pytest.raises(ValueError, match="light-conditioned"):
        finetuning.finetune(lit, root, str(tmp_path / "r"), epochs=1)
    code = code_from_lights([("directional", MOVED["direction"], 0.8)], 0.1)
    result = finetuning.finetune(lit, root, str(tmp_path / "r"), epochs=2, steps_per_epoch=1, light=code)
    assert len(result["curve"]) == 2 and np.isfinite(result["after"]["depth_ratio"])
    again = kp.models.unet(pretrained=str(tmp_path / "r"))
    assert again.light == "sh9"


def test_finetune_command_from_random_weights_lets_batch_norm_learn(tmp_path, monkeypatch):
    """A start from random weights has no statistics worth keeping: the command trains BatchNorm unless told."""
    from keras_patchnet import finetuning
    from keras_patchnet.cli import main

    root = _folder(tmp_path / "d", frames=2, size=32)
    seen = []
    monkeypatch.setattr(finetuning, "finetune", lambda *a, **k: seen.append(k["batch_norm"]) or {"ok": 1})
    for extra, expected in (([], "train"), (["--batch-norm", "frozen"], "frozen")):
        assert main(["finetune", root, "--out", str(tmp_path / "r"), "--weights", "none", "--epochs", "1", *extra]) == 0
        assert seen[-1] == expected
    assert main(["finetune", root, "--out", str(tmp_path / "r"), "--model", "baseline", "--epochs", "1"]) == 0
    assert seen[-1] is None  # from a preset: the schedule's (frozen)
