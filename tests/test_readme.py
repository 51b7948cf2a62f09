"""Every Python block of the README runs as written, in order, in one namespace, on the active backend; so do the
blocks of each user-guide page (docs/guide/), each page in a namespace of its own."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
GUIDE = sorted(glob.glob(os.path.join(ROOT, "docs", "guide", "*.md")))


def python_blocks(path=README):
    with open(path, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def run_blocks(path):
    namespace = {"__name__": "readme"}
    for i, block in enumerate(python_blocks(path)):
        try:
            exec(compile(block, f"{os.path.relpath(path, ROOT)} python block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the block, keep the traceback
            pytest.fail(f"{os.path.relpath(path, ROOT)} python block {i + 1} failed: {type(e).__name__}: {e}\n{block}")


def test_readme_has_python_blocks_and_stays_short():
    assert len(python_blocks()) >= 3
    with open(README, encoding="utf-8") as f:
        assert sum(1 for _ in f) <= 250


def test_readme_python_blocks_run_as_written(capsys):
    run_blocks(README)
    printed = capsys.readouterr().out
    assert "mm of relief" in printed and "flat plane" in printed


@pytest.mark.parametrize("page", GUIDE, ids=[os.path.basename(p) for p in GUIDE])
def test_user_guide_python_blocks_run_as_written(page):
    run_blocks(page)
