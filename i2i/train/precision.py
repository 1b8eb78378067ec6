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
from i2i.nets.narrow_conv import use_split_for_narrow_convs
from i2i.nets.small_maps import use_gemm_for_small_maps
from i2i.train.config import PRECISIONS  # the one list; translate's --precision is checked here too

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

#: Device types torch may run on, beyond CPU and CUDA: each needs its backend here.
_OTHER_BACKENDS = ("mps", "xla", "xpu", "hpu", "npu", "mtia")


def resolve_device(name: str, *, local_rank: int = 0, what: str = "train.device") -> torch.device:
    """A device name -> a device, for training (``what="train.device"``) and inference
    (``--device``) alike. ``auto`` is this rank's GPU when there is one, else the CPU.

    ``mps``, ``xla`` ... are accepted where this torch has the backend and it is usable here;
    elsewhere (and for ``meta``, which holds no data) the error says so and names the choices.
    """
    name = str(name).strip()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{what}: unknown device {name!r} ({_choices()})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{what}: {name!r} requested but CUDA is not available ({_choices()})")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        elif device.index >= torch.cuda.device_count():
            raise ConfigError(f"{what}: {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return device
    if device.type == "meta":
        raise ConfigError(f"{what}: 'meta' tensors hold no data, nothing can run there ({_choices()})")
    if device.type != "cpu" and not backend_available(device.type):
        raise ConfigError(f"{what}: {name!r} is not available with this torch on this machine ({_choices()})")
    return device


def backend_available(kind: str) -> bool:
    """Whether torch can run on device type ``kind`` here (``mps`` on Apple silicon, ``xla``
    with torch_xla installed, ``xpu`` ...)."""
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "xla":
        import importlib.util  # lazy: only to probe for torch_xla

        return importlib.util.find_spec("torch_xla") is not None
    module = getattr(torch, kind, None) if kind != "mps" else getattr(torch.backends, "mps", None)
    check = getattr(module, "is_available", None)
    try:
        return bool(check()) if callable(check) else False
    except Exception:  # a half-installed backend raising from is_available() is unavailable
        return False


def _choices() -> str:
    available = ["auto", "cpu"] + (["cuda", "cuda:N"] if torch.cuda.is_available() else [])
    available += [kind for kind in _OTHER_BACKENDS if backend_available(kind)]
    return "available here: " + ", ".join(available)


@functools.cache
def cpu_supports_bf16() -> bool:
    """True when /proc/cpuinfo lists AMX or AVX512-BF16 (bf16 matmuls in hardware)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set(text.split())
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def resolve_precision(name: str, device: torch.device, *, what: str = "train.precision") -> str:
    """A precision name -> ``fp32``, ``bf16`` or ``fp16`` for ``device``: one rule for training
    and inference. ``auto`` is bf16 where the hardware computes it natively (a CUDA GPU that
    supports it, a CPU with AMX or AVX512-BF16), else fp32."""
    if name not in PRECISIONS:
        raise ConfigError(f"{what}: unknown precision {name!r} (choose from {', '.join(PRECISIONS)})")
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        if device.type == "cpu":
            return "bf16" if cpu_supports_bf16() else "fp32"
        return "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(f"{what}: fp16 needs a CUDA device (this is {device.type}); use bf16 or fp32")
    return name


def emulation_note(precision: str, device: torch.device) -> str | None:
    """A warning for a resolved precision the hardware lacks: bf16 on a CPU without AMX or
    AVX512-BF16 runs in software, about ten times slower than fp32 (pix2pix's demo step on an
    AVX2-only EPYC: 3.2 it/s fp32, 0.33 it/s bf16). ``auto`` never picks it there; an explicit
    ``bf16`` still runs (same numbers as on bf16 hardware), with this said once at the start."""
    if precision == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        return "bf16 is emulated on this CPU (no AMX or AVX512-BF16): expect it several times slower than fp32, which auto picks here"
    return None


@attrs.define
class Precision:
    """The run's autocast and gradient scaler; ``autocast()`` is what ``ctx.autocast`` returns."""

    device: torch.device
    name: str  # fp32 | bf16 | fp16
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def create(cls, name: str, device: torch.device) -> Precision:
        resolved = resolve_precision(name, device)
        scaler = torch.amp.GradScaler(device.type) if resolved == "fp16" else None
        return cls(device, resolved, scaler)

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES[self.name]

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        """Autocast in the run's precision; ``enabled=False`` gives a full-precision region
        (e.g. a gradient penalty a method wants in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)


def use_fast_kernels(
    module: torch.nn.Module,
    device: torch.device,
    precision: str,
    *,
    channels_last: bool,
    small_map_gemm: bool,
    narrow_conv: bool,
) -> None:
    """The fast path's layout and kernels for a built model (training, benchmarks, translate):
    channels_last weights (oneDNN's and cuDNN's fast layout), and on a CPU in low precision the
    small-map convolutions as one matrix product (:mod:`i2i.nets.small_maps`) and those with at
    most 4 outputs as two cheaper convolutions (:mod:`i2i.nets.narrow_conv`). Never the latter
    two in fp32, whose numerics match the reference code step for step."""
    if channels_last:
        module.to(memory_format=torch.channels_last)
    if device.type != "cpu" or precision == "fp32":
        return
    if small_map_gemm:
        use_gemm_for_small_maps(module)
    if narrow_conv:
        use_split_for_narrow_convs(module)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))
