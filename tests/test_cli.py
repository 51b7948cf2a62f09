"""The `keras-patchnet` CLI, called in-process (`cli.main(argv)`), on tiny models and images."""

import csv
import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

from keras_patchnet import cli, geometry
from keras_patchnet.data import render, write_synthetic
from tests.hub_server import FakeHub


@pytest.fixture
def image_file(tmp_path):
    sample = render(5, 40, 48, kind="cloth")
    path = str(tmp_path / "sheet.png")
    Image.fromarray(sample.image).save(path)
    Image.fromarray((sample.mask * 255).astype("uint8")).save(tmp_path / "sheet_mask.png")
    return path, sample


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_writes_every_output_and_says_where(tiny_folder, image_file, tmp_path, capsys):
    path, sample = image_file
    out_dir = str(tmp_path / "out")
    mask = path.replace(".png", "_mask.png")
    code, out, err = run(
        [
            "predict",
            path,
            "--weights",
            tiny_folder,
            "--mask",
            mask,
            "--out",
            out_dir,
            "--intrinsics",
            "60,60,23.5,19.5",
            "--distance",
            "1.5",
        ],
        capsys,
    )
    assert code == 0, err
    names = sorted(os.listdir(out_dir))
    assert names == [
        "predict.json",
        "sheet.ply",
        "sheet_depth.npy",
        "sheet_depth.png",
        "sheet_figure.png",
        "sheet_normals.npy",
        "sheet_normals.png",
    ]
    assert os.path.abspath(out_dir) in out
    depth, normals = (
        np.load(os.path.join(out_dir, "sheet_depth.npy")),
        np.load(os.path.join(out_dir, "sheet_normals.npy")),
    )
    assert depth.shape == (40, 48) and normals.shape == (40, 48, 3)
    m = sample.mask
    assert abs(depth[m].mean()) < 1e-6 and np.all(depth[~m] == 0)  # relative depth on the foreground only
    assert depth.dtype == np.float32 and normals.dtype == np.float16  # normals stored compactly
    length = np.linalg.norm(normals.astype("float32"), axis=-1)
    assert np.all((np.abs(length[m] - 1) < 2e-3) | (length[m] == 0)) and np.all(length[~m] == 0)
    cloud = geometry.read_ply(os.path.join(out_dir, "sheet.ply"))
    assert len(cloud["points"]) == m.sum()
    np.testing.assert_allclose(cloud["points"][:, 2], depth[m] + 1.5, atol=1e-5)  # --distance sets the mean depth
    v, u = np.nonzero(m)
    np.testing.assert_allclose(cloud["points"][:, 0], (u - 23.5) / 60 * cloud["points"][:, 2], atol=1e-5)
    np.testing.assert_array_equal(cloud["colors"], sample.image[m])
    assert np.asarray(Image.open(os.path.join(out_dir, "sheet_depth.png"))).shape == (40, 48, 3)


