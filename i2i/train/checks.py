"""Start-up checks of a run: the values the loop relies on, paths, the training device.

Run before anything is built or written, so a bad value is one ``error:`` line at start.
"""

from __future__ import annotations

from typing import Any

import torch

from i2i.errors import ConfigError, UsageError
from i2i.train.context import check_clip
from i2i.train.schedule import check_schedule


def check_train(train: Any) -> None:
    for name in ("log_every", "sample_every", "checkpoint_every", "batch_size", "max_bad_steps"):
        if getattr(train, name) < 1:
            raise ConfigError(f"train.{name}: expected a positive integer, got {getattr(train, name)!r}")
    if train.steps is not None and train.steps < 0:
        raise ConfigError(f"train.steps: expected a non-negative integer, got {train.steps!r}")
    if train.keep_checkpoints < 0:
        raise ConfigError(f"train.keep_checkpoints: expected >= 0, got {train.keep_checkpoints!r}")
    if not -(2**63) <= train.seed < 2**63 - 2**16:  # room for seed + rank (torch takes 64 bits)
        raise ConfigError(f"train.seed: expected an integer of at most 63 bits, got {train.seed!r}")
    check_schedule(train)
    check_clip(train.grad_clip)


def check_path(value: Any, what: str) -> None:
    if value is not None and "\0" in str(value):
        raise UsageError(f"{what}: the path contains a NUL character: {str(value)!r}")


def check_device(device: torch.device, name: str) -> None:
    """Training runs on a CPU, a CUDA GPU or Apple's MPS; anything else is refused by name."""
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"train.device: {name!r} requested but MPS (an Apple GPU) is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"train.device: training runs on cpu, cuda or mps, not {name!r}")

