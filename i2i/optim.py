"""Optimizers for methods: ``torch.optim.Adam``, fused when the parameters' device allows.

torch's default Adam on CPU updates parameter by parameter (six elementwise passes each);
its fused kernel does one pass per parameter. On this project's 2-core CPU the fused update
of pix2pix's 54M-parameter U-Net takes 23 ms instead of 169 ms (`benchmarks/README.md`),
about a third of a bf16 pix2pix step. The result is the same Adam: same state, same
``state_dict`` layout, checkpoints load either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

#: device types with a fused Adam kernel (torch >= 2.4)
FUSED_DEVICE_TYPES = frozenset({"cpu", "cuda", "xpu", "mps"})


def _fusable(params: list[Any]) -> bool:
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return bool(tensors) and all(
        isinstance(p, torch.Tensor) and p.is_floating_point() and p.device.type in FUSED_DEVICE_TYPES for p in tensors
    ) and len({p.device.type for p in tensors}) == 1


def adam(params: Iterable[Any], **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam(params, **kwargs)``, with ``fused=True`` unless the caller says
    otherwise or a parameter lives where no fused kernel exists.

    Call it from ``Method.configure_optimizers`` (the trainer has already moved the method to
    its device and layout by then).
    """
    params = list(params)
    if "fused" not in kwargs and "foreach" not in kwargs and _fusable(params):
        kwargs["fused"] = True
    return torch.optim.Adam(params, **kwargs)
