"""Smoke test of benchmarks/bench_finetune.py: its data (a capture rig's folders) and its table and figure."""

import importlib.util
import os

import numpy as np

import keras_patchnet as kp

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "bench_finetune", os.path.join(HERE, "..", "benchmarks", "bench_finetune.py")
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_the_benchmarks_folders_hold_sensor_depth_without_normals_and_exact_held_out_maps(tmp_path):
    folders, held = bench.make_data(str(tmp_path), [8], size=32)
    train = kp.data.TexlessDataset(folders[8])
    assert len(train) == 8 and not os.path.isdir(os.path.join(folders[8], "cloth", "normals"))
    frame = train.load(0)
    assert frame["image"].shape == (32, 32, 3) and not (frame["valid"] & ~frame["mask"]).any()
    held_frame = kp.data.TexlessDataset(held).load(0)
    assert os.path.isdir(os.path.join(held, "cloth", "normals"))
    assert np.isfinite(held_frame["depth"]).all()


def test_table_and_figure(tmp_path):
    curve = [{"epoch": 1.0, "minutes": 0.5, "depth_ratio": 0.9, "angle_ratio": 0.8}]
    ratios = {"depth_ratio": 1.2, "angle_ratio": 1.1}
    results = [
        {
            "start": s,
            "frames": 32,
            "wall_minutes": 1.0,
            "before": ratios,
            "after": ratios,
            "validation_before": ratios,
            "best_epoch": 1,
            "epochs": 1,
            "curve": curve,
        }
        for s in ("default", "scratch")
    ]
    lines = bench.table(results).splitlines()
    assert "1.20 / 1.10" in lines[2] and "random weights" in lines[3]
    bench.figure(results, str(tmp_path / "f.png"))
    assert (tmp_path / "f.png").stat().st_size > 0


def test_the_lit_start_is_told_the_set_ups_light_calibrated_from_a_ball(tmp_path):
    path = bench.setup_light(str(tmp_path), size=96)
    sheet = kp.data.render(bench.TRAIN_SEED, 96, 96, lighting=bench.LIGHT, world="physical")
    code = kp.lighting.load_light(path)
    assert kp.lighting.difference(code, kp.lighting.code_from_render(sheet)) < 0.02
    assert kp.lighting.difference(code, kp.lighting.calibrated_code()) > 0.1  # the moved light, not the preset's


def test_the_choice_can_read_a_validation_folder_of_its_own_with_exact_maps(tmp_path):
    folder = bench.validation_folder(str(tmp_path), size=32)
    data = kp.data.TexlessDataset(folder)
    assert len(data) == 32 and len({(r.object, r.sequence) for r in data.records}) == 4
    assert os.path.isdir(os.path.join(folder, "cloth", "normals"))
