"""bf16 copies of the weights, kept up to date by the optimizer (``train.weight_copies``).

Under autocast every forward casts each fp32 weight of a convolution or linear layer to
bf16, and backward turns each bf16 weight gradient into a fresh fp32 ``.grad`` that Adam then
reads. Where a step is mostly weight traffic (pix2pix's 54M-weight U-Net at batch 1) those two
casts are a tenth of the bf16 step on this project's CPU (``benchmarks/README.md``). With
weight copies:

* each such layer whose weights an i2i :func:`~i2i.optim.adam` updates holds a bf16 copy of
  its weight and bias. While autocast runs in bf16, the layer's forward uses the copy (autocast
  leaves bf16 tensors as they are), so no cast runs and the gradient stays in bf16, on the copy;
* the optimizer reads that bf16 gradient, updates the fp32 weight and Adam's fp32 moments and
  writes the new bf16 copy in one pass per tensor, compiled with ``torch.compile`` (torch's
  fused Adam takes one dtype for weights and gradients, so it cannot read bf16 gradients).
  The compile runs at an optimizer's first step (about 25 s for pix2pix's 54M-weight U-Net
  on 2 cores; Inductor's on-disk cache makes later runs of the same networks start fast).

What a step computes is what autocast computes: the copy is the fp32 weight rounded to bf16,
as autocast's cast is, and the fp32 gradient autocast would hand Adam is the bf16 gradient
widened, which the update does on the fly. (One case sums differently: uses of a weight in
two autocast cache regions that one backward serves, e.g. a forward, another optimizer's
step, a second forward, then backward. Autocast casts twice and sums the two gradients in
fp32; the copy's gradient sums them in bf16. Uses within one region sum in bf16 either way,
except in a split narrow convolution, :mod:`i2i.nets.narrow_conv`, whose reshaped weight
autocast casts afresh at each use, so without copies its uses sum in fp32.) The Adam formula is torch's own (``lerp``,
``addcmul``, bias corrections, ``eps`` after the square root); only its rounding may differ in
the last bit from torch's fused CPU kernel. Outside those forwards a layer holds its fp32
weights as always, so state dicts, checkpoints, EMA and weight import see no difference, and a
forward outside autocast (a method's full-precision region) uses the fp32 weight; its fp32
gradient is added to the copy's. A weight changed in place by anything but the optimizer
(a resumed checkpoint, an import) is noticed by its version counter and copied again at the
next forward.

Used only where it pays and is safe: bf16 on a CPU, one process (the gradient averaging of a
distributed run reads ``.grad``), uncompiled networks, optimizers from :func:`i2i.optim.adam`
holding at least :data:`MIN_PARAMETERS` weights (below that the casts cost little and the
one-off compile of the update would not pay back).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import _get_current_dispatch_mode

from i2i.optim import FusedAdam

#: layers whose weight and bias autocast casts to bf16 for their forward
COPIED_LAYERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)
#: an optimizer's weights (elements) from which copies pay: tiny networks keep plain autocast
MIN_PARAMETERS = 4_000_000
_COPIED_NAMES = ("weight", "bias")
#: Adam options the copies' update implements; a group using another keeps torch's update
_UNSUPPORTED = ("amsgrad", "maximize", "capturable", "differentiable")


def memory_order(t: torch.Tensor) -> torch.Tensor | None:
    """A 1-D view of ``t`` in memory order, for a contiguous or channels_last tensor; else None.
    Tensors of the same shape and strides give views whose elements pair up."""
    if t.is_contiguous():
        return t.view(-1)
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1).view(-1)
    return None


def _adam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    copy: torch.Tensor,
    shrink: torch.Tensor,
    l2: torch.Tensor,
    one_minus_beta1: torch.Tensor,
    beta2: torch.Tensor,
    one_minus_beta2: torch.Tensor,
    bias_correction2_sqrt: torch.Tensor,
    eps: torch.Tensor,
    step_size: torch.Tensor,
) -> None:
    """torch's single-tensor Adam step (``torch.optim.adam._single_tensor_adam``, fp32) on one
    weight, from a gradient of any float dtype, and the weight's new low-precision copy."""
    param.mul_(shrink)  # decoupled weight decay (AdamW); 1 otherwise
    g = grad.float() + l2 * param  # L2 weight decay; 0 otherwise
    exp_avg.lerp_(g, one_minus_beta1)
    exp_avg_sq.mul_(beta2).addcmul_(g, g, value=one_minus_beta2)  # type: ignore[arg-type]
    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    param.sub_(exp_avg / denom * step_size)
    copy.copy_(param)


