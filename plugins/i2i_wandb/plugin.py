"""Registers the W&B logger with i2i (entry point ``wandb = "i2i_wandb.plugin"``)."""

from __future__ import annotations

from typing import Iterator

from i2i import LoggerSpec, hookimpl
from i2i_wandb.logger import WandbLogger


@hookimpl
def i2i_register_loggers() -> Iterator[LoggerSpec]:
    yield LoggerSpec(
        "wandb",
        WandbLogger,
        "Weights & Biases: config, losses, learning rates, samples, metrics",
        requires=("wandb",),
        extra="wandb",
    )
