"""``OUT/index.html``: a static, self-contained report of a run.

Sample grids newest first, loss curves as inline SVG generated here, the final metrics table.
No external JS/CSS and no server: open the file in a browser. A tiny inline script records
in the page whether every image decoded and every curve has a path (the browser test reads it).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from i2i.atomic import atomic_write_bytes

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
.curves{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0 0 1.2em 0}
figcaption{font-size:.9em;color:#555} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#f4f4f4}
img{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
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
  out.textContent = "report-check images=" + imgs.length + " images_ok=" + decoded +
                    " curves=" + paths.length + " curves_ok=" + drawn;
});
"""


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def svg_curves(title: str, series: Mapping[str, Sequence[tuple[float, float]]], width: int = 420, height: int = 220) -> str:
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
        parts.append(f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="1.5"><title>{html.escape(name)}</title></path>')
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


def render(
    *,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    samples: Sequence[tuple[int, str]],
    final: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> str:
    """The whole page; ``samples`` are ``(step, relative path)``, shown newest first;
    ``columns`` names the grid's columns (one held-out image per row)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    body.extend(f"<p>{html.escape(n)}</p>" for n in notes)
    if final:
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4g}</td></tr>" for k, v in final.items() if _finite(v))
        body.append(f'<h2>Final metrics</h2><table class="metrics">{cells}</table>')
        if any(k.endswith("psnr_identity") or k.endswith("psnr_mean_color") for k in final):
            body.append(
                "<p><small>Held-out PSNR (dB) of the output against the target, beside two trivial "
                "baselines: <em>identity</em> (the input itself as the prediction) and <em>mean colour</em> "
                "(every pixel the mean colour of the scored targets).</small></p>"
            )
        if any(k.endswith("l1_change") for k in final):
            body.append("<p><small>l1_change: mean absolute input-output difference in [0, 1] units "
                        "(how much the method changes its input).</small></p>")
    charts = _loss_series(rows)
    if charts:
        body.append('<h2>Losses</h2><div class="curves">')
        body.extend(svg_curves(group, series) for group, series in charts.items())
        lr_series: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            for name, lr in (row.get("lr") or {}).items():
                lr_series.setdefault(f"lr {name}", []).append((row["step"], lr))
        if lr_series:
            body.append(svg_curves("learning rate", lr_series))
        body.append("</div>")
    if samples:
        body.append("<h2>Samples (newest first)</h2>")
        if columns:
            body.append(f"<p>Each row one held-out image; columns: {html.escape(' | '.join(columns))}</p>")
        for step, rel in sorted(samples, reverse=True):
            src = html.escape(rel, quote=True)
            body.append(f'<figure><img src="{src}" alt="samples at step {step}"><figcaption>step {step}</figcaption></figure>')
    body.append('<p id="report-check" style="color:#aaa;font-size:.7em"></p>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_CHECK_SCRIPT}</script>\n</body></html>\n"
    )


def write_report(path: Path, page: str) -> None:
    """Replace ``path`` atomically, so a browser refresh never sees half a page."""
    atomic_write_bytes(path, page.encode("utf-8"))