def _adam_updates(tensors: list[tuple[torch.Tensor, ...]], scalars: list[tuple[torch.Tensor, ...]]) -> None:
    """:func:`_adam_update` on every weight of an optimizer group: compiled as one graph, the
    loops run in one parallel C++ kernel launch per tensor (one compiled call for all of them)."""
    for weight_tensors, weight_scalars in zip(tensors, scalars):
        _adam_update(*weight_tensors, *weight_scalars)


@functools.cache
def _compiled_updates() -> Any:
    """The group update compiled for the shapes it meets (a few per run: one per optimizer).
    Static shapes: a kernel compiled for a symbolic size ran on one thread here (107 ms for
    pix2pix's 57M weights on 2 threads, against 44 ms static). Not ``fullgraph``: where
    torch.compile cannot run (a dispatch mode such as FLOP counting, the recompile limit) the
    same Python runs eagerly, slower but exact."""
    return torch.compile(_adam_updates, dynamic=False)


def _update(tensors: Iterable[tuple[torch.Tensor, ...]], scalars: Iterable[tuple[float, ...]]) -> None:
    """Run the compiled update on 1-D aliases of each weight's tensors (weight, gradient,
    moments, copy: one layout) in one global state (torch.compile guards the autocast and
    grad modes; a view would make it guard its base's shape too). ``detach`` keeps the version
    counter, so autograd still sees the weights change."""
    flat = [tuple(memory_order(t).detach() for t in group) for group in tensors]  # type: ignore[union-attr]
    made: dict[tuple[float, ...], tuple[torch.Tensor, ...]] = {}
    values = [made.setdefault(v, tuple(torch.tensor(x, dtype=torch.float32) for x in v)) for v in scalars]
    # under a dispatch mode (FLOP counting, ...) torch.compile would skip the function: it
    # runs eagerly, and never reaches torch.compile, which could stop compiling it for good
    run = _adam_updates if _get_current_dispatch_mode() is not None else _compiled_updates()
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        run(flat, values)


def _compiler_works(dtype: torch.dtype) -> bool:
    """Compile the update once now, on tiny tensors, so that a machine without a working C++
    compiler keeps plain autocast instead of failing mid-run (the optimizers' own shapes
    compile at their first step)."""
    values = [torch.ones(8) for _ in range(4)]
    # torch's C++ builder warns that a CPU-only machine has no CUDA runtime: true, and no concern here
    builder_log = logging.getLogger("torch.utils.cpp_extension")
    level = builder_log.level
    builder_log.setLevel(logging.ERROR)
    try:
        _update([(values[0], values[1].to(dtype), values[2], values[3], torch.empty(8, dtype=dtype))], [(1.0, 0.0) * 4])
    except Exception:  # any failure to build means: no copies, the run goes on as before
        return False
    finally:
        builder_log.setLevel(level)
    return True


