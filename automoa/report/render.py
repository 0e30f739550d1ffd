"""A small document model (sections of paragraphs, tables and figures) rendered two ways.

:func:`render_html` gives one self-contained page: inline CSS, every figure embedded as a
base64 ``data:`` URI, no script and no reference to any other file or URL.
:func:`render_markdown` gives GitHub-flavoured Markdown that links the PNG files by relative
path. Every text is escaped for its format; cells and paragraphs are plain text.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #1d1d1f; background: #fff; line-height: 1.45; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.3em; margin-top: 2em; padding-bottom: 0.2em; border-bottom: 1px solid #d0d7de; }
p.subtitle { color: #57606a; margin-top: 0; }
p.note { background: #fff8c5; border: 1px solid #e6d58a; padding: 6px 10px; border-radius: 4px; }
nav ol { columns: 2; padding-left: 1.4em; }
nav a { color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.9em; }
caption { caption-side: top; text-align: left; color: #57606a; padding-bottom: 4px; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; vertical-align: top; }
th { background: #f0f3f6; text-align: left; }
tbody tr:nth-child(even) { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { width: 14em; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: 0.9em; margin-top: 4px; }
"""


@dataclass(frozen=True)
class Paragraph:
    """Plain text; ``note`` marks a remark on something missing or skipped."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Facts:
    """A two-column list of (name, value) pairs."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``numeric`` marks the right-aligned columns."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG file with its caption; ``alt`` is the text shown where images are not."""

    path: Path
    caption: str
    alt: str


Block = Paragraph | Facts | Table | Figure


@dataclass(frozen=True)
class Section:
    """A titled part of the report; ``anchor`` is its in-page id."""

    title: str
    anchor: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """The whole report."""

    title: str
    subtitle: str
    sections: tuple[Section, ...]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(table: Table, css_class: str = "") -> list[str]:
    cls = f' class="{css_class}"' if css_class else ""
    lines = [f"<table{cls}>"]
    if table.caption:
        lines.append(f"<caption>{_esc(table.caption)}</caption>")
    heads = "".join(
        f'<th class="num">{_esc(c)}</th>' if num else f"<th>{_esc(c)}</th>"
        for c, num in zip(table.columns, table.numeric, strict=True)
    )
    lines.append(f"<thead><tr>{heads}</tr></thead><tbody>")
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_esc(v)}</td>' if num else f"<td>{_esc(v)}</td>"
            for v, num in zip(row, table.numeric, strict=True)
        )
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</tbody></table>")
    return lines


def _html_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        cls = ' class="note"' if block.note else ""
        return [f"<p{cls}>{_esc(block.text)}</p>"]
    if isinstance(block, Facts):
        lines = ['<table class="facts"><tbody>']
        for name, value in block.items:
            lines.append(f"<tr><th>{_esc(name)}</th><td>{_esc(value)}</td></tr>")
        lines.append("</tbody></table>")
        return lines
    if isinstance(block, Table):
        return _html_table(block)
    data = base64.b64encode(Path(block.path).read_bytes()).decode("ascii")
    return [
        "<figure>",
        f'<img src="data:image/png;base64,{data}" alt="{_esc(block.alt)}">',
        f"<figcaption>{_esc(block.caption)}</figcaption>",
        "</figure>",
    ]


def render_html(doc: Document) -> str:
    """The report as one self-contained HTML page.

    Args:
        doc: the report.

    Returns:
        The page; figures are read from their files and embedded.
    """
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(doc.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_esc(doc.title)}</h1>",
        f'<p class="subtitle">{_esc(doc.subtitle)}</p>',
        "<nav><ol>",
    ]
    lines += [f'<li><a href="#{s.anchor}">{_esc(s.title)}</a></li>' for s in doc.sections]
    lines.append("</ol></nav>")
    for section in doc.sections:
        lines.append(f'<section id="{section.anchor}">')
        lines.append(f"<h2>{_esc(section.title)}</h2>")
        for block in section.blocks:
            lines += _html_block(block)
        lines.append("</section>")
    lines += ["</main>", "</body>", "</html>", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or paragraph (no accidental markup)."""
    text = " ".join(text.split())
    for char in "\\`*_[]<>|#":
        text = text.replace(char, "\\" + char)
    return text


def _md_table(columns: tuple[str, ...], rows, numeric: tuple[bool, ...]) -> list[str]:
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return lines


def _md_block(block: Block, base: Path) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"> {_md(block.text)}" if block.note else _md(block.text)]
    if isinstance(block, Facts):
        return _md_table(("", ""), block.items, (False, False))
    if isinstance(block, Table):
        caption = [f"*{_md(block.caption)}*", ""] if block.caption else []
        return caption + _md_table(block.columns, block.rows, block.numeric)
    relative = Path(os.path.relpath(Path(block.path).resolve(), base.resolve())).as_posix()
    return [f"![{_md(block.alt)}]({relative})", "", f"*{_md(block.caption)}*"]


def render_markdown(doc: Document, base: str | Path) -> str:
    """The report as Markdown, linking figures by their path relative to ``base``.

    Args:
        doc: the report.
        base: the directory the Markdown file is written to.

    Returns:
        The Markdown text.
    """
    base = Path(base)
    lines = [f"# {_md(doc.title)}", "", _md(doc.subtitle), ""]
    for section in doc.sections:
        lines += [f"## {_md(section.title)}", ""]
        for block in section.blocks:
            lines += [*_md_block(block, base), ""]
    return "\n".join(lines)
