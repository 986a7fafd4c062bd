"""The documentation site builds without a warning (mkdocs --strict) and its API reference
documents every public name of every subpackage."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("errors", "distributed", "interactions", "io", "data", "models", "masking",
               "training", "analysis", "studies", "plots", "sweeps")

pytest.importorskip("mkdocstrings")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-5000:]
    warnings = [ln for ln in run.stderr.splitlines() if ln.startswith("WARNING")]
    assert not warnings, warnings
    return out


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_public_name_has_an_entry(site, name):
    module = importlib.import_module(f"jaxinter.{name}")
    public = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
        and getattr(v, "__module__", "").startswith("jaxinter")]
    page = (site / "api" / name / "index.html").read_text()
    ids = set(re.findall(r'id="(jaxinter\.[^"]+)"', page))
    missing = [n for n in public if f"jaxinter.{name}.{n}" not in ids]
    assert not missing, f"jaxinter.{name}: no entry for {missing}"


def test_guides_and_mathematics_are_pages(site):
    for page in ("index", "your_model/index", "math/andor/index", "layerwise/index"):
        assert (site / f"{page}.html").exists() or (site / page).with_suffix(".html").exists() \
            or (site / page.replace("/index", "") / "index.html").exists(), page
    assert "Moebius" in (site / "api" / "interactions" / "index.html").read_text()