class WeightCopies:
    """The low-precision copies of some fp32 weights, and the forward hooks that use them."""

    def __init__(
        self, dtype: torch.dtype, device_type: str, memory_format: torch.memory_format = torch.preserve_format
    ) -> None:
        self.dtype = dtype
        #: the copies' layout: the weights' own (training: the update pairs their elements), or
        #: channels_last for 4-D weights whatever the fp32 weights' layout (inference)
        self.memory_format = memory_format
        self.device_type = device_type
        self._copies: dict[torch.Tensor, torch.Tensor] = {}
        self._synced: dict[torch.Tensor, tuple[int, int, tuple[int, ...]]] = {}
        #: per layer in a forward: the (name, fp32 weight) pairs its copies stand in for
        self._swapped: dict[nn.Module, list[list[tuple[str, torch.Tensor]]]] = {}

    # -- which weights --------------------------------------------------------------------
    def add_layers(self, module: nn.Module, weights: set[torch.Tensor]) -> int:
        """Copy the weight and bias of every copied layer in ``module`` that are in ``weights``;
        returns how many tensors got a copy."""
        added = 0
        for layer in module.modules():
            if not isinstance(layer, COPIED_LAYERS):
                continue
            mine = [
                weight
                for weight in (layer._parameters.get(name) for name in _COPIED_NAMES)
                if weight is not None and weight in weights and memory_order(weight) is not None
            ]
            for weight in mine:
                self._copies[weight] = self._new_copy(weight)
                added += 1
            if mine:
                layer.register_forward_pre_hook(self._use_copies)
                layer.register_forward_hook(self._use_weights, always_call=True)
        return added

    def __contains__(self, weight: object) -> bool:
        return weight in self._copies

    def __len__(self) -> int:
        return len(self._copies)

    # -- the forward ------------------------------------------------------------------------
    def _use_copies(self, layer: nn.Module, args: Any) -> None:
        if not (
            torch.is_autocast_enabled(self.device_type) and torch.get_autocast_dtype(self.device_type) == self.dtype
        ):
            return  # a full-precision region (or another autocast dtype) uses the fp32 weight
        swapped: list[tuple[str, torch.Tensor]] = []
        for name in _COPIED_NAMES:
            weight = layer._parameters.get(name)
            if weight is not None and weight in self._copies:
                layer._parameters[name] = self.current(weight)  # type: ignore[assignment]
                swapped.append((name, weight))
        if swapped:
            self._swapped.setdefault(layer, []).append(swapped)

    def _use_weights(self, layer: nn.Module, args: Any, output: Any) -> None:
        stack = self._swapped.get(layer)
        if not stack:
            return
        for name, weight in stack.pop():
            layer._parameters[name] = weight  # type: ignore[assignment]
        if not stack:
            del self._swapped[layer]

    # -- keeping copies in step ----------------------------------------------------------
    def _new_copy(self, weight: torch.Tensor) -> torch.Tensor:
        layout = self.memory_format if weight.dim() == 4 else torch.preserve_format
        copy = torch.empty_like(weight, dtype=self.dtype, memory_format=layout).requires_grad_(weight.requires_grad)
        with torch.no_grad():
            copy.copy_(weight)
        self._synced[weight] = self._stamp(weight)
        return copy

    @staticmethod
    def _stamp(weight: torch.Tensor) -> tuple[int, int, tuple[int, ...]]:
        return (weight._version, weight.data_ptr(), weight.stride())

    def current(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight``'s copy, copied again if the weight changed since (a load, an import)."""
        copy = self._copies[weight]
        stamp = self._stamp(weight)
        if self._synced.get(weight) != stamp:
            relaid = self.memory_format == torch.preserve_format and copy.stride() != weight.stride()
            if relaid or copy.shape != weight.shape or copy.device != weight.device:
                # a new tensor of another layout, or moved to another device
                copy = self._copies[weight] = self._new_copy(weight)
            else:
                with torch.no_grad():
                    copy.copy_(weight)
                self._synced[weight] = stamp
        if copy.requires_grad != weight.requires_grad:  # methods freeze D while G learns
            copy.requires_grad_(weight.requires_grad)
        return copy

    def synced(self, weight: torch.Tensor) -> None:
        """The optimizer wrote ``weight`` and its copy together."""
        self._synced[weight] = self._stamp(weight)

    # -- gradients ------------------------------------------------------------------------
    def gradient(self, weight: torch.Tensor) -> torch.Tensor | None:
        """The weight's whole gradient: the copy's (bf16) plus the weight's own (fp32, from a
        full-precision forward), or whichever exists."""
        low = self._copies[weight].grad
        if weight.grad is None:
            return low
        return weight.grad if low is None else weight.grad + low

    def gradients(self, weights: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Each weight's one gradient tensor, a copy's bf16 gradient where only it exists (for
        the trainer's finite check and clipping, which scale them in place). A weight with both
        gets the copy's added to its fp32 ``.grad`` first, so a norm sees the whole gradient."""
        for weight in weights:
            copy = self._copies.get(weight)
            low = copy.grad if copy is not None else None
            if low is not None and weight.grad is not None:
                weight.grad.add_(low)
                copy.grad = None  # type: ignore[union-attr]
                low = None
            if weight.grad is not None:
                yield weight.grad
            elif low is not None:
                yield low

    def zero_grad(self, weights: Iterable[torch.Tensor], set_to_none: bool = True) -> None:
        for weight in weights:
            copy = self._copies.get(weight)
            if copy is None or copy.grad is None:
                continue
            if set_to_none:
                copy.grad = None
            else:
                copy.grad.zero_()

    # -- the update -----------------------------------------------------------------------
    @torch.no_grad()
    def adam_step(self, group: Mapping[str, Any], weights: list[torch.Tensor], states: Any, fused: bool) -> None:
        """One Adam step of each of ``weights`` (a group's, all with copies) that has a
        gradient (see :meth:`gradient`), in ``states[weight]`` as ``torch.optim.Adam`` keeps it."""
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        decoupled = bool(group.get("decoupled_weight_decay", False))
        tensors, scalars = [], []
        for weight in weights:
            grad = self.gradient(weight)
            if grad is None:
                continue  # as torch's Adam: no gradient, no step
            state = states[weight]
            if not state:
                state["step"] = torch.tensor(0.0, dtype=torch.float32, device=weight.device if fused else None)
                state["exp_avg"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
            for key in ("exp_avg", "exp_avg_sq"):  # a moment resumed in another layout
                if state[key].stride() != weight.stride():
                    state[key] = torch.empty_like(weight).copy_(state[key])
            if grad.stride() != weight.stride():
                grad = torch.empty_like(weight, dtype=grad.dtype).copy_(grad)
            state["step"] += 1
            step = float(state["step"])
            tensors.append((weight, grad, state["exp_avg"], state["exp_avg_sq"], self._copies[weight]))
            scalars.append(
                (
                    1.0 - lr * weight_decay if decoupled else 1.0,
                    0.0 if decoupled else weight_decay,
                    1.0 - beta1,
                    beta2,
                    1.0 - beta2,
                    math.sqrt(1.0 - beta2**step),
                    eps,
                    lr / (1.0 - beta1**step),
                )
            )
        if tensors:
            _update(tensors, scalars)
        for weight_tensors in tensors:
            self.synced(weight_tensors[0])


def hold_for_inference(
    method: nn.Module,
    dtype: torch.dtype | None,
    device: torch.device,
    memory_format: torch.memory_format = torch.preserve_format,
) -> WeightCopies | None:
    """Low-precision copies of every fp32 convolution and linear weight of ``method``, made
    once, for inference in ``dtype`` (``i2i translate``, :class:`i2i.Translator`); None in fp32.
    ``memory_format``: the 4-D copies' layout (channels_last for the fast path, made straight
    from weights in any layout: one pass over them instead of a relayout and then a cast).

    Without them autocast casts each weight afresh for every batch: with pix2pix's 54M-weight
    U-Net, translating 40 images took 1.57 s instead of 1.39 s (``benchmarks/README.md``). The
    copy is the weight rounded as autocast rounds it, so the outputs are bit for bit the same;
    a forward outside autocast (a method's full-precision region) still uses the fp32 weight,
    and a weight changed in place (a new state dict) is copied again at its next use. No
    optimizer refreshes these copies: they are for networks that are not training."""
    if dtype is None:
        return None
    copies = WeightCopies(dtype, device.type, memory_format)
    copies.add_layers(method, {p for p in method.parameters() if p.dtype == torch.float32})
    return copies if len(copies) else None


def supports(group: Mapping[str, Any]) -> bool:
    """Whether an Adam parameter group uses only options :meth:`WeightCopies.adam_step` has."""
    return not any(group.get(option) for option in _UNSUPPORTED) and not isinstance(group.get("lr"), torch.Tensor)


def use_weight_copies(
    method: nn.Module,
    optimizers: Mapping[str, torch.optim.Optimizer],
    dtype: torch.dtype | None,
    device: torch.device,
    *,
    world_size: int = 1,
    compiled: bool = False,
) -> WeightCopies | None:
    """Give ``method``'s large i2i Adam optimizers bf16 weight copies (module docstring), when
    the run is bf16 on a CPU, in one process (a distributed run averages ``.grad``) and
    uncompiled (the copies swap weights in forward hooks); returns the copies, or None where
    none were made. The trainer calls this when ``train.weight_copies`` is on."""
    if dtype != torch.bfloat16 or device.type != "cpu" or world_size > 1 or compiled:
        return None
    chosen = [
        opt
        for opt in optimizers.values()
        if isinstance(opt, FusedAdam)
        and all(supports(group) for group in opt.param_groups)
        and sum(p.numel() for group in opt.param_groups for p in group["params"]) >= MIN_PARAMETERS
    ]
    if not chosen or not _compiler_works(dtype):
        return None
    copies = WeightCopies(dtype, device.type)
    for opt in chosen:
        weights = {p for group in opt.param_groups for p in group["params"] if p.dtype == torch.float32}
        if copies.add_layers(method, weights):
            opt.weight_copies = copies
    return copies if len(copies) else None
