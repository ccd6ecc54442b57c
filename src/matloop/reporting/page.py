"""The report as one self-contained HTML page: inline CSS, PNGs embedded as data URIs, no
scripts and nothing fetched, so it opens offline and can be mailed as a single file."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1320px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
p.intro { color: #444; max-width: 60em; }
p.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.5em 0.8em; }
figure { margin: 1em 1em 1em 0; display: inline-block; vertical-align: top; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 14em; }
"""


@dataclass(frozen=True)
class Table:
    """``rows`` of cells; cells that parse as numbers are right-aligned."""

    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Section:
    """A heading, a sentence on how to read it, its PNGs (embedded), tables and notes."""

    title: str
    intro: str
    images: Sequence[Path] = ()
    tables: Sequence[Table] = ()
    notes: Sequence[str] = field(default_factory=list)


def render(title: str, facts: Sequence[tuple[str, str]], sections: Sequence[Section]) -> str:
    """The whole page as text."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
             f"<h1>{_e(title)}</h1>\n",
             _table(Table("", ("", ""), facts), css="facts", header=False)]
    for section in sections:
        parts.append(f"<section>\n<h2>{_e(section.title)}</h2>\n"
                     f"<p class=\"intro\">{_e(section.intro)}</p>\n")
        parts += [f"<p class=\"note\">{_e(note)}</p>\n" for note in section.notes]
        parts += [_image(path) for path in section.images]
        parts += [_table(table) for table in section.tables]
        parts.append("</section>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{_e(path.stem)}\">"
            f"<figcaption>{_e(path.name)}</figcaption></figure>\n")


def _table(table: Table, css: str = "", header: bool = True) -> str:
    lines = [f"<table class=\"{css}\">" if css else "<table>"]
    if table.caption:
        lines.append(f"<caption>{_e(table.caption)}</caption>")
    if header:
        lines.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in table.header) + "</tr>")
    for row in table.rows:
        cells = []
        for k, cell in enumerate(row):
            tag = "th" if not header and k == 0 else "td"
            css_class = " class=\"number\"" if header and _numeric(cell) else ""
            cells.append(f"<{tag}{css_class}>{_e(cell)}</{tag}>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>\n")
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    head = cell.split(" ", 1)[0].replace("±", "")
    try:
        float(head)
    except ValueError:
        return False
    return True


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
