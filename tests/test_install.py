"""After a normal (non-editable) install, from another folder and offline, the default preset and
`keras-patchnet predict --sample` work: the default weights install with the package."""

import os
import shutil
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package built as a wheel and installed into a folder of its own (dependencies from this environment)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # a copy, so that the build leaves nothing in the checkout and no stale build/ is packed
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "dist", "runs", "out", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=ignore)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp / "dist").glob("keras_patchnet-*.whl"))
    target = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    outside = tmp / "elsewhere"
    outside.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp / "hf"),
        "KERAS_BACKEND": keras.backend.backend(),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return {"target": target, "cwd": outside, "env": env}


def run(installed, args):
    return subprocess.run(
        [sys.executable, *args], cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, timeout=600
    )


def test_pretrained_default_model_loads_from_the_installed_package(installed):
    code = (
        "import keras_patchnet as kp, numpy as np\n"
        f"assert kp.__file__.startswith({str(installed['target'])!r}), kp.__file__\n"
        "model = kp.models.unet(pretrained=True)\n"
        "image, mask = kp.data.load_sample()\n"
        "out = model.predict_on_batch({'images': image[None], 'mask': mask[None, ..., None]})\n"
        "print('finite', bool(np.isfinite(out['depth']).all()))\n"
    )
    done = run(installed, ["-c", code])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "finite True" in done.stdout


def test_predict_sample_runs_from_the_installed_package(installed):
    done = run(installed, ["-m", "keras_patchnet", "predict", "--sample", "--out", "out", "--no-figure"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.isfile(os.path.join(installed["cwd"], "out", "cloth_depth.npy"))


def test_a_preset_neither_installed_nor_published_says_so_in_one_line(installed):
    code = "import keras_patchnet as kp\nkp.models.baseline(pretrained=True)\n"
    done = run(installed, ["-c", code])
    assert done.returncode != 0
    assert "neither installed with the package nor published on the Hub yet" in done.stderr.strip().splitlines()[-1]


def test_the_wheel_carries_its_licence_and_a_short_description(installed):
    import glob
    import zipfile

    wheel = glob.glob(os.path.join(os.path.dirname(installed["target"]), "dist", "keras_patchnet-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        licence = [n for n in names if n.endswith("LICENSE") and ".dist-info/" in n]
        assert licence and "Apache License" in z.read(licence[0]).decode()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    head, _, description = metadata.partition("\n\n")
    assert "License-Expression: Apache-2.0" in head and "Project-URL:" in head and "Author" in head
    assert "Classifier:" in head and "Requires-Dist: Pillow" in head
    assert "pip install" in description and len(description.splitlines()) < 80  # the short description, not the README
    assert any(n.endswith("weights/unet.synthetic-calibrated/manifest.json") for n in names)
