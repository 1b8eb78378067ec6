"""The evaluation report: every metric beside its trivial baselines, as a table and as JSON.

Columns of the table (a blank cell means "not applicable"):

* ``model``      the checkpoint's translations;
* ``identity``   the input returned unchanged (what a method that learned nothing scores);
* ``mean_image`` every output replaced by the pixelwise mean of the real target-domain
  training images;
* ``real``       real images in place of translations: for distribution distances (SWD, KID,
  FID) the distance between two disjoint real sets of the same count (the floor no model
  can beat at this sample size); for ``accuracy`` the domain classifier's accuracy on
  held-out real images (the ceiling); for ``diversity`` the spread of the real images.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from i2i.io.images import atomic_write_bytes

COLUMNS = ("model", "identity", "mean_image", "real")

#: One line per metric family, printed under the table and stored in the JSON.
DEFINITIONS = {
    "psnr": "dB, per image on [0,1] images, mean over images (higher is better)",
    "ssim": "kornia SSIM, Gaussian window 11, sigma 1.5, on [0,1] RGB/grey, mean over channels and pixels (higher is better)",
    "l1": "mean absolute error on [0,1] images (lower is better)",
    "cycle": "L1 on [0,1] between an input and its round trip A->B->A (lower is better; identity scores 0 trivially)",
    "swd": "sliced Wasserstein distance x1e3 on 7x7 Laplacian-pyramid patches (ProGAN recipe), mean over levels (lower is better)",
    "accuracy": "share of translations the domain classifier (trained on real training images, rank-normalised inputs) assigns to the target domain",
    "kid_classifier": "KID (cubic-kernel unbiased MMD^2) in the domain classifier's features; NOT Inception/FID features (lower is better)",
    "fid": "FID with the FID Inception v3 (pytorch-fid weights) (lower is better; biased upwards for small sets)",
    "kid": "KID with the FID Inception v3 features (lower is better)",
    "diversity": "mean pairwise L1 on [0,1] between the K samples of one input (higher is more diverse)",
    "best_of_k": "L1 on [0,1] of the sample closest to the held-out ground truth (lower is better)",
    "mean_of_k": "mean L1 on [0,1] of the K samples against the held-out ground truth (lower is better)",
    "idempotence": "L1 on [0,1] between a target-domain image and its translation, for methods trained to keep them (lower is better)",
}


def family(metric: str, definitions: dict[str, str] | None = None) -> str:
    """``swd_a2b`` -> ``swd``; ``kid_classifier_b2a`` -> ``kid_classifier``."""
    for name in sorted(definitions or DEFINITIONS, key=len, reverse=True):
        if metric == name or metric.startswith(name + "_"):
            return name
    return metric


@attrs.define
class EvalReport:
    """What ``i2i eval`` measured; ``table[metric][column]`` holds the numbers."""

    method: str
    checkpoint: str
    step: int
    data: str
    images: int
    table: dict[str, dict[str, float]] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    #: Images used per domain (unpaired data: ``{"a": 9, "b": 5}``, each once); empty otherwise.
    counts: dict[str, int] = attrs.field(factory=dict)
    #: Definitions of metric families, the core's and those of the method's own metrics.
    definitions: dict[str, str] = attrs.field(factory=lambda: dict(DEFINITIONS))

    def add(self, metric: str, column: str, value: float | None) -> None:
        if value is not None and math.isfinite(float(value)):
            self.table.setdefault(metric, {})[column] = float(value)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for hooks and loggers: ``metric`` (the model) and ``metric/column``."""
        flat: dict[str, float] = {"images": float(self.images)}
        for metric, row in self.table.items():
            for column, value in row.items():
                flat[metric if column == "model" else f"{metric}/{column}"] = value
        return flat

    def images_phrase(self) -> str:
        """``"4 images"``, or per domain or data source: ``"9 A + 5 B images (each used once)"``."""
        if self.counts:
            named = {d.upper() if len(d) == 1 else d: n for d, n in self.counts.items()}  # A/B, or sources
            return " + ".join(f"{n} {d}" for d, n in named.items()) + " images (each used once)"
        return f"{self.images} images"

    def to_json(self) -> dict[str, Any]:
        used = sorted({family(m, self.definitions) for m in self.table})
        return {
            "method": self.method,
            "checkpoint": self.checkpoint,
            "step": self.step,
            "data": self.data,
            "images": self.images,
            "counts": dict(self.counts),
            "metrics": self.metrics(),
            "table": self.table,
            "definitions": {name: self.definitions[name] for name in used if name in self.definitions},
            "notes": list(self.notes),
        }

    def write_json(self, path: str | Path) -> Path:
        """Write the JSON report atomically (a reader never sees half a file)."""
        text = json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"
        return atomic_write_bytes(path, text.encode("utf-8"))

    def format(self) -> str:
        """The printed table, the definitions of the metrics in it, and the notes."""
        header = f"{self.method} checkpoint {self.checkpoint} (step {self.step}) on {self.data}: {self.images_phrase()}"
        if not self.table:
            return "\n".join([header, "no metrics computed", *self.notes])
        columns = [c for c in COLUMNS if any(c in row for row in self.table.values())]
        width = max(len("metric"), *(len(m) for m in self.table))
        cells = {c: max(len(c), 10) for c in columns}
        lines = [header, "", "  ".join(["metric".ljust(width), *(c.rjust(cells[c]) for c in columns)])]
        lines.append("  ".join(["-" * width, *("-" * cells[c] for c in columns)]))
        for metric, row in self.table.items():
            values = [(_fmt(row[c]) if c in row else "").rjust(cells[c]) for c in columns]
            lines.append("  ".join([metric.ljust(width), *values]))
        used = [f for f in dict.fromkeys(family(m, self.definitions) for m in self.table) if f in self.definitions]
        lines += ["", *(f"{name}: {self.definitions[name]}" for name in used)]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4f}"
