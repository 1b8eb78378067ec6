"""The :class:`~i2i.method.StepContext` the trainer hands to ``Method.train_step``.

It hides precision (autocast, fp16 gradient scaling), distribution (gradient averaging) and
robustness (clipping, skipping updates whose gradients are not finite) behind
``backward`` / ``step`` / ``zero_grad`` / ``autocast``.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import torch

from i2i.errors import UsageError
from i2i.optim import gradients
from i2i.train.distributed import average_gradients
from i2i.train.precision import Precision


class NonFiniteError(UsageError):
    """Training diverged: too many consecutive steps with non-finite losses or gradients."""


def _total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    # fp32 norms of bf16 gradients too (a weight copy's, i2i.weight_copies); the same for fp32 ones
    norms = torch._foreach_norm(grads, 2, dtype=torch.float32)
    return torch.linalg.vector_norm(torch.stack(list(norms)))


def _all_finite(grads: list[torch.Tensor]) -> bool:
    """Whether every gradient element is finite, from one sum per tensor: a NaN or inf anywhere
    makes the sum non-finite. It reads each gradient once like a norm, but skips the squares:
    1.8x faster than ``_total_norm`` on 89M fp32 gradients with 2 threads (17.6 vs 31.8 ms),
    which makes pix2pix's step 3-4% faster in bf16 and fp32 (``benchmarks/finite_check_ab.py``).
    (Only a sum beyond 3e38 could read as non-finite without being so; a norm already overflows
    at elements of 2e19.)

    Each sum is taken in its gradient's own dtype, except fp16 (whose range ends at 65504): a
    bf16 gradient (a weight copy's, :mod:`i2i.weight_copies`) has fp32's range, and ATen adds
    its elements in fp32 and rounds once. Asking for an fp32 sum of it converted the whole
    tensor first: 58x slower on a 8M-element gradient (10.9 against 0.19 ms), a tenth of
    pix2pix's bf16 step on a Zen 5 EPYC (benchmarks/README.md)."""
    sums = [g.sum(dtype=torch.float32) if g.dtype == torch.float16 else g.sum().float() for g in grads]
    return bool(torch.isfinite(torch.stack(sums).sum()).item())


_STEP_AS_INT = (
    "ctx.step as an int is deprecated and will be removed: use ctx.global_step for the step "
    "count (ctx.step(name) updates optimizer name)"
)


class StepCounter(int):
    """What ``ctx.step`` returns: callable as ``ctx.step("G")`` (the update), and for a
    deprecation period still the global step as an ``int``, with a :class:`DeprecationWarning`
    on every use as a number (``ctx.step % n``). ``ctx.global_step`` is the step count.
    """

    _update: Any

    def __new__(cls, value: int, update: Any) -> StepCounter:
        obj = super().__new__(cls, value)
        obj._update = update
        return obj

    def __call__(self, name: str) -> None:
        self._update(name)

    def __reduce__(self) -> Any:  # pickles/copies as a plain int
        return (int, (int.__int__(self),))

    __hash__ = int.__hash__


def _warn_as_int(name: str) -> Any:
    base = getattr(int, name)

    def method(self: StepCounter, *args: Any) -> Any:
        warnings.warn(_STEP_AS_INT, DeprecationWarning, stacklevel=2)
        return base(self, *args)

    method.__name__ = name
    return method


for _name in (
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__mod__",
    "__rmod__",
    "__floordiv__",
    "__rfloordiv__",
    "__truediv__",
    "__rtruediv__",
    "__divmod__",
    "__pow__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__int__",
    "__index__",
    "__float__",
    "__bool__",
    "__neg__",
    "__abs__",
    "__and__",
    "__or__",
    "__xor__",
    "__lshift__",
    "__rshift__",
    "__format__",
    "__str__",
    "__repr__",
):
    setattr(StepCounter, _name, _warn_as_int(_name))


class TrainContext:
    """Implements the StepContext protocol for one process of a run."""

    def __init__(
        self,
        optimizers: dict[str, torch.optim.Optimizer],
        precision: Precision,
        *,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        grad_clip: float | None = None,
    ) -> None:
        self.optimizers = optimizers
        self.precision = precision
        self.device = device
        self.rank = rank
        self.world_size = world_size
        self.grad_clip = grad_clip
        self.global_step = 0
        #: optimizer updates skipped because of non-finite gradients, per optimizer (whole run)
        self.skipped: dict[str, int] = {name: 0 for name in optimizers}
        self.bad_this_step = False
        self._scaled_steps: set[str] = set()  # optimizers stepped since the last scaler.update()

    # -- the protocol ----------------------------------------------------------------------
    def backward(self, loss: torch.Tensor) -> None:
        # Autocast caches one low-precision copy of each weight per forward; dropping the cache
        # here lets backward free each copy as soon as its layer is done (bf16 peak memory then
        # stays under fp32's), and the next forward, after an update, casts the new weights.
        torch.clear_autocast_cache()
        scaler = self.precision.scaler
        (scaler.scale(loss) if scaler is not None else loss).backward()

    @property
    def step(self) -> StepCounter:
        """``ctx.step(name)`` updates optimizer ``name``; using it as an int (the old spelling
        of ``ctx.global_step``) still works, with a DeprecationWarning."""
        return StepCounter(self.global_step, self.step_optimizer)

    @step.setter
    def step(self, value: int) -> None:
        self.global_step = int(value)

    def step_optimizer(self, name: str) -> None:
        """Average gradients across ranks, unscale, clip, then update unless non-finite."""
        optimizer = self._optimizer(name)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.world_size > 1:
            # before unscale_, so the scaler's inf check sees the same gradients on every rank
            average_gradients(params, self.world_size)
        scaler = self.precision.scaler
        if scaler is not None:
            if name in self._scaled_steps:  # the same optimizer twice in one train_step
                scaler.update()
                self._scaled_steps.clear()
            self._scaled_steps.add(name)
            scaler.unscale_(optimizer)
        grads = gradients(optimizer)  # a weight copy's bf16 gradient included (i2i.weight_copies)
        finite = True
        if grads and self.grad_clip is not None and self.grad_clip > 0:
            norm = _total_norm(grads)
            finite = bool(torch.isfinite(norm).item())  # one sync per update: decides the skip
            if finite:
                coef = torch.clamp(self.grad_clip / (norm + 1e-6), max=1.0)
                torch._foreach_mul_(grads, coef.to(grads[0].device))
        elif grads:
            finite = _all_finite(grads)  # one sync per update: decides the skip
        if scaler is not None:
            scaler.step(optimizer)  # skips by itself when it found infs; update() runs per step
        elif finite:
            optimizer.step()
        if not finite:
            self.skipped[name] += 1
            self.bad_this_step = True
        optimizer.zero_grad(set_to_none=True)
        # the weights just changed in place; autocast's cache is keyed by tensor, not version,
        # so a later forward in this train_step would otherwise reuse the stale bf16 copies
        torch.clear_autocast_cache()

    def zero_grad(self, name: str) -> None:
        self._optimizer(name).zero_grad(set_to_none=True)

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        return self.precision.autocast(enabled)

    # -- used by the trainer ---------------------------------------------------------------
    def begin_step(self, step: int) -> None:
        self.global_step = step
        self.bad_this_step = False

    def end_step(self) -> None:
        """After ``train_step``: one GradScaler update per step (fp16 only)."""
        if self.precision.scaler is not None and self._scaled_steps:
            self.precision.scaler.update()
            self._scaled_steps.clear()

    def _optimizer(self, name: str) -> torch.optim.Optimizer:
        try:
            return self.optimizers[name]
        except KeyError:
            known = ", ".join(self.optimizers)
            raise KeyError(
                f"ctx.step({name!r}): no optimizer named {name!r} (configure_optimizers returned {known})"
            ) from None
