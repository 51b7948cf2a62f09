"""Every Python block of the README runs as written, in order, in one namespace, on the active backend."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def python_blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 4


def test_readme_python_blocks_run_as_written(capsys):
    namespace = {"__name__": "readme"}
    for i, block in enumerate(python_blocks()):
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the block, keep the traceback
            pytest.fail(f"README python block {i + 1} failed: {type(e).__name__}: {e}\n{block}")
    printed = capsys.readouterr().out
    assert "mm of relief" in printed and "flat plane" in printed
