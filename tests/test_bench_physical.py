"""The physically based test set (data/physical) and its benchmark: a smoke test on a few images (the full
evaluation is `python benchmarks/bench_physical.py`): the files are complete and consistent, and the evaluation
runs, with finite figures, the same twice."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "physical")


def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_physical", os.path.join(ROOT, "benchmarks", "bench_physical.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("split", ["test", "validation"])
def test_the_set_is_complete_with_truth_that_agrees_with_itself(split):
    items, maps, meta = bench().load_split(split)
    assert meta["format"] == "keras-patchnet-physical" and meta["encoding"] == "srgb"
    assert len(items) == 3 * len(meta["sheets"]) and len(meta["sheets"]) >= (96 if split == "test" else 32)
    assert {light for _, light, _, _ in items} == {"calibrated", "lamps", "distant"}
    coverage = maps["mask"].mean(axis=(1, 2))
    assert np.median(coverage) > 0.1  # most sheets fill a tenth of the frame or more (a few end up smaller)
    for path, _, _, i in items[:: max(1, len(items) // 12)]:
        image = np.asarray(Image.open(path))
        assert image.shape == (*meta["size"], 3) and image.dtype == np.uint8
        m = maps["mask"][i]
        assert 0.02 < m.mean() < 1 and np.allclose(np.linalg.norm(maps["normals"][i][m], axis=-1), 1, atol=2e-3)
        assert np.all((maps["depth"][i][m] > 0.5) & (maps["depth"][i][m] < 2.5))
    checks = np.array([s["normals_vs_depth_median_deg"] for s in meta["sheets"]])  # normals against depth
    assert np.median(checks) < 2 and np.mean(checks < 10) > 0.9  # a few crumpled sheets crease within a grid cell
    for sheet in meta["sheets"][:3]:
        for entry in sheet["lights"].values():
            assert os.path.isfile(os.path.join(DATA, split, entry["ball"])) and entry["ball_radius"] == 0.1


def test_the_benchmark_runs_on_four_images_with_finite_reproducible_figures():
    from keras_patchnet import models

    keras.utils.set_random_seed(0)
    model = models.build_from_config({"arch": "unet", "patch_size": 32, "width": 2, "min_overlap": 8})
    module = bench()
    rows = module.evaluate(model, "test", limit=4)
    again = module.evaluate(model, "test", limit=4)
    assert len(rows) == 4 and rows == again
    summary = module.summary(rows)
    assert all(np.isfinite(v) for v in summary.values())
    assert "| all | 4 |" in module.table(rows, "t")
    json.dumps(rows)  # plain numbers
