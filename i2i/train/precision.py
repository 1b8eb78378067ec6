"""Devices and numeric precision: which device, which autocast, whether to scale gradients.

bf16 keeps fp32's exponent range, so losses, gradient penalties and norms cannot overflow
and no gradient scaling is needed; it is the fast path on CPUs with AMX/AVX512-BF16 and on
recent GPUs. fp16 needs a :class:`torch.amp.GradScaler` and is offered on CUDA only.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

import attrs
import torch

from i2i.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, *, local_rank: int = 0) -> torch.device:
    """``train.device`` -> a device; ``auto`` is this rank's GPU when there is one, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device: {name!r} requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


@functools.cache
def cpu_supports_bf16() -> bool:
    """True when /proc/cpuinfo lists AMX or AVX512-BF16 (bf16 matmuls in hardware)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set(text.split())
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def resolve_precision(name: str, device: torch.device) -> str:
    """``train.precision`` -> ``fp32``, ``bf16`` or ``fp16`` for ``device``."""
    if name not in PRECISIONS:
        raise ConfigError(f"train.precision: unknown precision {name!r} (choose from {', '.join(PRECISIONS)})")
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        if device.type == "cpu":
            return "bf16" if cpu_supports_bf16() else "fp32"
        return "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"train.precision: fp16 needs a CUDA device (this run is on {device.type}); use bf16 or fp32"
        )
    return name


@attrs.define
class Precision:
    """The run's autocast and gradient scaler; ``autocast()`` is what ``ctx.autocast`` returns."""

    device: torch.device
    name: str  # fp32 | bf16 | fp16
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def create(cls, name: str, device: torch.device) -> "Precision":
        resolved = resolve_precision(name, device)
        scaler = torch.amp.GradScaler(device.type) if resolved == "fp16" else None
        return cls(device, resolved, scaler)

    @property
    def dtype(self) -> torch.dtype | None:
        return _DTYPES[self.name]

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        """Autocast in the run's precision; ``enabled=False`` gives a full-precision region
        (e.g. a gradient penalty a method wants in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))
