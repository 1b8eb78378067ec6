"""Optimizers for methods: ``torch.optim.Adam``, fused when the parameters' device allows.

torch's default Adam on CPU updates parameter by parameter (six elementwise passes each);
its fused kernel does one pass per parameter. On this project's 2-core CPU the fused update
of pix2pix's 54M-parameter U-Net takes 23 ms instead of 169 ms (``benchmarks/README.md``).

The trainer keeps convolution weights channels_last (oneDNN's fast layout), and torch's
fused CPU kernel copies each such weight's gradient to a contiguous buffer every step
(14.3 ms instead of 3.5 ms for a 1024x512x4x4 weight here). Adam is elementwise, so
:class:`Adam` hands the kernel each channels_last weight's tensors permuted to NHWC: a
contiguous view of the same memory. Same update, same state, same ``state_dict``:
checkpoints of either optimizer load into the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

#: device types with a fused Adam kernel (torch >= 2.4)
FUSED_DEVICE_TYPES = frozenset({"cpu", "cuda", "xpu", "mps"})
_TO_NHWC = (0, 2, 3, 1)


def _channels_last_only(t: torch.Tensor) -> bool:
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


class Adam(torch.optim.Adam):
    """``torch.optim.Adam`` whose fused kernel sees channels_last weights as contiguous views."""

    def _init_group(self, group: dict[str, Any], params: list[torch.Tensor], *lists: Any) -> Any:
        result = super()._init_group(group, params, *lists)
        if group.get("fused"):
            per_param = [lst for lst in lists if isinstance(lst, list) and len(lst) == len(params)]
            for i in range(len(params)):
                lists_of_i = [lst for lst in (params, *per_param) if isinstance(lst[i], torch.Tensor) and lst[i].dim() == 4]
                # only when weight, gradient and moments are all channels_last: their NHWC
                # views are then all contiguous and pair element by element in memory order
                if lists_of_i and all(_channels_last_only(lst[i]) for lst in lists_of_i):
                    for lst in lists_of_i:
                        lst[i] = lst[i].permute(_TO_NHWC)
        return result


def _fusable(params: list[Any]) -> bool:
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return bool(tensors) and all(
        isinstance(p, torch.Tensor) and p.is_floating_point() and p.device.type in FUSED_DEVICE_TYPES for p in tensors
    ) and len({p.device.type for p in tensors}) == 1


def adam(params: Iterable[Any], **kwargs: Any) -> torch.optim.Adam:
    """Adam for ``Method.configure_optimizers``, with ``fused=True`` unless the caller chooses
    ``fused`` or ``foreach`` or a parameter lives where no fused kernel exists.

    The trainer has already moved the method to its device and layout when it calls
    ``configure_optimizers``.
    """
    params = list(params)
    if "fused" not in kwargs and "foreach" not in kwargs and _fusable(params):
        kwargs["fused"] = True
    return Adam(params, **kwargs)
