"""The library stands apart from its tools and studies: no library module parses arguments but the CLI, the
maintainer's scripts live under tools/, the study scripts under research/; neither the library nor the studies
import in a circle, and no library file is longer than 400 lines."""

import os

import keras
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_only_the_cli_parses_arguments():
    offenders = []
    for folder, _, files in os.walk(os.path.join(ROOT, "keras_patchnet")):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and os.path.basename(folder) != "cli" and name != "__main__.py":
                with open(path, encoding="utf-8") as f:
                    if "argparse" in f.read():
                        offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
    tools = ("demo.py", "build_preset.py", "choose_grid.py", "evaluate_synthetic.py", "sync_presets.py")
    studies = ("lighting_study.py", "ambiguity.py", "rig_classifier.py", "oracle_stitch_eval.py", "networks.py")
    for folder, names in (("tools", tools), ("research", studies)):
        for name in names:
            assert os.path.isfile(os.path.join(ROOT, folder, name)), f"{folder}/{name}"


def _imports(path, known):
    """The names in `known` that the file at `path` imports (at any depth: lazy imports count too)."""
    import ast

    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {k for k in known if k in found}


def _cycle(graph):
    """A list of nodes forming a cycle in `graph` ({node: set of nodes}), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _library_modules():
    modules = {}
    for folder, _, files in os.walk(os.path.join(ROOT, "keras_patchnet")):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].replace(os.sep, ".")
                modules[rel.removesuffix(".__init__")] = os.path.join(folder, name)
    return modules


def test_the_library_imports_without_a_circle_and_keeps_files_short():
    modules = _library_modules()
    graph = {}
    for module, path in modules.items():
        # a package's __init__ that re-exports its own submodules is not an edge back from them
        graph[module] = {m for m in _imports(path, modules) if m != module and not module.startswith(m + ".")}
    # `from keras_patchnet import hub` names the submodule, not the package's __init__
    for module, edges in graph.items():
        graph[module] = {e for e in edges if e != "keras_patchnet"}
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph))}"
    assert "keras_patchnet.training" not in graph["keras_patchnet.models.patchnet"]
    assert "keras_patchnet.cli" not in graph["keras_patchnet.evaluation"]
    long = {m: n for m, p in modules.items() if (n := sum(1 for _ in open(p, encoding="utf-8"))) > 400}
    assert long == {}, f"library files over 400 lines: {long}"


def test_the_studies_import_in_one_direction():
    folder = os.path.join(ROOT, "research")
    names = {n[:-3]: os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".py")}
    graph = {n: _imports(p, names) - {n} for n, p in names.items()}
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph))}"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a maintainer's tool: runs once, on TensorFlow")
def test_the_lighting_study_runs_and_writes_its_curve(tmp_path):
    import csv
    import importlib.util

    spec = importlib.util.spec_from_file_location("lighting_study", os.path.join(ROOT, "research", "lighting_study.py"))
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    argv = "--variant scratch --minutes 0 --steps 1 --batch-size 1 --val-images 1 --size 64 --out".split()
    study.main([*argv, str(tmp_path), "--width", "4", "--workers", "2"])  # the options of a run with worker processes
    rows = list(csv.DictReader(open(tmp_path / "scratch" / "curve.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]  # the start, then one epoch (the time budget is 0)
    assert all(float(r["depth_ratio"]) > 0 for r in rows)
    study.main(["--variant", "oracle-light", *argv[2:], str(tmp_path)])  # the same with the true light as input
    rows = list(csv.DictReader(open(tmp_path / "oracle-light" / "curve.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and all(float(r["angle_ratio"]) > 0 for r in rows)

    # a continuation on whole images through the stitch, its learning rate falling to 0 (--minutes 0: at once)
    weights = str(tmp_path / "oracle-light" / "model.weights.h5")
    more = ["--init", weights, "--end-to-end", "--decay", "--name", "e2e"]
    trained = study.main(["--variant", "oracle-light", *argv[2:], str(tmp_path), *more])
    rows = list(csv.DictReader(open(tmp_path / "e2e" / "curve.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and float(trained.optimizer.learning_rate) == 0.0
    start = list(csv.DictReader(open(tmp_path / "oracle-light" / "curve.csv")))[-1]
    assert rows[0]["depth_ratio"] == start["depth_ratio"]  # --init: it starts where oracle-light ended

    # the rig-known network fed the rig classifier's four probabilities instead of the true rig (oracle-rig's channels)
    _tool("rig_classifier").classifier().save_weights(str(tmp_path / "classifier.weights.h5"))
    argv_rig = ["--variant", "estimated-rig", *argv[2:], str(tmp_path), "--lighting", "rig"]
    study.main([*argv_rig, "--classifier", str(tmp_path / "classifier.weights.h5")])
    rows = list(csv.DictReader(open(tmp_path / "estimated-rig" / "curve.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and all(float(r["angle_ratio"]) > 0 for r in rows)
    from keras_patchnet.data import render

    values, scaled = study.oracle_constants(render(1, 112, 112, lighting="rig"), "estimated-rig")
    assert values.shape == (4,) and abs(values.sum() - 255.0) < 1e-2 and not scaled  # probabilities, on 0-255

    # --thumb 112 on 112^2 renders: the classifier sees the whole render, scaled to a maximum of 255, not resized
    _, x, y = _tool("rig_classifier").dataset([1, 2], 112, keep=False, thumb=112)
    image = render(1, 112, 112, lighting="rig").image.astype("float32")
    np.testing.assert_allclose(x[0], image * (255.0 / image.max()), rtol=1e-3, atol=0.1)  # stored as float16
    assert x.shape == (2, 112, 112, 3) and x.dtype == np.float16 and set(y) <= {0, 1, 2, 3}
    assert _tool("rig_classifier").classifier(112).input_shape == (None, 112, 112, 3)

    with pytest.raises(ValueError, match="--end-to-end is for the oracle variants"):
        study.main([*argv, str(tmp_path), "--end-to-end"])
    with pytest.raises(ValueError, match="estimated-rig variant needs --lighting rig"):
        study.main([*argv_rig, "--lighting", "fixed"])

    # the end-to-end model stitches what the curve measures: the patches of the grid predict_oracle cuts
    from keras_patchnet.data import cut_patches
    from keras_patchnet.layers import PatchStitch
    from keras_patchnet.ops.grid import patch_grid

    net = study.context_network(64, 4, channels=5)
    x = np.random.default_rng(0).uniform(0, 255, (2, 112, 112, 5)).astype("float32")
    grid = patch_grid(112, 112, 64, 1)
    out = net.predict_on_batch(np.concatenate([cut_patches(im, grid) for im in x]))
    stitched = PatchStitch(64, 1, mode="depth")(out["depth"], output_size=(112, 112))
    whole = study.end_to_end(net, 112).predict_on_batch(x)
    np.testing.assert_allclose(np.asarray(whole["depth"]), np.asarray(stitched), atol=1e-6)
    assert np.asarray(stitched).std() > 0

    # the oracle's light channels are the brightness the render's own light gives a pixel of that normal: under
    # the calibrated light (no tint, no highlight), pixels whose normal is within 2.6 degrees of a reference normal
    errors = []
    for seed in range(6):
        sample = render(seed, 112, 112, lighting="fixed")
        brightness = study.oracle_brightness(sample)
        normals, pixels = sample.normals[sample.mask], sample.image[sample.mask].mean(-1)
        cosines = normals @ np.asarray(study.REFERENCE_NORMALS).T
        near = cosines.max(1) > 0.999
        errors += list(np.abs(pixels[near] - brightness[cosines.argmax(1)[near]]))
    assert len(errors) > 50 and np.mean(errors) < 5  # of 255: sensor noise, rounding, the 2.6 degrees


def _tool(name):
    import importlib.util
    import sys

    sys.path.insert(0, os.path.join(ROOT, "research"))
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "research", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_convex_concave_twin_is_the_same_image_but_for_perspective():
    """research/ambiguity.py: the twin (depth reflected about its mean, lights about the camera axis) of a calibrated
    render is 2x the flat plane's depth error away; its image differs by several grey levels through perspective,
    and by about one when the focal length is 1000x longer (nearly orthographic); the shading model reproduces the
    render itself to the noise."""
    from keras_patchnet.data import render

    ambiguity = _tool("ambiguity")
    sample = render(3, 64, 64, lighting="fixed")
    image, twin, depth, _ = ambiguity.twin_images(sample)
    z = sample.depth[sample.mask]
    np.testing.assert_allclose(np.abs(depth - z - np.mean(depth - z)).mean(), 2 * np.abs(z - z.mean()).mean(), 1e-5)
    assert np.abs(image - sample.image[sample.mask].mean(-1)).mean() < 3
    perspective = np.abs(image - twin).mean()
    tele = sample.intrinsics.copy()
    tele[:2, :2] *= 1000
    image, twin, _, _ = ambiguity.twin_images(sample._replace(intrinsics=tele))
    assert np.abs(image - twin).mean() < 1.5 < 3 < perspective
    row = ambiguity.measure([sample], "plane")
    assert row["twin_depth_mm"] < row["plane_depth_mm"]  # reflected about its best-fit plane, the tilt stays


def test_the_rig_classifier_refuses_training_seeds_that_meet_the_validation_ones(capsys):
    """research/rig_classifier.py: a second stage's fresh renders (--first-seed) may not reach into the validation
    seeds it is scored on, and --init names a file that exists; both are refused before anything is rendered."""
    tool = _tool("rig_classifier")
    from keras_patchnet.constants import VAL_SEED

    for argv, words in [
        (["--first-seed", str(VAL_SEED - 10), "--train-images", "100"], "--first-seed: training seeds"),
        (["--first-seed", "-1"], "--first-seed: training seeds"),
        (["--init", "no-such.weights.h5"], "--init: no classifier weights at no-such.weights.h5"),
    ]:
        with pytest.raises(SystemExit):
            tool.main(argv)
        assert words in capsys.readouterr().err
