"""The :class:`~i2i.method.StepContext` the trainer hands to ``Method.train_step``.

It hides precision (autocast, fp16 gradient scaling), distribution (gradient averaging) and
robustness (clipping, skipping updates whose gradients are not finite) behind
``backward`` / ``step`` / ``zero_grad`` / ``autocast``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from i2i.errors import UsageError
from i2i.train.distributed import average_gradients
from i2i.train.precision import Precision


class NonFiniteError(UsageError):
    """Training diverged: too many consecutive steps with non-finite losses or gradients."""


def _total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    norms = torch._foreach_norm(grads)
    return torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))


class StepCounter(int):
    """The global step as an ``int`` that can also be called as ``ctx.step("G")``.

    The :class:`~i2i.method.StepContext` protocol names both the step count (``ctx.step``)
    and the update call (``ctx.step(name)``); an int subclass with ``__call__`` serves both
    spellings. ``ctx.global_step`` is the unambiguous name of the count.
    """

    _update: Any

    def __new__(cls, value: int, update: Any) -> "StepCounter":
        obj = super().__new__(cls, value)
        obj._update = update
        return obj

    def __call__(self, name: str) -> None:
        self._update(name)

    def __reduce__(self) -> Any:  # pickles/copies as a plain int
        return (int, (int(self),))


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
        """The global step (an int); calling it, ``ctx.step(name)``, updates optimizer ``name``."""
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
        grads = [p.grad for p in params if p.grad is not None]
        finite = True
        if grads:
            norm = _total_norm(grads)
            finite = bool(torch.isfinite(norm).item())  # one sync per update: decides the skip
            if finite and self.grad_clip is not None and self.grad_clip > 0:
                coef = torch.clamp(self.grad_clip / (norm + 1e-6), max=1.0)
                torch._foreach_mul_(grads, coef.to(grads[0].device))
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
            raise KeyError(f"ctx.step({name!r}): no optimizer named {name!r} (configure_optimizers returned {known})") from None


def check_clip(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise UsageError(f"train.grad_clip: expected a positive number, got {value!r}")
    return value
