"""The documentation stands on its own: links resolve, anchors are stable, examples run, and no
file points to developer notes outside the repository.

- Every relative link in ``docs/**/*.md`` and ``README.md`` names an existing file, and its
  ``#anchor`` (if any) a heading of the target page.
- Every heading gets the same anchor on GitHub and in MkDocs, and no page repeats one, so
  ``docs/page.md#anchor`` pointers from code and other pages keep working in both; inline
  formulas are delimited so that both render them.
- Every ``docs/....md#anchor`` pointer written in code, tests, benchmarks or notebooks resolves.
- The python examples of the conventions and mathematics pages run top to bottom (each page in
  one namespace; their asserts check the numbers they show).
- No file mentions the developer notes that are not part of the repository.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]
EXECUTED = [DOCS / "conventions.md"] + sorted((DOCS / "math").glob("*.md"))
SOURCES = sorted(
    p
    for folder in ("jaxinter", "tests", "benchmarks", "notebooks")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".py", ".ipynb") and "__pycache__" not in p.parts
)
SCANNED = sorted(set(SOURCES) | set(PAGES))

# Developer notes kept outside the repository (names split so this file does not match).
NOTES = re.compile("DESIGN" + r"(\.md|\s+\d)|" + "STYLE" + r"\.md")

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
POINTER = re.compile(r"\bdocs/[\w/.-]+?\.md(?:#[\w-]+)?")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _params(paths):
    return [pytest.param(p, id=_rel(p)) for p in paths]


# ---------------------------------------------------------------------------------------------
# reading markdown


def prose_lines(text: str):
    """(line number, line) of the lines outside fenced code blocks, inline code removed."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line.lstrip())
        if match:
            fence = None if fence == match.group(1) else fence or match.group(1)
            continue
        if fence is None:
            yield number, re.sub(r"`+[^`]*`+", "", line)


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline or reference-style link and image."""
    found = []
    for number, line in prose_lines(text):
        found += [(number, m.group(1)) for m in LINK.finditer(line)]
        ref = REFERENCE.match(line)
        if ref:
            found.append((number, ref.group(1)))
    return found


def heading_texts(text: str) -> list[str]:
    """The rendered text of every ATX heading (inline markup reduced to its text)."""
    texts = []
    fence = None
    for line in text.splitlines():
        match = FENCE.match(line.lstrip())
        if match:
            fence = None if fence == match.group(1) else fence or match.group(1)
            continue
        heading = HEADING.match(line) if fence is None else None
        if heading:
            title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(2))
            texts.append(re.sub(r"[`*]", "", title))
    return texts


def slug_github(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def slug_mkdocs(title: str) -> str:
    """MkDocs' anchor (Python-Markdown ``toc`` default): ASCII, runs of spaces/hyphens -> '-'."""
    value = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(path: Path) -> set[str]:
    return {slug_github(t) for t in heading_texts(path.read_text())}


def broken_links(path: Path) -> list[str]:
    """Descriptions of the relative links of a markdown file that do not resolve."""
    problems = []
    for number, target in links(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        where = f"{_rel(path)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where} (no heading with anchor #{anchor})")
    return problems


def unstable_headings(path: Path) -> list[str]:
    """Headings whose anchors differ between GitHub and MkDocs, contain math, or repeat."""
    problems, seen = [], set()
    for title in heading_texts(path.read_text()):
        github, mkdocs = slug_github(title), slug_mkdocs(title)
        if github != mkdocs or "$" in title:
            problems.append(f"{title!r}: GitHub #{github}, MkDocs #{mkdocs}")
        if github in seen:
            problems.append(f"{title!r}: repeated anchor #{github}")
        seen.add(github)
    return problems


def broken_pointers(path: Path) -> list[str]:
    """``docs/....md#anchor`` pointers in a source file that name no page or no heading."""
    problems = []
    for pointer in POINTER.findall(path.read_text()):
        file, _, anchor = pointer.partition("#")
        target = ROOT / file
        if not target.exists() or (anchor and anchor not in anchors(target)):
            problems.append(f"{_rel(path)}: {pointer}")
    return problems


