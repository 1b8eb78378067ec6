"""Optimizers for methods: ``torch.optim.Adam``, fused when the parameters' device allows.

torch's default Adam on CPU updates parameter by parameter (six elementwise passes each);
its fused kernel does one pass per parameter. On this project's 2-core CPU the fused update
of pix2pix's 54M-parameter U-Net takes 23 ms instead of 169 ms (``benchmarks/README.md``).

The trainer keeps convolution weights channels_last (oneDNN's fast layout), and torch's
fused CPU kernel copies each such weight's gradient to a contiguous buffer every step
(14.3 ms instead of 3.5 ms for a 1024x512x4x4 weight here). Adam is elementwise, so
:class:`Adam` hands the kernel each channels_last weight's tensors permuted to NHWC: a
contiguous view of the same memory. The fused kernel also pairs a weight's tensors in memory
order, which is wrong when their layouts differ (an NCHW run's checkpoint resumed
channels_last); :class:`Adam` first copies such moments into the weight's layout. Same update,
same state, same ``state_dict``: checkpoints of either optimizer load into the other.

The NHWC views hook into torch's private ``Adam._init_group``. Where the installed torch has
no ``_init_group`` of the known signature (:data:`LAYOUT_OVERRIDE` is False), :func:`adam`
falls back to plain ``torch.optim.Adam(fused=True)`` (:class:`FusedAdam`), which still loads
moments into their weight's layout on resume - correct, only without the copy-free views.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from i2i.weight_copies import WeightCopies

#: device types with a fused Adam kernel (torch >= 2.4)
FUSED_DEVICE_TYPES = frozenset({"cpu", "cuda", "xpu", "mps"})
_TO_NHWC = (0, 2, 3, 1)
_INIT_GROUP_SIGNATURE = (
    "self",
    "group",
    "params_with_grad",
    "grads",
    "exp_avgs",
    "exp_avg_sqs",
    "max_exp_avg_sqs",
    "state_steps",
)


def _has_known_init_group() -> bool:
    """Whether this torch's ``Adam._init_group`` is the private hook :class:`Adam` overrides."""
    init = getattr(torch.optim.Adam, "_init_group", None)
    if init is None:
        return False
    try:
        return tuple(inspect.signature(init).parameters) == _INIT_GROUP_SIGNATURE
    except (TypeError, ValueError):
        return False


#: True when :func:`adam` can use :class:`Adam`'s copy-free channels_last path on this torch.
LAYOUT_OVERRIDE = _has_known_init_group()


def _channels_last_only(t: torch.Tensor) -> bool:
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


