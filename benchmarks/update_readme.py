"""Copy the benchmark tables of benchmarks/results/*.md into README.md (between markers).

Run after any benchmark: ``.venv/bin/python benchmarks/update_readme.py``. A test checks that the
README shows the current tables.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ORDER = ("transforms", "andor", "masking", "layerwise", "separation", "precision")
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def benchmark_section() -> str:
    """The README's benchmark section: each results/<name>.md, its title demoted to ###."""
    parts = []
    for name in ORDER:
        path = RESULTS / f"{name}.md"
        if path.exists():
            text = path.read_text().strip()
            text = re.sub(r"^# ", "### ", text, count=1)
            parts.append(f"{text}\n\n(`benchmarks/results/{name}.md`, `{name}.json`)")
    return "\n\n".join(parts)


def render(readme: str) -> str:
    """README text with the section between the markers replaced by the current tables."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{benchmark_section()}\n{END}{tail}"


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(render(readme.read_text()))
    print(f"updated {readme}")
