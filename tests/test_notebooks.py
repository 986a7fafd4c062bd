"""The notebooks and the README example run top to bottom (code executed in order)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code"
    namespace = {}
    for source in code:
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block.split("```")[0], "README.md", "exec"), {})  # noqa: S102
