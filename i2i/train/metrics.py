"""Loss bookkeeping without per-step device syncs, and ``OUT/metrics.jsonl``.

Losses arrive as detached device tensors; they are summed on the device and turned into
Python floats once per ``train.log_every`` steps (one transfer for all of them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import torch


class LossAverager:
    """Running sums of a step's losses, as device tensors."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, losses: Mapping[str, torch.Tensor | float]) -> None:
        for key, value in losses.items():
            value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            if key in self.sums:
                self.sums[key] = self.sums[key] + value
            else:
                self.sums[key] = value.clone()
        self.count += 1

    def pop(self) -> dict[str, float]:
        """The averages since the last pop (one device sync), and reset."""
        if not self.sums or self.count == 0:
            self.sums, self.count = {}, 0
            return {}
        keys = list(self.sums)
        device = self.sums[keys[0]].device
        values = torch.stack([self.sums[k].to(device).reshape(()) for k in keys]).div_(self.count).tolist()
        self.sums, self.count = {}, 0
        return dict(zip(keys, values))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl``; also keeps them for the report."""

    def __init__(self, path: Path, *, resume_step: int | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and path.exists():
            # a killed run may have logged steps after its last checkpoint: those are redone
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by the kill
                if isinstance(row, dict) and row.get("step", 0) <= resume_step:
                    self.rows.append(row)
            path.write_text("".join(json.dumps(r) + "\n" for r in self.rows))
        elif path.exists():
            path.unlink()

    def write(self, row: Mapping[str, Any]) -> None:
        clean: dict[str, Any] = _jsonable(dict(row))
        self.rows.append(clean)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(clean) + "\n")
