"""Self-contained HTML reports: figures embedded as base64 PNG, tables, and summary.json.

The page references nothing outside itself (inline style, ``data:`` images), so it can be
mailed or archived as one file. Titles, headings, texts and table cells are plain text and are
escaped; a text may hold several paragraphs separated by blank lines.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from pathlib import Path

import numpy as np

from ..errors import JaxinterInputError, check_mapping, check_path, check_text
from ._files import to_jsonable, write_atomic


@dataclasses.dataclass
class Table:
    """A table of a report.

    Attributes:
      caption: title shown above the table.
      header: column names.
      rows: lists of cells, one per row (floats shown with 4 significant digits).
    """

    caption: str
    header: list[str]
    rows: list[list]


@dataclasses.dataclass
class Section:
    """A section of a report: a heading, plain-text paragraphs, then tables, then figures.

    Attributes:
      heading: section title.
      text: plain text; blank lines separate paragraphs.
      figures: paths of PNG files, embedded in the page.
      tables: ``Table`` objects.
    """

    heading: str
    text: str = ""
    figures: list[Path] = dataclasses.field(default_factory=list)  # PNG paths
    tables: list[Table] = dataclasses.field(default_factory=list)


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    return (
        f"<table><caption>{html.escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _paragraphs(text: str) -> str:
    return "".join(
        f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip()
    )


def _figure_html(path: Path) -> str:
    raw = Path(path).read_bytes()
    if not raw.startswith(b"\x89PNG"):
        raise ValueError(f"figures: {path} is not a PNG file")
    data = base64.b64encode(raw).decode("ascii")
    name = html.escape(Path(path).name)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}">' \
           f"<figcaption>{name}</figcaption></figure>"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #446}h2{margin-top:2em;color:#335}
img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}
figcaption{font-size:.8em;color:#666}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
caption{font-weight:bold;text-align:left;padding:.3em 0}
pre{background:#f6f6f8;padding:.8em;overflow-x:auto}
"""


def write_report(
    out_dir: Path, title: str, sections: list[Section], summary: dict, intro: str = ""
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and ``out_dir/summary.json``.

    Both files are written atomically, so a killed run leaves no partial file.

    Args:
      out_dir: output folder (created if needed).
      title: page title.
      sections: ``Section`` objects, in order.
      summary: headline numbers, converted with ``to_jsonable`` (non-finite floats become
        null); also shown at the end of the page.
      intro: plain text shown under the title.

    Returns:
      Path of ``report.html``.
    """
    out_dir = check_path(out_dir, "out_dir", writable="dir")
    check_text(title, "title")
    check_text(intro, "intro")
    if isinstance(sections, str) or not isinstance(sections, list | tuple) or not all(
            isinstance(s, Section) for s in sections):
        raise JaxinterInputError(f"sections: expected a list of io.Section, got {sections!r:.60}")
    check_mapping(summary, "summary", optional=False)
    try:
        json.dumps(to_jsonable(summary))
    except (TypeError, ValueError) as err:
        raise JaxinterInputError(f"summary: expected JSON-able content, got {err}") from err
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    parts.append(_paragraphs(intro))
    for section in sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        parts.append(_paragraphs(section.text))
        parts.extend(_table_html(t) for t in section.tables)
        parts.extend(_figure_html(f) for f in section.figures)
    summary_json = json.dumps(to_jsonable(summary), indent=2, allow_nan=False)
    parts.append(f"<h2>summary.json</h2><pre>{html.escape(summary_json)}</pre></body></html>")
    write_atomic(out_dir / "summary.json", summary_json)
    return write_atomic(out_dir / "report.html", "".join(parts))
