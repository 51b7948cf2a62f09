"""The library stands apart from its tools: no library module parses arguments but the CLI, and the
maintainer's scripts live under tools/."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_only_the_cli_parses_arguments():
    offenders = []
    for folder, _, files in os.walk(os.path.join(ROOT, "keras_patchnet")):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and name not in ("cli.py", "__main__.py"):
                with open(path, encoding="utf-8") as f:
                    if "argparse" in f.read():
                        offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
    for tool in ("demo.py", "build_preset.py", "choose_grid.py", "evaluate_synthetic.py", "lighting_study.py"):
        assert os.path.isfile(os.path.join(ROOT, "tools", tool)), tool
