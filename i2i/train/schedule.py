"""Learning-rate schedules, one per optimizer, advanced once per optimisation step.

The reference code steps its schedulers once per epoch; stepping per optimisation step with
the same shape (constant, then linear to zero over the decay part) is smoother and works the
same for ``train.steps`` runs. ``step_size`` counts epochs, as the reference ``lr_decay_iters``.
``plateau`` is stepped at each epoch end with the epoch's mean of that optimizer's losses
(keys starting ``"<name>/"``, or all losses when none match), with the reference's defaults
(``train.plateau_factor`` 0.2, ``plateau_threshold`` 0.01, ``plateau_patience`` 5, mode ``min``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from i2i.errors import ConfigError
from i2i.train.config import (
    SCHEDULES,
    TrainConfig,
)


def total_steps(train: TrainConfig, batches_per_epoch: int) -> int:
    """Optimisation steps of the whole run."""
    if train.steps is not None:
        return train.steps
    return (train.epochs + train.epochs_decay) * batches_per_epoch


def decay_steps(train: TrainConfig, batches_per_epoch: int) -> int:
    """Length of the linear decay at the end of the run."""
    total = total_steps(train, batches_per_epoch)
    if train.steps is None and train.decay_fraction is None:
        return train.epochs_decay * batches_per_epoch
    if train.decay_fraction is not None:
        fraction = train.decay_fraction
    else:
        both = train.epochs + train.epochs_decay
        fraction = train.epochs_decay / both if both else 0.0
    return int(round(total * fraction))


def lr_factor(train: TrainConfig, batches_per_epoch: int) -> Callable[[int], float]:
    """The multiplier of the base learning rate after ``s`` steps, for the non-plateau schedules."""
    total = max(total_steps(train, batches_per_epoch), 1)
    name = train.schedule
    if name == "constant" or name == "plateau":
        return lambda s: 1.0
    if name == "linear":
        decay = decay_steps(train, batches_per_epoch)
        start = total - decay
        if decay <= 0:
            return lambda s: 1.0
        return lambda s: 1.0 if s < start else max(0.0, (total - s) / decay)
    if name == "step":
        every = max(train.step_size * batches_per_epoch, 1)
        return lambda s: train.gamma ** (s // every)
    if name == "cosine":
        return lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
    raise ConfigError(f"train.schedule: unknown schedule {name!r} (choose from {', '.join(SCHEDULES)})")


class Schedules:
    """The run's schedulers: ``step()`` after every optimisation step, ``epoch_end(losses)``."""

    def __init__(
        self, optimizers: dict[str, torch.optim.Optimizer], train: TrainConfig, batches_per_epoch: int
    ) -> None:
        self.plateau = train.schedule == "plateau"
        self.schedulers: dict[str, Any] = {}  # LRScheduler or ReduceLROnPlateau: their step() differ
        for name, opt in optimizers.items():
            if self.plateau:
                self.schedulers[name] = ReduceLROnPlateau(
                    opt,
                    mode="min",
                    factor=train.plateau_factor,
                    threshold=train.plateau_threshold,
                    patience=train.plateau_patience,
                )  # the reference's defaults: factor 0.2, threshold 0.01 (relative), patience 5
            else:
                self.schedulers[name] = LambdaLR(opt, lr_factor(train, batches_per_epoch))
        self.optimizers = optimizers

    def step(self) -> None:
        if self.plateau:
            return
        with warnings.catch_warnings():
            # a method may leave an optimizer idle in a step (StarGAN's G trains every
            # n_critic steps); the schedule follows the global step regardless
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            for sched in self.schedulers.values():
                sched.step()

    def epoch_end(self, epoch_losses: dict[str, float]) -> None:
        if not self.plateau:
            return
        for name, sched in self.schedulers.items():
            own = [v for k, v in epoch_losses.items() if k.startswith(f"{name}/")]
            values = own or list(epoch_losses.values())
            if values:
                sched.step(sum(values) / len(values))

    def lrs(self) -> dict[str, float]:
        return {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    def state_dict(self) -> dict[str, dict]:
        return {name: s.state_dict() for name, s in self.schedulers.items()}

    def load_state_dict(self, state: dict[str, dict]) -> None:
        for name, s in self.schedulers.items():
            if name in state:
                s.load_state_dict(state[name])
