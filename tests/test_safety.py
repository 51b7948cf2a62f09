"""Nothing lost, nothing silently wrong: corrupt weights, clashing output names, failed writes, EXIF orientation,
camera values, masks, strips, images without shading, bad repository ids, exact angles and list inputs. Each case
ends in a correct result or one line naming the input, and no partial file."""

import csv
import math
import os
import shutil

import keras
import numpy as np
import pytest
from PIL import Image

from keras_patchnet import cli, hub, metrics, models
from keras_patchnet.data import read_image, read_mask, render
from tests.helpers import TINY


def _flip_a_byte(path, offset=None):
    with open(path, "r+b") as f:
        size = f.seek(0, 2)
        f.seek(size // 2 if offset is None else offset)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))


def _no_temporary_files(folder):
    left = [n for _, _, names in os.walk(folder) for n in names if n.startswith(".tmp-")]
    assert left == [], left


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_corrupt_weights_file_in_a_folder_is_named_and_refused(tiny_folder, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_folder, folder)
    assert "model.weights.h5" in hub.json.load(open(os.path.join(folder, hub.MANIFEST_FILE)))["sha256"]
    models.unet(pretrained=folder)  # intact: loads without a word
    _flip_a_byte(os.path.join(folder, "model.weights.h5"))
    with pytest.raises(hub.WeightsError, match=r"model\.weights\.h5 is corrupt .*copy the folder again"):
        models.unet(pretrained=folder)
    os.remove(os.path.join(folder, hub.MANIFEST_FILE))  # no manifest: loads, with a warning that says so
    with pytest.warns(UserWarning, match="cannot be verified"):
        hub.resolve_weights("unet", folder)


def test_a_corrupt_installed_preset_says_corrupt_and_how_to_restore_it(tmp_path, monkeypatch):
    name = "unet.synthetic-calibrated"
    copy = tmp_path / "weights"
    shutil.copytree(os.path.join(hub.PACKAGED_WEIGHTS, name), copy / name)
    _flip_a_byte(str(copy / name / "model.weights.h5"))
    monkeypatch.setattr(hub, "PACKAGED_WEIGHTS", str(copy))
    with pytest.raises(hub.WeightsError, match="is corrupt.*pip install --force-reinstall"):
        hub.local_preset_folder(name)


def test_inputs_with_the_same_stem_get_outputs_of_their_own(tiny_folder, tmp_path, capsys):
    sample = render(1, 40, 48, kind="cloth")
    for sub, ext in (("a", "png"), ("a", "jpg"), ("b", "png")):
        os.makedirs(tmp_path / sub, exist_ok=True)
        Image.fromarray(sample.image).save(tmp_path / sub / f"img.{ext}")
    out = str(tmp_path / "out")
    paths = [str(tmp_path / "a" / "img.png"), str(tmp_path / "a" / "img.jpg"), str(tmp_path / "b" / "img.png")]
    code, printed, err = run(["predict", *paths, "--weights", tiny_folder, "--out", out, "--outputs", "depth"], capsys)
    assert code == 0, err
    names = sorted(n for n in os.listdir(out) if n.endswith("_depth.npy"))
    assert names == ["img-2_depth.npy", "img-3_depth.npy", "img_depth.npy"]
    assert "Wrote 6 files" in printed  # what it says is what exists
    record = hub.json.load(open(os.path.join(out, "predict.json")))
    assert [r["outputs"][0] for r in record["images"]] == ["img_depth.npy", "img-2_depth.npy", "img-3_depth.npy"]


def test_a_failing_write_leaves_no_partial_file_and_the_run_goes_on(tiny_folder, tmp_path, capsys, monkeypatch):
    sample = render(2, 40, 48, kind="cloth")
    for name in ("first", "second", "third"):
        Image.fromarray(sample.image).save(tmp_path / f"{name}.png")
    import keras_patchnet.geometry as geometry

    original = geometry.write_ply

    def full_disk(path, *args, **kwargs):
        if "second" in os.path.basename(path):
            with open(path, "wb") as f:
                f.write(b"ply\n")  # a partial file, then the disk is full
            raise OSError(28, "No space left on device")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(geometry, "write_ply", full_disk)
    out = str(tmp_path / "out")
    paths = [str(tmp_path / f"{n}.png") for n in ("first", "second", "third")]
    argv = ["predict", *paths, "--weights", tiny_folder, "--out", out, "--outputs", "depth,normals,ply"]
    code, printed, err = run(argv, capsys)
    assert code == 1
    assert "second.png: OSError" in printed and "1 of 3 image(s) failed" in err and len(err.splitlines()) == 1
    names = sorted(os.listdir(out))
    assert not any(n.startswith("second") for n in names)  # all of it or nothing
    for stem in ("first", "third"):
        assert {f"{stem}_depth.npy", f"{stem}_normals.npy", f"{stem}.ply"} <= set(names)
    _no_temporary_files(out)


def test_an_output_folder_that_cannot_be_written_is_refused_before_the_model_loads(tiny_folder, tmp_path, capsys):
    sample = render(2, 40, 48, kind="cloth")
    Image.fromarray(sample.image).save(tmp_path / "img.png")
    (tmp_path / "file").write_text("x")
    code, _, err = run(["predict", str(tmp_path / "img.png"), "--out", str(tmp_path / "file" / "out")], capsys)
    assert code == 1 and "--out" in err and "cannot write there" in err and len(err.splitlines()) == 1


def test_exif_orientation_is_applied_to_images_and_masks(tmp_path):
    image = np.zeros((20, 30, 3), "uint8")
    image[:5, :] = 255  # the top rows of the stored image
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: displayed after a 90-degree clockwise turn
    Image.fromarray(image).save(tmp_path / "photo.jpg", exif=exif, quality=100)
    shown = read_image(str(tmp_path / "photo.jpg"))
    assert shown.shape == (30, 20, 3)  # the displayed orientation
    assert shown[:, -5:].mean() > 200 and shown[:, :5].mean() < 50  # the stored top is now on the right
    mask = np.zeros((20, 30), "uint8")
    mask[:5] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png", exif=exif)
    assert read_mask(str(tmp_path / "mask.png")).shape == (30, 20)


@pytest.mark.parametrize(
    "option, message",
    [
        (["--intrinsics", "0,0,56,56"], "positive focal lengths"),
        (["--intrinsics", "K.txt"], "must be finite"),
        (["--distance", "0"], "--distance must be a finite number of metres > 0"),
        (["--distance", "-1"], "--distance must be a finite number"),
        (["--distance", "nan"], "--distance must be a finite number"),
    ],
)
def test_camera_values_are_checked_before_anything_runs(option, message, tmp_path, capsys, monkeypatch):
    sample = render(2, 40, 48, kind="cloth")
    Image.fromarray(sample.image).save(tmp_path / "img.png")
    np.savetxt(tmp_path / "K.txt", [[60, 0, 24], [0, float("nan"), 20], [0, 0, 1]])
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "out")
    code, _, err = run(["predict", "img.png", "--out", out, *option], capsys)
    assert code == 1 and message in err and len(err.splitlines()) == 1
    assert not os.path.exists(out)  # refused before the output folder or the model


