"""tools/build_preset.py and tools/sync_presets.py: presets are written once, as structured metadata, and every
card, the preset table and the README's tables are made from it."""

import importlib.util
import json
import os

import pytest

from keras_patchnet import hub, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def build_preset(tmp_path, monkeypatch):
    module = load_tool("build_preset")
    monkeypatch.setattr(module, "HERE", str(tmp_path))
    return module


def stage(out, seed, **args):
    return {"script": hub.TRAINING_SCRIPT, "args": {"model": "unet", "out": out, **args, "seed": seed}}


def write_card(folder, stages):
    os.makedirs(folder)
    with open(os.path.join(folder, "metadata.json"), "w") as f:
        json.dump({"training": {"stages": stages}}, f)


STAGE1 = stage("runs/a", 0, lr=0.002)
STAGE2 = stage("runs/b", 7, lr=0.001, pretrained="runs/a")


def test_stages_of_a_preset_and_the_continued_run(build_preset, tmp_path):
    write_card(tmp_path / "unet.x", [STAGE1, STAGE2])
    assert build_preset._preset_stages("unet.x") == [STAGE1, STAGE2]
    assert hub.command_line(STAGE2) == (
        "python examples/train_from_scratch.py --model unet --out runs/b --lr 0.001 --pretrained runs/a --seed 7"
    )
    recipe = {"model": "unet", "out": "runs/c", "pretrained": "unet.x", "seed": 9, "data": "synthetic"}
    earlier, continued = build_preset._continue_preset("unet.x", recipe)
    assert earlier == [STAGE1, STAGE2]
    assert continued == {**recipe, "pretrained": "runs/b"}  # named by what the preset held: stage 2's output
    assert hub.command_line(build_preset._stage(continued, staged=True)) == (
        "python examples/train_from_scratch.py --model unet --out runs/c --pretrained runs/b --seed 9 --bn-batches 0"
    )


def test_a_run_started_from_the_preset_weights_file_continues_it(build_preset, tmp_path):
    write_card(tmp_path / "unet.x", [STAGE1, STAGE2])
    weights = tmp_path / "unet.x" / "model.weights.h5"
    weights.write_bytes(b"")
    recipe = {"out": "runs/c", "pretrained": str(weights), "seed": 9}
    assert build_preset._continue_preset("unet.x", recipe)[1]["pretrained"] == "runs/b"
    folder = {**recipe, "pretrained": str(tmp_path / "unet.x")}  # or from the preset's folder
    assert build_preset._continue_preset("unet.x", folder)[1]["pretrained"] == "runs/b"


def test_a_run_not_started_from_the_preset_is_refused(build_preset, tmp_path):
    write_card(tmp_path / "unet.x", [STAGE1, STAGE2])
    with pytest.raises(ValueError, match="--pretrained 'runs/z'"):
        build_preset._continue_preset("unet.x", {"out": "runs/c", "pretrained": "runs/z", "seed": 1})


def test_a_stage_without_out_or_seed_cannot_be_continued(build_preset, tmp_path):
    write_card(tmp_path / "unet.y", [{"script": hub.TRAINING_SCRIPT, "args": {"model": "unet", "lr": 0.002}}])
    with pytest.raises(ValueError, match="without --out or --seed"):
        build_preset._preset_stages("unet.y")


def test_the_shipped_unet_recipe_lists_every_stage_with_its_seed(build_preset):
    build_preset.HERE = os.path.join(ROOT, "weights")
    stages = build_preset._preset_stages("unet.synthetic-calibrated")
    with open(os.path.join(build_preset._folder("unet.synthetic-calibrated"), "metadata.json")) as f:
        data = json.load(f)["training"]["data"]
    assert f"TRAIN_SEED={', '.join(str(s['args']['seed']) for s in stages)}, epoch, i" in data
    for earlier, later in zip(stages, stages[1:]):  # each stage starts from the one before it
        assert later["args"]["pretrained"] == earlier["args"]["out"]


def test_an_unknown_preset_is_named_in_the_error(build_preset):
    with pytest.raises(ValueError, match="--earlier-preset unet.nope: no shipped preset card"):
        build_preset._preset_stages("unet.nope")


def test_cards_table_and_readme_agree_with_the_metadata():
    """Every card, presets.json and the README's weights and generalisation tables are what
    `python tools/sync_presets.py` makes from the metadata.json files (it lists nothing out of date)."""
    sync = load_tool("sync_presets")
    assert sync.sync(write=False) == []
    assert sorted(sync.preset_folders()) == presets.list_pretrained()
    for name, folder in sync.preset_folders().items():
        meta = sync.read_metadata(folder)
        entry = presets.PRESETS[name]
        assert entry["headline"]["depth_mae_mm"] == round(meta["metrics"]["model"]["depth_mae_mm"]["mean"], 2)
        assert entry["config"] == json.load(open(os.path.join(folder, hub.CONFIG_FILE)))
        card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
        assert all(f"`{hub.command_line(s)}`" in card for s in meta["training"]["stages"])  # recipe as stages
        assert f"`{hub.command_line(meta['evaluation'])}`" in card
        hub.verify_folder(folder, "restore")  # every shipped preset folder carries a manifest that holds
        assert {"config.json", "model.weights.h5", "README.md"} <= set(
            json.load(open(os.path.join(folder, hub.MANIFEST_FILE)))["sha256"]
        )


def copy_first_preset(tmp_path):
    """(sync_presets, the first preset's name, a copy of its folder's files under tmp_path)."""
    sync = load_tool("sync_presets")
    name, folder = next(iter(sync.preset_folders().items()))
    copy = tmp_path / name
    copy.mkdir()
    for f in ("config.json", "model.weights.h5", "metadata.json", "README.md"):
        (copy / f).write_bytes(open(os.path.join(folder, f), "rb").read())
    return sync, name, copy


def test_a_changed_metadata_file_is_found_out_of_date(tmp_path, monkeypatch):
    sync, name, copy = copy_first_preset(tmp_path)
    meta = sync.read_metadata(str(copy))
    meta["metrics"]["model"]["depth_mae_mm"]["mean"] += 1.0
    (copy / "metadata.json").write_text(json.dumps(meta))
    monkeypatch.setattr(sync, "ROOTS", (str(tmp_path), *sync.ROOTS))
    stale = sync.sync(write=False)
    assert os.path.join(str(copy), "README.md") in stale and presets.TABLE in stale and sync.README in stale


def test_a_benchmark_records_its_table_into_the_preset_metadata(tmp_path, monkeypatch):
    """`record` (the benchmarks' --write) stores one entry of metadata.json, rewrites the card from it, then syncs."""
    sync, name, copy = copy_first_preset(tmp_path)
    monkeypatch.setattr(sync.hub, "local_preset_folder", lambda n: str(copy) if n == name else None)
    monkeypatch.setattr(sync, "sync", lambda: ["synced"])
    table = {"date": "2026-01-01", "command": "python benchmarks/bench_physical.py --write", "columns": ["srgb"]}
    table["rows"] = [{"group": "all", "images": 4, "cells": {"srgb": {"depth_ratio": 0.5, "angle_ratio": 0.25}}}]
    table["rows"][0]["cells"]["srgb"]["beats_plane"] = 1.0
    assert sync.record(name, "physical", table) == ["synced"]
    assert sync.read_metadata(str(copy))["physical"] == table
    assert "| all | 4 | 0.50 / 0.25 (100%) |" in (copy / "README.md").read_text(encoding="utf-8")
    assert sync.record("unet.not-here", "physical", table) is None
