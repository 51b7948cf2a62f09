"""A property-based suite of `keras-patchnet predict` (hypothesis, in-process, tiny model and images): random
combinations of image formats and sizes, masks, camera values and output options either succeed with every
promised file present and readable, or fail with one line on stderr and leave no partial file."""

import json
import os
import shutil
import tempfile

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from keras_patchnet import cli, geometry
from keras_patchnet.io import OUTPUTS

FORMATS = ("png", "jpg", "tif", "bmp")
MODES = ("RGB", "L", "RGBA", "I;16")


def _save_image(path, fmt, mode, height, width, rng):
    grey = rng.integers(30, 220, (height, width)).astype("uint8")
    if mode == "I;16":
        Image.fromarray(grey.astype("uint16") * 257).save(path)  # PNG and TIFF keep 16 bits
    elif mode == "L":
        Image.fromarray(grey).save(path)
    else:
        rgb = np.repeat(grey[..., None], 3, -1)
        if mode == "RGBA" and fmt in ("png", "tif"):
            rgb = np.concatenate([rgb, np.full((height, width, 1), 255, "uint8")], -1)
        Image.fromarray(rgb).save(path)


cases = st.fixed_dictionaries(
    {
        "fmt": st.sampled_from(FORMATS),
        "mode": st.sampled_from(MODES),
        "height": st.integers(1, 48),
        "width": st.integers(1, 48),
        "images": st.integers(1, 2),
        "mask": st.sampled_from(["none", "png", "jpg", "alpha"]),
        "intrinsics": st.sampled_from(["default", "valid"]),
        "distance": st.sampled_from([1.2, 0.5]),
        # at most one defect a case, none in about half of them, so that both outcomes are exercised
        "defect": st.sampled_from(
            [None] * 7
            + ["mask wrong size", "mask empty", "zero focal", "nan file", "garbage"]
            + ["distance 0", "distance -1", "distance nan", "distance inf"]
        ),
        "outputs": st.lists(st.sampled_from(list(OUTPUTS)), min_size=0, max_size=4),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
def test_predict_succeeds_whole_or_fails_in_one_line(case, tiny_folder, capsys):
    if case["mode"] == "I;16" and case["fmt"] in ("jpg", "bmp"):
        case["mode"] = "L"  # formats without 16-bit grey
    defect = case["defect"] or ""
    if defect.startswith("mask"):
        case["mask"] = defect[5:]
    elif defect.startswith("distance"):
        case["distance"] = float(defect.split()[1])
    elif defect:
        case["intrinsics"] = defect
    rng = np.random.default_rng(case["seed"])
    work = tempfile.mkdtemp()
    try:
        h, w = case["height"], case["width"]
        paths = []
        for i in range(case["images"]):
            path = os.path.join(work, f"img{i}.{case['fmt']}")
            _save_image(path, case["fmt"], case["mode"], h, w, rng)
            paths.append(path)
        argv = ["predict", *paths, "--weights", tiny_folder, "--out", os.path.join(work, "out")]
        if case["mask"] != "none":
            mh, mw = (h + 1, w) if case["mask"] == "wrong size" else (h, w)
            values = np.zeros((mh, mw), "uint8") if case["mask"] == "empty" else np.full((mh, mw), 255, "uint8")
            mask_path = os.path.join(work, "mask." + ("jpg" if case["mask"] == "jpg" else "png"))
            if case["mask"] == "alpha":
                Image.fromarray(np.dstack([np.full((h, w, 3), 255, "uint8"), values]), "RGBA").save(mask_path)
            else:
                Image.fromarray(values).save(mask_path)
            argv += ["--mask", mask_path]
        if case["intrinsics"] != "default":
            spec = {"valid": "30,30,10,10", "zero focal": "0,30,10,10", "garbage": "a,b"}.get(case["intrinsics"])
            if spec is None:
                spec = os.path.join(work, "K.txt")
                np.savetxt(spec, [[30, 0, 10], [0, np.nan, 10], [0, 0, 1]])
            argv += ["--intrinsics", spec]
        argv += ["--distance", str(case["distance"])]
        if case["outputs"]:
            argv += ["--outputs", ",".join(case["outputs"])]
        code = cli.main(argv)
        out, err = capsys.readouterr()
        event(f"exit {code}")
        out_dir = os.path.join(work, "out")
        leftovers = [
            n for _, _, names in os.walk(work) for n in names if n.startswith(".tmp-") or ".keras-patchnet" in n
        ]
        assert leftovers == []
        if code != 0:
            assert defect, (case, err)  # a valid case never fails
            assert code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("keras-patchnet: error:"), err
            produced = os.listdir(out_dir) if os.path.isdir(out_dir) else []
            assert produced == [], produced  # every failure here is found before anything is written
            return
        assert not defect, (case, out)  # a defect never passes
        chosen = [o for o in OUTPUTS if o in (case["outputs"] or OUTPUTS)]
        for i in range(case["images"]):
            stem = os.path.join(out_dir, f"img{i}")
            if "depth" in chosen:
                assert np.load(stem + "_depth.npy").shape == (h, w)
                assert np.asarray(Image.open(stem + "_depth.png")).shape == (h, w, 3)
            if "normals" in chosen:
                normals = np.load(stem + "_normals.npy")
                assert normals.shape == (h, w, 3) and np.isfinite(normals).all()
                assert np.asarray(Image.open(stem + "_normals.png")).shape == (h, w, 3)
            if "ply" in chosen:
                assert np.isfinite(geometry.read_ply(stem + ".ply")["points"]).all()
            if "figure" in chosen:
                assert Image.open(stem + "_figure.png").size[0] > 0
            for name in ("depth", "normals", "ply", "figure"):
                if name not in chosen:
                    assert not any(os.path.exists(stem + s) for s in OUTPUTS[name])
        record = json.load(open(os.path.join(out_dir, "predict.json")))
        assert len(record["images"]) == case["images"] and record["keras_patchnet"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
