import re
from pathlib import Path

import pytest

from jaxinter.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_selfcheck_runs(capsys):
    assert main(["selfcheck", "--n", "8"]) == 0
    assert "self-check passed" in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- test-command -->\s*```bash\n(.+)\n", readme).group(1)
    assert "pytest" in command and "venv" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "eval" in ci


def test_bad_input_is_a_clean_error_not_a_traceback(capsys):
    assert main(["separation", "--dataset", "nope", "--out", "/tmp/never"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxinter separation: error:") and "nope" in err
    assert "Traceback" not in err


def test_readme_shows_the_current_benchmark_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "update_readme", ROOT / "benchmarks" / "update_readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.render(readme) == readme, "run benchmarks/update_readme.py"
    for page in module.DOCS:  # the guides' benchmark tables too
        assert module.render_page(page.read_text()) == page.read_text(), page.name
    assert "<!-- benchmark:layerwise -->" in (ROOT / "docs" / "layerwise.md").read_text()


def test_bad_flags_are_usage_errors(capsys):
    for argv in (["layerwise", "--n", "0"], ["layerwise", "--samples", "x"],
                 ["dynamics", "--steps", "0"], ["separation", "--width", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert f"jaxinter {argv[0]}: error: argument {argv[1]}" in capsys.readouterr().err