def test_predict_on_a_folder_and_the_shipped_sample(tiny_folder, image_file, tmp_path, capsys):
    path, _ = image_file
    out_dir = str(tmp_path / "out")
    code, out, err = run(
        ["predict", os.path.dirname(path), "--sample", "--weights", tiny_folder, "--out", out_dir, "--no-figure"],
        capsys,
    )
    assert code == 0, err
    names = set(os.listdir(out_dir))
    # the folder holds sheet.png and sheet_mask.png: both are images; the sample adds cloth.*
    assert {"sheet.ply", "sheet_mask.ply", "cloth.ply", "cloth_depth.png"} <= names
    assert np.load(os.path.join(out_dir, "cloth_depth.npy")).shape == (112, 112)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "missing.png"], "No such file or folder: missing.png"),
        (["predict"], "Nothing to predict"),
        (["predict", "{bad}"], "Cannot read image file"),
        (["predict", "{image}", "--mask", "{small_mask}"], "is 8x8 but image"),
        (["predict", "{image}", "--threshold", "255"], "empty foreground"),
        (["predict", "{image}", "--intrinsics", "1,2,3"], "--intrinsics must be"),
        (["predict", "{image}", "--weights", "{empty_dir}"], "has no model.weights.h5"),
        (["predict", "{image}", "--weights", "unet.nonexistent"], "Unknown pretrained weights"),
        (["evaluate", "missing_dir"], "Dataset folder not found"),
        (["train", "--data", "missing_dir"], "--data must be"),
        (["train", "--world", "standard,moon", "--out", "{empty_dir}/w"], "`world` must be one of"),
        (["push", "{empty_dir}", "user/repo"], "has no config.json"),
        (["finetune", "{empty_dir}", "--out", "{empty_dir}/r", "--renders", "-1"], "--renders must be >= 0"),
    ],
)
def test_errors_are_one_line_with_status_1(argv, message, image_file, tmp_path, capsys):
    path, _ = image_file
    (tmp_path / "bad.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "small_mask.png")
    (tmp_path / "empty").mkdir()
    fill = {
        "bad": str(tmp_path / "bad.png"),
        "image": path,
        "small_mask": str(tmp_path / "small_mask.png"),
        "empty_dir": str(tmp_path / "empty"),
    }
    code, out, err = run([a.format(**fill) for a in argv], capsys)
    assert code == 1
    assert err.startswith("keras-patchnet: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["predict", "--model", "resnet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-patchnet predict: error: argument --model: invalid choice: 'resnet'")
    assert err.count("\n") == 1


def test_evaluate_writes_table_csv_and_heat_maps(tiny_folder, tmp_path, capsys):
    root = write_synthetic(str(tmp_path / "data"), {"cloth": ["Lc_a", "Ll_b"]}, frames=2, size=40)
    out_dir = str(tmp_path / "eval")
    code, out, err = run(["evaluate", root, "--weights", tiny_folder, "--out", out_dir, "--figures", "2"], capsys)
    assert code == 0, err
    assert "| depth_mae_mm |" in out and "| mean_angle_deg |" in out
    rows = list(csv.DictReader(open(os.path.join(out_dir, "per_image.csv"))))
    assert len(rows) == 4 and rows[0]["image"] == os.path.join("cloth", "images", "Lc_a", "rgb_0000.tiff")
    metrics = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert metrics["num_images"] == 4
    mean_mae = np.mean([float(r["depth_mae_mm"]) for r in rows])
    assert metrics["model"]["depth_mae_mm"]["mean"] == pytest.approx(mean_mae, abs=1e-3)
    assert sorted(os.listdir(os.path.join(out_dir, "figures"))) == ["errors_0000.png", "errors_0001.png"]


def test_train_then_push_round_trip(tmp_path, capsys):
    out_dir = str(tmp_path / "run")
    options = "--epochs 1 --steps 2 --batch-size 1 --image-size 40 --patch-size 32 --width 2 --val-images 1"
    code, out, err = run(
        [
            "train",
            "--model",
            "baseline",
            "--out",
            out_dir,
            *options.split(),
            *"--test-images 2 --min-overlap 8 --scales 1,1.5 --curve-sizes 40,48".split(),
        ],
        capsys,
    )
    assert code == 0, err
    assert {"model.weights.h5", "config.json", "metrics.json", "log.csv", "curve.csv"} <= set(os.listdir(out_dir))
    (row,) = csv.DictReader(open(os.path.join(out_dir, "curve.csv")))  # the learning curve: one row an epoch
    assert float(row["depth_ratio_48"]) > 0 and float(row["angle_ratio_48"]) > 0  # and one more validation size
    assert float(row["depth_ratio"]) == pytest.approx(float(row["depth_mm"]) / float(row["flat_depth_mm"]), abs=2e-3)
    metrics = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert metrics["num_images"] == 2 and "depth_mae_mm" in metrics["flat_plane"]
    server = FakeHub()
    try:
        code, out, err = run(["push", out_dir, "me/tiny", "--endpoint", server.endpoint, "--token", "t"], capsys)
        assert code == 0, err
        assert "Pushed" in out and "me/tiny" in out
        repo = server.repos["me/tiny"]
        files = repo["commits"][repo["main"]]
        assert {"config.json", "model.weights.h5", "metadata.json", "README.md"} <= set(files)
        assert b"flat plane" in files["README.md"]
    finally:
        server.close()


def test_train_on_a_mixture_of_worlds_reads_srgb_and_validates_each_world_and_lighting(tmp_path, capsys):
    argv = [
        *"train --model baseline --out".split(),
        str(tmp_path),
        *"--epochs 1 --steps 2 --batch-size 2 --image-size 40 --patch-size 32 --width 2 --val-images 1".split(),
        *"--test-images 1 --world standard,physical --lighting fixed,rig".split(),
    ]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert json.load(open(tmp_path / "config.json"))["input_encoding"] == "srgb"  # every render through the curve
    (row,) = csv.DictReader(open(tmp_path / "curve.csv"))
    for label in ("standard_rig", "physical_fixed", "physical_rig"):
        assert float(row[f"depth_ratio_{label}"]) > 0
    held_out = json.load(open(tmp_path / "metrics.json"))["lightings"]
    assert sorted(held_out) == ["physical_fixed", "physical_rig", "standard_fixed", "standard_rig"]


def test_train_stopped_by_the_time_budget_resumes_where_it_stopped(tmp_path, capsys):
    argv = [
        *"train --model baseline --out".split(),
        str(tmp_path),
        *"--epochs 2 --steps 1 --batch-size 1 --image-size 40 --patch-size 32 --width 2".split(),
        *"--val-images 1 --test-images 1 --time-budget 0.0001 --dtype-policy mixed_bfloat16".split(),
    ]
    assert run(argv, capsys)[0] == 0  # stops after epoch 1 of 2
    assert [r["epoch"] for r in csv.DictReader(open(tmp_path / "log.csv"))] == ["0"]
    assert run(argv, capsys)[0] == 0  # the same command goes on with epoch 2
    assert [r["epoch"] for r in csv.DictReader(open(tmp_path / "log.csv"))] == ["0", "1"]
    # trained under mixed_bfloat16: the policy is restored afterwards and the weights are saved in float32
    assert keras.config.dtype_policy().name == "float32"
    with h5py.File(tmp_path / "model.weights.h5") as f:
        kinds = set()
        f.visititems(lambda name, item: kinds.add(str(item.dtype)) if isinstance(item, h5py.Dataset) else None)
    assert {kind for kind in kinds if "float" in kind} == {"float32"}  # (and the seed generators' int64 state)


def test_train_on_a_dataset_folder(tmp_path, capsys):
    root = write_synthetic(str(tmp_path / "data"), {"cloth": ["Lc_a", "Ll_b"]}, frames=2, size=40)
    out_dir = str(tmp_path / "run")
    code, out, err = run(
        [
            "train",
            "--data",
            root,
            "--model",
            "baseline",
            "--out",
            out_dir,
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--patch-size",
            "32",
            "--width",
            "2",
            "--min-overlap",
            "8",
        ],
        capsys,
    )
    assert code == 0, err
    metrics = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert metrics["num_images"] == 2 and metrics["recipe"]["data"] == root  # the held-out sequence's 2 frames


def test_bench_reports_images_per_second(tmp_path, capsys):
    code, out, err = run(
        ["bench", "--model", "baseline", "--size", "64", "--batch-size", "2", "--repeats", "1", "--weights", "none"],
        capsys,
    )
    assert code == 0, err
    assert "images/s" in out and keras.backend.backend() in out


def test_backend_option_in_a_fresh_process_and_no_keras_for_errors(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "not-a-backend"}
    code = (
        "import sys; from keras_patchnet import cli; rc = cli.main(sys.argv[1:]); "
        "print('keras' in sys.modules); raise SystemExit(rc)"
    )
    r = subprocess.run([sys.executable, "-c", code, "predict", "missing.png"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.strip() == "False"  # errors before any Keras import
    backend = keras.backend.backend()
    code = (
        "import sys; from keras_patchnet import cli; cli.main(sys.argv[1:]); import keras; "
        "print(keras.backend.backend())"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "bench",
            "--backend",
            backend,
            "--model",
            "baseline",
            "--size",
            "32",
            "--batch-size",
            "1",
            "--repeats",
            "1",
            "--weights",
            "none",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == backend


def _png16(path, rgb16):
    """A 16-bit RGB PNG written by hand (Pillow writes 16 bits only for grey)."""
    import struct
    import zlib

    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
        )


def test_8_and_16_bit_files_of_one_picture_give_the_same_maps(tiny_folder, image_file, tmp_path, capsys):
    path, sample = image_file
    grey8 = sample.image.max(axis=-1)
    files = {
        "rgb8.png": sample.image,
        "grey8.png": grey8,
        "grey16.png": grey8.astype("uint16") * 257,
        "grey16.tif": grey8.astype("uint16") * 257,
    }
    for name, array in files.items():
        Image.fromarray(array).save(tmp_path / name)
    _png16(str(tmp_path / "rgb16.png"), sample.image.astype("uint16") * 257 + 100 * (sample.image < 155))
    mask = path.replace(".png", "_mask.png")
    maps = {}
    for name in list(files) + ["rgb16.png"]:
        out = str(tmp_path / ("out_" + name.replace(".", "_")))
        code, _, err = run(
            ["predict", str(tmp_path / name), "--weights", tiny_folder, "--mask", mask, "--out", out, "--no-figure"],
            capsys,
        )
        assert code == 0, err
        maps[name] = np.load(os.path.join(out, name.split(".")[0] + "_depth.npy"))
    assert np.abs(maps["grey16.png"]).max() > 0
    np.testing.assert_allclose(maps["grey16.png"], maps["grey8.png"], atol=1e-5)
    np.testing.assert_allclose(maps["grey16.tif"], maps["grey8.png"], atol=1e-5)
    np.testing.assert_allclose(maps["rgb16.png"], maps["rgb8.png"], atol=1e-5)  # Pillow keeps its high 8 bits


def test_masks_are_any_non_zero_pixel_and_an_empty_one_is_named(tiny_folder, image_file, tmp_path, capsys):
    path, sample = image_file
    Image.fromarray(sample.mask.astype("uint8")).save(tmp_path / "mask01.png")
    results = []
    for mask in (path.replace(".png", "_mask.png"), str(tmp_path / "mask01.png")):
        out = str(tmp_path / ("out" + str(len(results))))
        code, _, err = run(
            ["predict", path, "--weights", tiny_folder, "--mask", mask, "--out", out, "--no-figure"], capsys
        )
        assert code == 0, err
        results.append(np.load(os.path.join(out, "sheet_depth.npy")))
    np.testing.assert_array_equal(results[0], results[1])
    Image.fromarray(np.zeros(sample.mask.shape, "uint8")).save(tmp_path / "empty_mask.png")
    code, _, err = run(["predict", path, "--weights", tiny_folder, "--mask", str(tmp_path / "empty_mask.png")], capsys)
    assert code == 1 and "empty_mask.png is empty" in err and err.count("\n") == 1


def test_progress_is_plain_text_when_piped(tiny_folder, image_file, tmp_path):
    path, _ = image_file
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_patchnet",
            "predict",
            path,
            "--weights",
            tiny_folder,
            "--out",
            str(tmp_path / "out"),
            "--no-figure",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "image 1/1" in done.stdout and "\x1b[" not in done.stdout and "\b" not in done.stdout


def test_predict_shows_users_warnings_but_not_libraries_deprecation_notices():
    import warnings

    from keras_patchnet.cli.predict import _for_users

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("__array__ implementation doesn't accept a copy keyword", DeprecationWarning, stacklevel=1)
        warnings.warn("the image has no shading", UserWarning, stacklevel=1)
    assert [str(w.message) for w in _for_users(caught)] == ["the image has no shading"]
