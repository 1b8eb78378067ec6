"""``OUT/index.html``: a static, self-contained report of a run.

What the run is (data, sizes, networks, device, time and throughput, the config and the
command that translates with it), the newest sample grid large (earlier ones folded), the
last training losses, the end-of-run evaluation apart from them (saying what it was computed
on), and loss curves as inline SVG generated here. No external JS/CSS and no server: open
the file in a browser. A tiny inline script records, in a hidden element, whether every
image decoded and every curve has a path (the browser test reads it).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from i2i.io.atomic import atomic_write_bytes
from i2i.train.progress import group_losses

#: Sample grids are zoomed by an integer factor up to about this width (CSS pixels).
_PAGE_WIDTH = 1150

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
.curves{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0 0 1.2em 0}
figcaption{font-size:.9em;color:#555} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#f4f4f4}
img{image-rendering:pixelated;border:1px solid #ddd}
img.grid{max-width:100%;height:auto}
table.run td{text-align:left} td.terms{text-align:left}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto} ul.defs{font-size:.85em;color:#444}
.legend span{margin-right:1em;font-size:.85em}
"""

_CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var decoded = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  var paths = Array.prototype.slice.call(document.querySelectorAll("svg.curve path.line"));
  var drawn = paths.length > 0 && paths.every(function (p) { return (p.getAttribute("d") || "").length > 2; });
  var out = document.getElementById("report-check");
  out.setAttribute("data-images", String(imgs.length));
  out.setAttribute("data-images-ok", String(decoded));
  out.setAttribute("data-curves", String(paths.length));
  out.setAttribute("data-curves-ok", String(drawn));
});
"""


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def svg_curves(
    title: str, series: Mapping[str, Sequence[tuple[float, float]]], width: int = 420, height: int = 220
) -> str:
    """One chart: a polyline per series over (step, value) points, with axis labels."""
    pts = [(x, y) for s in series.values() for x, y in s if _finite(x) and _finite(y)]
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 48, 8, 20, 24
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    parts = [
        f'<svg class="curve" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<text x="{left}" y="14" font-size="12">{html.escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>',
        f'<text x="2" y="{top + 10}" font-size="10">{y1:.3g}</text>',
        f'<text x="2" y="{top + ph}" font-size="10">{y0:.3g}</text>',
        f'<text x="{left}" y="{height - 6}" font-size="10">{x0:g}</text>',
        f'<text x="{left + pw}" y="{height - 6}" font-size="10" text-anchor="end">step {x1:g}</text>',
    ]
    legend = []
    for i, (name, s) in enumerate(series.items()):
        good = [(x, y) for x, y in s if _finite(x) and _finite(y)]
        if not good:
            continue
        color = _PALETTE[i % len(_PALETTE)]
        if len(good) == 1:
            good = good * 2
        d = "M" + " L".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in good)
        parts.append(
            f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="1.5"><title>{html.escape(name)}</title></path>'
        )
        legend.append(f'<span style="color:{color}">&#9632; {html.escape(name)}</span>')
    parts.append("</svg>")
    return f'<figure>{"".join(parts)}<figcaption class="legend">{"".join(legend)}</figcaption></figure>'


def _loss_series(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Charts grouped by the loss key's prefix (``G/...`` and ``D/...`` apart)."""
    charts: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        losses = row.get("losses")
        if not isinstance(losses, Mapping):
            continue
        for key, value in losses.items():
            group = key.split("/", 1)[0] if "/" in key else "loss"
            charts.setdefault(group, {}).setdefault(key, []).append((row["step"], value))
    return charts


def _table(rows: Sequence[tuple[str, str]], cls: str) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{cells}</table>'


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _losses_table(losses: Mapping[str, float]) -> str:
    """One row per player (the key's prefix before ``/``), one cell per term."""

    rows = []
    for player, terms in group_losses(losses).items():
        cells = " ".join(f"{html.escape(t)}&nbsp;=&nbsp;{_fmt(v)}" for t, v in terms.items() if _finite(v))
        rows.append(f'<tr><th>{html.escape(player or "loss")}</th><td class="terms">{cells}</td></tr>')
    return f'<table class="losses">{"".join(rows)}</table>'


def _eval_table(table: Mapping[str, Mapping[str, float]]) -> str:
    order = ("model", "identity", "mean_image", "real")
    columns = [c for c in order if any(c in row for row in table.values())]
    columns += sorted({c for row in table.values() for c in row} - set(columns))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["metric", *columns])
    body = []
    for metric, row in table.items():
        cells = "".join(f"<td>{_fmt(row[c]) if c in row and _finite(row[c]) else ''}</td>" for c in columns)
        body.append(f"<tr><th>{html.escape(metric)}</th>{cells}</tr>")
    return f'<table class="metrics"><tr>{head}</tr>{"".join(body)}</table>'


