"""A static HTML gallery: one row per input, its outputs (and target, where known) beside it.

``i2i translate --html`` writes it next to the outputs. It is one self-contained page with
relative links and inline CSS, no script and no server: opening the file in any browser
(or attaching the output folder to an email) shows it.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import attrs

from i2i.io.images import atomic_write_bytes


@attrs.frozen
class GalleryRow:
    """One input: ``cells`` are (column label, image path) pairs, in display order."""

    name: str
    cells: tuple[tuple[str, str], ...] = attrs.field(converter=lambda cells: tuple(cells))


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.3em; } p.meta { color: #666; margin-top: -0.5em; }
table { border-collapse: collapse; }
th, td { padding: 6px; text-align: center; vertical-align: top; border-bottom: 1px solid #ddd; }
th { position: sticky; top: 0; background: #fafafa; font-weight: 600; }
td.name { text-align: left; font-family: monospace; max-width: 14em; word-break: break-all; }
img { max-width: 256px; max-height: 256px; image-rendering: auto; background: #eee; }
td.missing { color: #aaa; }
"""


def _rel(path: str | Path, base: Path) -> str:
    """A URL for ``path`` relative to the page's folder (percent-encoded, so any file name works)."""
    rel = os.path.relpath(Path(path).resolve(), base.resolve())
    return quote(Path(rel).as_posix())


def render_gallery(rows: Sequence[GalleryRow], base: Path, *, title: str = "i2i results", meta: str = "") -> str:
    """The page's HTML; image links are made relative to ``base`` (the page's folder)."""
    columns: list[str] = []
    for row in rows:
        for label, _ in row.cells:
            if label not in columns:
                columns.append(label)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["name", *columns])
    body = []
    for row in rows:
        cells = dict(row.cells)
        tds = [f'<td class="name">{html.escape(row.name)}</td>']
        for column in columns:
            if column in cells:
                url = _rel(cells[column], base)
                alt = html.escape(f"{row.name} {column}")
                tds.append(f'<td><a href="{url}"><img src="{url}" alt="{alt}" loading="lazy"></a></td>')
            else:
                tds.append('<td class="missing">&ndash;</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    meta_html = f'<p class="meta">{html.escape(meta)}</p>' if meta else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1>{meta_html}\n<table><thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></body></html>\n"
    )


def write_gallery(path: str | Path, rows: Sequence[GalleryRow], *, title: str = "i2i results", meta: str = "") -> Path:
    """Write the gallery page atomically to ``path``; returns the path."""
    path = Path(path)
    return atomic_write_bytes(path, render_gallery(rows, path.parent, title=title, meta=meta).encode("utf-8"))


__all__ = ["GalleryRow", "render_gallery", "write_gallery"]
