"""An exponential moving average of the generators, for samples and export.

Averaged weights usually give visibly steadier GAN outputs than the last iterate. Buffers
(e.g. batch-norm statistics) are copied, not averaged.

The decay warms up as ``min(decay, (1 + step) / (10 + step))`` (timm's ``ModelEmaV3`` and
TensorFlow's ``ExponentialMovingAverage(num_updates=...)``): with a fixed 0.999 the average
after 800 steps still holds ``0.999**800 = 45%`` of the random initial weights, and such an
"averaged" generator translates far worse than the raw one. The warm-up depends only on the
global step, which the checkpoint keeps, so a resumed run averages exactly as an unbroken one.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class EMA:
    """Shadow copies of ``generators``' floating-point state, updated with ``update()``."""

    def __init__(self, generators: dict[str, nn.Module], decay: float, warmup: bool = True) -> None:
        self.generators = generators
        self.decay = decay
        self.warmup = warmup
        self.shadow: dict[str, dict[str, torch.Tensor]] = {
            name: {k: v.detach().clone() for k, v in g.state_dict().items()} for name, g in generators.items()
        }

    def decay_at(self, step: int) -> float:
        """The decay used by the update after optimisation step ``step`` (0-based)."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, step: int | None = None) -> None:
        """Average in the current weights; ``step`` (the 0-based global step just taken)
        drives the warm-up; None uses the plain decay."""
        decay = self.decay if step is None else self.decay_at(step)
        for name, g in self.generators.items():
            shadow = self.shadow[name]
            params = dict(g.named_parameters())
            for key, value in g.state_dict().items():
                target = shadow[key]
                if key in params and value.is_floating_point():
                    target.lerp_(value.detach(), 1.0 - decay)
                else:
                    target.copy_(value)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the generators."""
        backup = {
            name: {k: v.detach().clone() for k, v in g.state_dict().items()} for name, g in self.generators.items()
        }
        try:
            for name, g in self.generators.items():
                g.load_state_dict(self.shadow[name])
            yield
        finally:
            for name, g in self.generators.items():
                g.load_state_dict(backup[name])

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: {k: v.clone() for k, v in s.items()} for name, s in self.shadow.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, shadow in self.shadow.items():
            for key, value in state[name].items():
                shadow[key].copy_(value)