def test_masks_are_read_as_documented(tmp_path):
    truth = np.zeros((32, 40), bool)
    truth[8:24, 10:30] = True
    Image.fromarray((truth * 255).astype("uint8")).save(tmp_path / "mask.jpg", quality=60)
    with pytest.warns(UserWarning, match="JPEG"):
        mask = read_mask(str(tmp_path / "mask.jpg"))
    assert (mask != truth).mean() < 0.01  # ringing thresholded away (any non-zero pixel would add far more)
    cutout = np.full((32, 40, 4), 255, "uint8")
    cutout[..., 3] = truth * 255
    Image.fromarray(cutout, "RGBA").save(tmp_path / "cutout.png")
    np.testing.assert_array_equal(read_mask(str(tmp_path / "cutout.png")), truth)  # the alpha is the mask
    Image.fromarray((truth * 255).astype("uint8")).save(tmp_path / "plain.png")
    np.testing.assert_array_equal(read_mask(str(tmp_path / "plain.png")), truth)


def test_a_strip_keeps_its_size_instead_of_growing(tmp_path):
    model = models.build_from_config({**TINY, "working_width": 112})
    assert model._working_size((224, 224)) == (112, 112)  # an ordinary image still goes to the working width
    assert model._working_size((4096, 8)) == (4096, 8)  # 14x wider would be 57344 pixels tall: kept as it is
    assert model._working_size((60, 40)) == (168, 112)  # growing within the bound is allowed
    out = model.predict_on_batch(
        np.full((1, 96, 8, 3), 128, "uint8") + np.arange(8, dtype="uint8")[None, None, :, None]
    )
    assert out["depth"].shape == (1, 96, 8, 1) and np.isfinite(out["depth"]).all()


def test_images_without_shading_are_named_in_a_warning():
    model = models.build_from_config(TINY)
    good = render(3, 40, 40, kind="cloth").image
    batch = np.stack([good, np.zeros_like(good), np.full_like(good, 255)])
    with pytest.warns(UserWarning, match=r"image\(s\) \[1, 2\] of the batch have no usable shading"):
        model.predict_on_batch(batch)


def test_a_list_of_images_is_a_batch():
    model = models.build_from_config(TINY)
    image = render(3, 40, 40, kind="cloth").image
    out = model.predict_on_batch([image, image])
    ref = model.predict_on_batch(np.stack([image, image]))
    np.testing.assert_allclose(out["depth"], ref["depth"], atol=1e-6)
    with pytest.raises(ValueError, match="arrays of one shape"):
        model.predict_on_batch([image, image[:20]])