def broken_formulas(path: Path) -> list[str]:
    """Inline formulas that GitHub and MkDocs (arithmatex) do not both render: split over two
    lines (an odd number of ``$`` on a line outside display blocks), or starting or ending with
    a space (then ``$`` is not taken as a delimiter)."""
    problems = []
    for number, line in prose_lines(path.read_text()):
        if line.lstrip().startswith("$$"):
            continue
        spaced = [m for m in re.findall(r"\$([^$]+)\$", line) if m != m.strip()]
        if line.count("$") % 2 or spaced:
            problems.append(f"{_rel(path)}:{number}: {line}")
    return problems


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of every fenced python block."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if current is None and re.match(r"^```python\s*$", line):
            current, start = [], number + 1
        elif current is not None and line.startswith("```"):
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


# ---------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("page", _params(PAGES))
def test_links_resolve(page):
    assert not broken_links(page), "\n".join(broken_links(page))


@pytest.mark.parametrize("page", _params(PAGES))
def test_headings_have_stable_anchors(page):
    assert not unstable_headings(page), "\n".join(unstable_headings(page))


@pytest.mark.parametrize("page", _params(PAGES))
def test_inline_math_renders(page):
    assert not broken_formulas(page), "\n".join(broken_formulas(page))


@pytest.mark.parametrize("source", _params(
    [p for p in SOURCES if p != Path(__file__).resolve()]))
def test_code_points_to_existing_docs(source):
    assert not broken_pointers(source), "\n".join(broken_pointers(source))


@pytest.mark.parametrize("path", _params(SCANNED))
def test_no_mention_of_developer_notes(path):
    hits = [f"{_rel(path)}:{n}: {line.strip()}"
            for n, line in enumerate(path.read_text().splitlines(), 1) if NOTES.search(line)]
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize("page", _params(EXECUTED))
def test_examples_run(page):
    blocks = python_blocks(page.read_text())
    assert blocks, f"{_rel(page)} has no python example"
    namespace: dict = {}
    for start, code in blocks:
        # pad with newlines so tracebacks show the line number in the page
        exec(compile("\n" * (start - 1) + code, str(page), "exec"), namespace)  # noqa: S102


def test_the_checks_catch_planted_faults(tmp_path, monkeypatch):
    """Each checker reports a fault planted in a temporary page or source file."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    target = tmp_path / "docs" / "target.md"
    target.write_text("# Target page\n\n## A section: with (punctuation)\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n## Page\n\n## a - b\n\n"
        "[ok](target.md#a-section-with-punctuation) [bad anchor](target.md#missing)\n"
        "![missing](img.png) [web](https://example.org/x.md) [self](#page)\n"
        "`[in code](nowhere.md)` $x$ and $y +\nz$\n$a = $ b\n\n"
        "```python\n[in a block](nowhere.md)\n```\n"
    )
    assert broken_links(page) == [
        "docs/page.md:7: target.md#missing (no heading with anchor #missing)",
        "docs/page.md:8: img.png (no such file)",
    ]
    assert len(unstable_headings(page)) == 2  # repeated "page", "a - b" differs by renderer
    assert not unstable_headings(target)
    assert [line.split(":")[1] for line in broken_formulas(page)] == ["9", "10", "11"]
    source = tmp_path / "module.py"
    source.write_text('"""See docs/target.md#target-page and docs/target.md#gone, docs/no.md."""')
    assert broken_pointers(source) == ["module.py: docs/target.md#gone", "module.py: docs/no.md"]
    assert NOTES.search("see " + "DESIGN" + ".md 3.2") and NOTES.search("DESIGN" + " 3.5")
    assert not NOTES.search("the design of the solver")
    assert python_blocks("```python\nx = 1\n```\n```text\ny\n```\n") == [(2, "x = 1")]
