"""Start-up checks of a run: the values the loop relies on, paths, the training device.

Run before anything is built or written, so a bad value is one ``error:`` line at start.
Config values are checked by the config classes themselves (:mod:`i2i.config.validation`).
"""

from __future__ import annotations

from typing import Any

import torch

from i2i.errors import ConfigError, UsageError


def check_path(value: Any, what: str) -> None:
    if value is not None and "\0" in str(value):
        raise UsageError(f"{what}: the path contains a NUL character: {str(value)!r}")


def check_device(device: torch.device, name: str) -> None:
    """Training runs on a CPU, a CUDA GPU or Apple's MPS; anything else is refused by name.
    (An unavailable backend never gets here: :func:`i2i.train.precision.resolve_device` refuses it.)"""
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"train.device: training runs on cpu, cuda or mps, not {name!r}")
