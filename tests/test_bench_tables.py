"""`make bench` writes the benchmark tables into docs/speed.md: the splicing and the table rendering (no timing)."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tables():
    spec = importlib.util.spec_from_file_location("readme_tables", os.path.join(ROOT, "benchmarks", "readme_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_results():
    state = {"date": "2026-12-01", "cores": 2, "load_before": 0.1, "load_after": 1.5}
    stitch = {"rows": [{"size": 224, "batch": 32, "patches": 9, "xla_ms": 3.6, "plain_ms": 7.0, "ns_per_pixel": 72.0}]}
    models = {
        "matmul_gflops": 200.0,
        "rows": [
            {
                "model": "unet",
                "infer_img_s": 11.8,
                "train_patch_s": 30.3,
                "gflop_img": 7.61,
                "share": 0.44,
                "batch": 32,
            },
            {"model": "baseline", "infer_img_s": 20.0, "infer1_img_s": 9.5, "train_patch_s": 40.0, "gflop_img": 6.15}
            | {"share": 0.3, "batch": 32},
        ],
    }
    return {
        "state": state,
        "data": {"render_img_s": 69.0, "images_batch_s": 8.4, "patches_batch_s": 7.6},
        "stitch_tensorflow": stitch,
        "models_tensorflow": models,
    }


def test_tables_land_between_their_markers_and_say_how_they_were_measured(tmp_path):
    t = tables()
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- bench:stitch -->\nold\n<!-- end bench:stitch -->\nmiddle\n"
        "<!-- bench:models -->\n<!-- end bench:models -->\n<!-- bench:data -->\nx\n<!-- end bench:data -->\nend\n"
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "all.json").write_text(json.dumps(fake_results()))
    t.main(["--backends", "tensorflow", "--readme", str(readme), "--from-json", str(tmp_path / "run")])
    text = readme.read_text()
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("end\n") and "old" not in text
    assert "| tensorflow | 224² | 32 | 9 | 3.60 | 7.00 | 72 |" in text
    assert "| tensorflow | 200 | unet | 7.61 | 11.8 | – | 30.3 | 44% |" in text  # an older run: no batch-1 figure
    assert "| tensorflow | 200 | baseline | 6.15 | 20.0 | 9.5 | 40.0 | 30% |" in text
    assert "| 69.0 | 8.4 | 7.6 |" in text
    assert text.count("load average 0.1 before and 1.5 after") == 3


def test_missing_markers_are_an_error_and_the_speed_page_has_all_of_them():
    t = tables()
    with pytest.raises(ValueError, match="bench:stitch"):
        t.splice("no markers", "stitch", "table")
    with open(os.path.join(ROOT, "docs", "speed.md"), encoding="utf-8") as f:
        text = f.read()
    for name in ("stitch", "models", "data", "large"):
        assert f"<!-- bench:{name} -->" in text and f"<!-- end bench:{name} -->" in text


def test_generalisation_table_and_its_place_in_a_card():
    from keras_patchnet import hub

    cell = {"depth_ratio": 0.5, "angle_ratio": 0.75, "beats_plane": 0.9, "depth_mm": 1.0, "flat_depth_mm": 2.0}
    result = {
        "images": 32,
        "exposures": [0.5, 1.0],
        "date": "2026-12-01",
        "rows": [{"lighting": "rig", "size": "224²", "cells": [cell, cell]}],
    }
    text = hub.generalisation_markdown(result)
    assert "| rig | 224² | 0.50 / 0.75 (90%) | 0.50 / 0.75 (90%) |" in text and "32 held-out renders" in text
    card = hub.model_card({"name": "unet.x", "arch": "unet", "generalisation": result})
    assert card.count("## Generalisation") == 1 and "<!-- generalisation:unet.x -->\n" + text in card


def test_large_image_table():
    rows = [
        {"size": 4096, "patches": 16129, "seconds": 40.5, "s_per_mp": 2.41, "peak_gib": 2.6},
        {"size": 8192, "failed": 137},
    ]
    text = tables().large_table({"large_tensorflow": {"rows": rows}}, ["tensorflow"], "_note_")
    assert "| tensorflow | 4096² | 16129 | 40.50 | 2.41 | 2.60 |" in text and "failed (exit 137)" in text


def test_gpu_markdown_keeps_the_steps_that_finished(tmp_path, capsys):
    """benchmarks/gpu.sh's tables (`--markdown`): a backend whose models step ran out of time keeps its stitch
    row; a backend with no file at all is left out of every table."""
    results = fake_results()
    (tmp_path / "stitch_tensorflow.json").write_text(json.dumps(results["stitch_tensorflow"]))
    (tmp_path / "stitch_jax.json").write_text(json.dumps(results["stitch_tensorflow"]))
    (tmp_path / "models_jax.json").write_text(json.dumps(results["models_tensorflow"]))
    tables().main(["--markdown", str(tmp_path), "--label", "GPU X", "--backends", "tensorflow", "torch", "jax"])
    text = capsys.readouterr().out
    assert "| tensorflow | 224² | 32 | 9 | 3.60 | 7.00 | 72 |" in text
    assert "| jax | 224² | 32 | 9 | 3.60 | 7.00 | 72 |" in text
    assert "| jax | 200 | unet |" in text and "| tensorflow | 200 |" not in text
    assert "torch" not in text and "GPU X" in text


def bench_stitch():
    spec = importlib.util.spec_from_file_location("bench_stitch", os.path.join(ROOT, "benchmarks", "bench_stitch.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stitch_trials_take_turns_in_fresh_processes_and_report_the_ratio_of_medians(monkeypatch, capsys):
    module = bench_stitch()
    figures = {512: iter([90.0, 120.0, 85.0]), 4096: iter([126.0, 125.0, 130.0])}
    calls = []

    def fake_run(command, check, stdout):
        size = int(command[command.index("--sizes") + 1])
        calls.append((size, command[command.index("--repeats") + 1]))
        with open(command[command.index("--json") + 1], "w") as f:
            json.dump({"rows": [{"ns_per_pixel": next(figures[size])}]}, f)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    monkeypatch.setattr("sys.argv", ["bench_stitch.py", "--sizes", "512", "4096", "--trials", "3", "--repeats", "2"])
    module.main()
    assert calls == [(512, "2"), (4096, "2")] * 3
    out = capsys.readouterr().out
    assert "median 90.0 ns an image pixel, range 85.0-120.0 over 3 trials" in out
    assert "median 126.0 ns an image pixel, range 125.0-130.0 over 3 trials" in out
    assert "ratio of the medians: 1.40x (trial by trial: 1.40, 1.04, 1.53)" in out
    lines, ratio = module.trial_summary({224: [2.0, 4.0], 1024: [3.0, 3.0]})
    assert ratio == pytest.approx(1.0) and len(lines) == 3
