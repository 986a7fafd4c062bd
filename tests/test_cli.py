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


def test_compile_cache_folder_comes_from_the_environment(monkeypatch, tmp_path):
    from jaxinter.cli import COMPILE_CACHE_ENV, build_parser, default_compile_cache

    monkeypatch.setenv(COMPILE_CACHE_ENV, "off")
    assert default_compile_cache() is None
    monkeypatch.setenv(COMPILE_CACHE_ENV, str(tmp_path))
    assert default_compile_cache() == tmp_path
    monkeypatch.delenv(COMPILE_CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    assert default_compile_cache() == tmp_path / "home" / "jaxinter" / "xla"
    args = build_parser().parse_args(["selfcheck"])
    assert args.compile_cache == tmp_path / "home" / "jaxinter" / "xla"
    args = build_parser().parse_args(["selfcheck", "--compile-cache", str(tmp_path / "c")])
    assert args.compile_cache == tmp_path / "c"
    assert build_parser().parse_args(["selfcheck", "--no-compile-cache"]).compile_cache is None


def test_compile_cache_keeps_programs_and_restores_the_settings(monkeypatch, tmp_path):
    import jax
    import jax.numpy as jnp

    import jaxinter.cli as cli

    monkeypatch.setattr(cli, "MIN_CACHED_COMPILE_S", 0.0)  # every program, however fast
    before = jax.config.jax_compilation_cache_dir
    with cli.compile_cache(tmp_path / "xla"):
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "xla")
        jax.block_until_ready(jax.jit(lambda x: jnp.cumsum(x) * 3.25)(jnp.arange(7.0)))
    assert any((tmp_path / "xla").iterdir()), "the compiled program was not written"
    assert jax.config.jax_compilation_cache_dir == before
    with cli.compile_cache(None):
        assert jax.config.jax_compilation_cache_dir == before
