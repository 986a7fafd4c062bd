"""Render the reproduction tables of README.md and docs/*.md from reproductions/results/*.json.

Every generated block sits between ``<!-- reproduction:NAME -->`` and
``<!-- /reproduction:NAME -->``; NAME is a key of a paper module's ``TABLES`` (docs) or
``README`` (the README's findings). A block whose record has not been run yet says so and
names the command. Run ``python reproductions/render.py`` after a reproduction;
``tests/reproductions/test_records.py`` fails when a page differs from what this renders.
"""

from __future__ import annotations

import re
import sys

import correlations
import dynamics
import layerwise
import separation
from common import ROOT, load_record

PAPERS = {"layerwise": layerwise, "dynamics": dynamics, "correlations": correlations,
          "separation": separation}
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- reproduction:([\w-]+) -->\n)(.*?)(<!-- /reproduction:\2 -->)", re.S)
README_ORDER = (  # the README's findings: (block, paper, guide)
    ("layerwise", "layerwise", "docs/layerwise.md"),
    ("layerwise-digits", "layerwise", "docs/layerwise.md"),
    ("dynamics", "dynamics", "docs/dynamics.md"),
    ("correlations", "correlations", "docs/correlations.md"),
    ("correlations-xor", "correlations", "docs/correlations.md"),
    ("separation", "separation", "docs/separation.md"),
)


def blocks() -> dict[str, tuple[str, str, object]]:
    """Every renderable block: name -> (paper, setting, render function)."""
    out = {}
    for paper, module in PAPERS.items():
        for name, (setting, fn) in module.TABLES.items():
            out[name] = (paper, setting, fn)
        for name, (setting, fn) in module.README.items():
            out[f"readme-{name}"] = (paper, setting, fn)
    return out


def render_block(name: str) -> str:
    """The markdown of one block (ends with a newline)."""
    if name == "readme-findings":
        lines = []
        for block, _, guide in README_ORDER:
            text = render_block(f"readme-{block}").strip()
            lines.append(f"- {text} [{guide}]({guide})")
        return "\n".join(lines) + "\n"
    paper, setting, fn = blocks()[name]
    record = load_record(paper, setting)
    if record is None:
        return (f"_Not run yet: `python reproductions/{paper}.py {setting}` writes "
                f"`reproductions/results/{paper}_{setting}.json`._\n")
    return fn(record).rstrip() + "\n"


def render(text: str) -> str:
    """A page with every reproduction block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group(2)) + m.group(4), text)


def names_in(text: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(text)]


if __name__ == "__main__":
    for page in PAGES:
        text = page.read_text()
        new = render(text)
        if new != text:
            page.write_text(new)
            print(f"updated {page.relative_to(ROOT)}")
    sys.exit(0)