def _sample_figure(step: int, rel: str, size: tuple[int, int] | None, large: bool) -> str:
    """A grid shown at an integer zoom that makes its tiles large enough to judge."""
    src = html.escape(rel, quote=True)
    attrs_ = ""
    if size is not None:
        width, height = size
        zoom = max(1, min(4, _PAGE_WIDTH // max(width, 1))) if large else 1
        attrs_ = f' width="{width * zoom}" height="{height * zoom}"'
    return (
        f'<figure><a href="{src}"><img class="grid" src="{src}"{attrs_} alt="samples at step {step}"></a>'
        f"<figcaption>step {step}</figcaption></figure>"
    )


def _png_size(path: Path) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def render(
    *,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    samples: Sequence[tuple[int, str]],
    final: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    columns: Sequence[str] = (),
    run: Sequence[tuple[str, str]] = (),
    losses: Mapping[str, float] | None = None,
    loss_step: int | None = None,
    evaluation: Any = None,
    translate_command: str = "",
    config_text: str = "",
    sample_note: str = "",
    base: Path | None = None,
) -> str:
    """The whole page.

    ``run``: label/value facts (data, sizes, device, time...); ``samples``: ``(step, relative
    path)``, the newest shown large; ``columns`` names the grid's columns; ``losses``: the last
    logged training losses (at ``loss_step``); ``evaluation``: a
    :class:`~i2i.train.evaluation.RunEvaluation`; ``final``: extra numbers for a plain table
    (kept for callers without an evaluation record); ``base``: the page's folder, to size images.
    """
    body = [f"<h1>{html.escape(title)}</h1>"]
    body.extend(f"<p>{html.escape(n)}</p>" for n in notes)
    if run:
        body.append("<h2>Run</h2>" + _table(run, "run"))
    if translate_command:
        body.append(f"<p>Translate with this run:</p><pre>{html.escape(translate_command)}</pre>")
    if config_text:
        body.append(
            '<p>Config: <a href="config.toml">config.toml</a> (reproduce with '
            "<code>i2i run --config config.toml</code>)</p>"
        )
        body.append(f"<details><summary>show the config</summary><pre>{html.escape(config_text)}</pre></details>")
    if samples:
        body.append("<h2>Samples</h2>")
        if columns:
            body.append(
                f"<p>One image per row; columns: {html.escape(' | '.join(columns))}. {html.escape(sample_note)}</p>"
            )
        ordered = sorted(samples, reverse=True)
        for i, (step, rel) in enumerate(ordered):
            size = _png_size(base / rel) if base is not None else None
            if i == 1:
                body.append(f"<details><summary>earlier samples ({len(ordered) - 1})</summary>")
            body.append(_sample_figure(step, rel, size, large=i == 0))
        if len(ordered) > 1:
            body.append("</details>")
    if losses:
        at = f" at step {loss_step}" if loss_step is not None else ""
        body.append(
            f"<h2>Training losses{at}</h2><p><small>Averaged over the steps since the previous log line; "
            "training batches, not an evaluation.</small></p>" + _losses_table(losses)
        )
    if evaluation is not None:
        body.append(
            f"<h2>Evaluation</h2><p>On {html.escape(evaluation.on)}"
            f"{'' if evaluation.held_out else ' - <strong>not held out</strong>: these images were trained on'}"
            f"; took {evaluation.seconds:.1f} s.</p>"
        )
        if evaluation.table:
            body.append(_eval_table(evaluation.table))
        items = [f"<li><em>{html.escape(k)}</em>: {html.escape(v)}</li>" for k, v in evaluation.definitions.items()]
        items += [f"<li>{html.escape(n)}</li>" for n in evaluation.notes]
        if items:
            body.append(f'<ul class="defs">{"".join(items)}</ul>')
    if final:
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4g}</td></tr>" for k, v in final.items() if _finite(v))
        body.append(f'<h2>Final metrics</h2><table class="metrics">{cells}</table>')
    charts = _loss_series(rows)
    if charts:
        body.append('<h2>Loss curves</h2><div class="curves">')
        body.extend(svg_curves(group, series) for group, series in charts.items())
        lr_series: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            for name, lr in (row.get("lr") or {}).items():
                lr_series.setdefault(f"lr {name}", []).append((row["step"], lr))
        if lr_series:
            body.append(svg_curves("learning rate", lr_series))
        body.append("</div>")
    # Filled in by the inline script for the browser test; never shown.
    body.append('<p id="report-check" hidden></p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_CHECK_SCRIPT}</script>\n</body></html>\n"
    )


def write_report(path: Path, page: str) -> None:
    """Replace ``path`` atomically, so a browser refresh never sees half a page."""
    atomic_write_bytes(path, page.encode("utf-8"))