class FusedAdam(torch.optim.Adam):
    """``torch.optim.Adam`` through public API only: keeps its kernel choice when loading a
    checkpoint, and copies loaded moments into their weight's layout (the fused kernel pairs
    a weight's tensors in memory order, so an NCHW checkpoint resumed channels_last would
    otherwise be updated with the wrong elements)."""

    #: bf16 copies of some of these weights (:mod:`i2i.weight_copies`), which ``step`` updates
    #: from their bf16 gradients; None: torch's update only
    weight_copies: WeightCopies | None = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """torch's Adam step; weights with a bf16 copy are updated from the copy's gradient
        and write the copy (:meth:`WeightCopies.adam_step`), the others by torch's kernel."""
        copies = self.weight_copies
        if copies is None:
            return super().step(closure)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        hidden: list[tuple[torch.Tensor, torch.Tensor]] = []  # copied weights' own gradients
        for group in self.param_groups:
            copied = [p for p in group["params"] if p in copies]
            copies.adam_step(group, copied, self.state, fused=bool(group.get("fused")))
            for p in copied:
                if p.grad is not None:  # already in the update; torch's step must skip it
                    hidden.append((p, p.grad))
                    p.grad = None
        super().step()
        for p, grad in hidden:
            p.grad = grad
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none)
        if self.weight_copies is not None:
            self.weight_copies.zero_grad((p for g in self.param_groups for p in g["params"]), set_to_none)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume the moments and steps, but keep this optimizer's kernel choice: torch copies
        ``fused``/``foreach`` from the saved groups, so a checkpoint written by an unfused Adam
        (older i2i, another machine) would otherwise switch the fused update off."""
        kernels = [(group.get("fused"), group.get("foreach")) for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, (fused, foreach) in zip(self.param_groups, kernels):
            group["fused"], group["foreach"] = fused, foreach
            if fused:  # the fused kernel wants each step counter on its parameter's device
                for p in group["params"]:
                    step = self.state.get(p, {}).get("step")
                    if isinstance(step, torch.Tensor) and step.device != p.device:
                        self.state[p]["step"] = step.to(device=p.device, dtype=torch.float32)
        if not isinstance(self, Adam):  # Adam re-lays moments out in _init_group, as it always has
            self._moments_to_weight_layout()

    def _moments_to_weight_layout(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p, {})
                for key, value in state.items():
                    if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                        state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


class Adam(FusedAdam):
    """``torch.optim.Adam`` whose fused kernel gets tensors it pairs correctly and fast.

    The fused CPU kernel walks each parameter's weight, gradient and moments in memory order,
    so they must share one layout: a channels_last weight with NCHW moments (an NCHW run's
    checkpoint resumed channels_last) would be updated with the wrong elements. Moments and
    gradients are therefore brought to their weight's layout first, and all-channels_last
    tensors are passed as NHWC views, which are contiguous.
    """

    def _init_group(self, group: dict[str, Any], params: list[torch.Tensor], *lists: Any) -> Any:
        result = super()._init_group(group, params, *lists)
        if group.get("fused"):
            per_param = [lst for lst in lists if isinstance(lst, list) and len(lst) == len(params)]
            for i, param in enumerate(params):
                lists_of_i = [
                    lst for lst in per_param if isinstance(lst[i], torch.Tensor) and lst[i].shape == param.shape
                ]
                for lst in lists_of_i:
                    if lst[i].stride() != param.stride():
                        lst[i] = self._relayout(param, lst[i])
                # weight, gradient and moments now share the weight's layout; for
                # channels_last that layout read as NHWC is contiguous
                if _channels_last_only(param):
                    for lst in (params, *lists_of_i):
                        lst[i] = lst[i].permute(_TO_NHWC)
        return result

    def _relayout(self, param: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` copied into ``param``'s layout; a moment is replaced in the state too."""
        copy = torch.empty_like(param, dtype=tensor.dtype).copy_(tensor)
        state = self.state.get(param, {})
        for key, value in state.items():
            if value is tensor:
                state[key] = copy
        return copy


def gradients(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The gradients ``optimizer.step()`` will read: ``.grad`` of its parameters, plus the bf16
    weight copies' where an i2i Adam keeps them (:mod:`i2i.weight_copies`)."""
    weights = [p for group in optimizer.param_groups for p in group["params"]]
    copies = optimizer.weight_copies if isinstance(optimizer, FusedAdam) else None
    if copies is None:
        return [p.grad for p in weights if p.grad is not None]
    return list(copies.gradients(weights))


def _fusable(params: list[Any]) -> bool:
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return (
        bool(tensors)
        and all(
            isinstance(p, torch.Tensor) and p.is_floating_point() and p.device.type in FUSED_DEVICE_TYPES
            for p in tensors
        )
        and len({p.device.type for p in tensors}) == 1
    )


def adam(params: Iterable[Any], **kwargs: Any) -> torch.optim.Adam:
    """Adam for ``Method.configure_optimizers``, with ``fused=True`` unless the caller chooses
    ``fused`` or ``foreach`` or a parameter lives where no fused kernel exists.

    The trainer has already moved the method to its device and layout when it calls
    ``configure_optimizers``.
    """
    params = list(params)
    if "fused" not in kwargs and "foreach" not in kwargs and _fusable(params):
        kwargs["fused"] = True
    return Adam(params, **kwargs) if LAYOUT_OVERRIDE else FusedAdam(params, **kwargs)
