"""tools/build_preset.py: a stage continued from a shipped preset gets the preset's earlier stages in its card."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def build_preset(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_preset", os.path.join(ROOT, "tools", "build_preset.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", str(tmp_path))
    return module


def write_card(folder, recipe):
    os.makedirs(folder)
    with open(os.path.join(folder, "metadata.json"), "w") as f:
        json.dump({"training": {"recipe": recipe}}, f)


STAGE1 = "python examples/train_from_scratch.py --model unet --out runs/a --lr 0.002 --seed 0"
STAGE2 = "python examples/train_from_scratch.py --model unet --out runs/b --lr 0.001 --seed 7 --pretrained runs/a"


def test_stages_of_a_preset_and_the_continued_run(build_preset, tmp_path):
    write_card(tmp_path / "unet.x", f"stage 1: {STAGE1}; then stage 2: {STAGE2}")
    assert build_preset._preset_stages("unet.x") == [STAGE1, STAGE2]
    assert [build_preset._seed(c) for c in build_preset._preset_stages("unet.x")] == [0, 7]

    recipe = {"model": "unet", "out": "runs/c", "pretrained": "unet.x", "seed": 9, "data": "synthetic"}
    earlier, continued = build_preset._continue_preset("unet.x", recipe)
    assert earlier == [STAGE1, STAGE2]
    assert continued == {**recipe, "pretrained": "runs/b"}  # named by what the preset held: stage 2's output
    assert build_preset._command(continued, staged=True) == (
        "python examples/train_from_scratch.py --model unet --out runs/c --pretrained runs/b --seed 9 --bn-batches 0"
    )


def test_a_run_not_started_from_the_preset_is_refused(build_preset, tmp_path):
    write_card(tmp_path / "unet.x", f"stage 1: {STAGE1}; then stage 2: {STAGE2}")
    with pytest.raises(ValueError, match="--pretrained 'runs/z'"):
        build_preset._continue_preset("unet.x", {"out": "runs/c", "pretrained": "runs/z", "seed": 1})


def test_a_single_stage_card_without_out_or_seed_cannot_be_continued(build_preset, tmp_path):
    write_card(tmp_path / "unet.y", "python examples/train_from_scratch.py --model unet --lr 0.002")
    with pytest.raises(ValueError, match="without --out or --seed"):
        build_preset._preset_stages("unet.y")


def test_the_shipped_unet_card_lists_every_stage_with_its_seed(build_preset):
    build_preset.HERE = os.path.join(ROOT, "weights")
    stages = build_preset._preset_stages("unet.synthetic-calibrated")
    with open(os.path.join(build_preset._folder("unet.synthetic-calibrated"), "metadata.json")) as f:
        data = json.load(f)["training"]["data"]
    assert f"TRAIN_SEED={', '.join(str(build_preset._seed(c)) for c in stages)}, epoch, i" in data
    for earlier, later in zip(stages, stages[1:]):  # each stage starts from the one before it
        assert f"--pretrained {earlier.split('--out ')[1].split()[0]} " in later + " "


def test_an_unknown_preset_is_named_in_the_error(build_preset):
    with pytest.raises(ValueError, match="--earlier-preset unet.nope: no shipped preset card"):
        build_preset._preset_stages("unet.nope")