def test_exact_angles_at_zero_and_180_degrees():
    n = np.zeros((1, 4, 4, 3), "float32")
    n[..., 2] = -1.0
    metric = metrics.MeanAngularError()
    metric.update_state(n, n)
    assert float(metric.result()) == 0.0
    metric = metrics.MeanAngularError()
    metric.update_state(n, -n)
    assert float(metric.result()) == pytest.approx(180.0, abs=1e-4)
    values, _ = metrics.angular_errors_deg(n, np.zeros_like(n))  # no direction predicted: 90, not a perfect 0
    assert np.allclose(keras.ops.convert_to_numpy(values), 90.0)
    assert metrics.evaluate_maps(n[..., :1] * 0 + 1, n[..., :1] * 0 + 1, n, -n)["mean"]["mean_angle_deg"] == 180.0


@pytest.mark.parametrize("repo_id", ["me/../x", "me/with space", "noslash"])
def test_push_refuses_a_bad_repository_id_before_loading_anything(repo_id, tiny_folder, capsys, monkeypatch):
    monkeypatch.setattr(models, "create_model", lambda *a, **k: pytest.fail("the model was loaded"))
    code, _, err = run(["push", tiny_folder, repo_id], capsys)
    assert code == 1 and "repo_id" in err and len(err.splitlines()) == 1


def test_push_to_an_endpoint_that_is_down_is_one_line(tiny_folder, capsys):
    code, _, err = run(["push", tiny_folder, "me/tiny", "--endpoint", "http://127.0.0.1:9", "--token", "x"], capsys)
    assert code == 1 and "push to http://127.0.0.1:9 failed" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the train command's resume: one backend suffices")
def test_training_interrupted_at_every_callback_boundary_logs_each_epoch_once(tmp_path, capsys, monkeypatch):
    """Ctrl-C at each boundary of an epoch's end (before any row, after log.csv's, after curve.csv's, after the
    backup), and a kill that cuts a row short, then the same command: every epoch's row exactly once."""
    from keras_patchnet import training

    argv = [
        *"train --model baseline --out".split(),
        str(tmp_path),
        *"--epochs 5 --steps 1 --batch-size 1 --image-size 40 --patch-size 32 --width 2".split(),
        *"--val-images 1 --test-images 1 --curve-images 1 --bn-batches 0".split(),
    ]
    plan = {}  # epoch (0-based) -> where to stop

    def stopper(where, inner_end):
        def on_epoch_end(self, epoch, logs=None):
            if inner_end is not None:
                inner_end(self, epoch, logs)
            if plan.get(epoch) == where:
                plan.pop(epoch)
                raise KeyboardInterrupt

        return on_epoch_end

    resume, curve = training.resume_logs, training.validation_curve

    def resume_then_stop(*args, **kwargs):
        cb = resume(*args, **kwargs)
        type(cb).on_epoch_end = stopper("before rows", None)
        return cb

    def curve_then_stop(*args, **kwargs):
        cb = curve(*args, **kwargs)
        type(cb).on_epoch_end = stopper("after curve", type(cb).on_epoch_end)
        return cb

    monkeypatch.setattr(training, "resume_logs", resume_then_stop)
    monkeypatch.setattr(training, "validation_curve", curve_then_stop)
    monkeypatch.setattr(
        keras.callbacks.CSVLogger, "on_epoch_end", stopper("after log", keras.callbacks.CSVLogger.on_epoch_end)
    )
    monkeypatch.setattr(
        keras.callbacks.BackupAndRestore,
        "on_epoch_end",
        stopper("after backup", keras.callbacks.BackupAndRestore.on_epoch_end),
    )
    plan.update({0: "before rows", 1: "after log", 2: "after curve", 3: "after backup"})
    for _ in range(4):
        assert run(argv, capsys)[0] == 130
    with open(tmp_path / "log.csv", "a") as f:
        f.write("4,0.5")  # a kill in the middle of a row
    assert run(argv, capsys)[0] == 0
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(tmp_path / "log.csv"))]
    assert epochs == [0, 1, 2, 3, 4]
    rows = list(csv.DictReader(open(tmp_path / "curve.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5] and all(math.isfinite(float(r["loss"])) for r in rows)
    assert plan == {}


def test_without_matplotlib_predict_writes_every_other_output_and_says_how_to_get_figures(
    tiny_folder, tmp_path, capsys, monkeypatch
):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    sample = render(2, 40, 48, kind="cloth")
    Image.fromarray(sample.image).save(tmp_path / "img.png")
    out = str(tmp_path / "out")
    code, printed, err = run(["predict", str(tmp_path / "img.png"), "--weights", tiny_folder, "--out", out], capsys)
    assert code == 0, err
    assert 'figures skipped (matplotlib is not installed): pip install "keras-patchnet[viz]"' in printed
    assert sorted(os.listdir(out)) == sorted(
        ["img.ply", "img_depth.npy", "img_depth.png", "img_normals.npy", "img_normals.png", "predict.json"]
    )
