"""Registers the MLflow logger with i2i (entry point ``mlflow = "i2i_mlflow.plugin"``)."""

from __future__ import annotations

from typing import Iterator

from i2i import LoggerSpec, hookimpl
from i2i_mlflow.logger import MlflowLogger


@hookimpl
def i2i_register_loggers() -> Iterator[LoggerSpec]:
    yield LoggerSpec(
        "mlflow",
        MlflowLogger,
        "MLflow: config as params, losses, learning rates, samples, metrics",
        requires=("mlflow",),
        extra="mlflow",
    )
