"""The read-only view of a running evaluation that a method's own metrics receive.

It is the :class:`~i2i.eval.capabilities.EvalContext` protocol made concrete over
:class:`~i2i.eval.runner.Evaluation`: a metric reads the method, device, seed, held-out splits and
translations, and may log or add a note to the report, but cannot change the evaluation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from i2i.eval.capabilities import EvalCapabilities

if TYPE_CHECKING:
    from i2i.eval.runner import Evaluation, Split


class EvalContextView:
    """The read-only :class:`~i2i.eval.capabilities.EvalContext` handed to a method's metrics."""

    def __init__(self, evaluation: Evaluation) -> None:
        self._ev = evaluation

    @property
    def method(self) -> Any:
        return self._ev.method

    @property
    def device(self) -> torch.device:
        return self._ev.t.device

    @property
    def seed(self) -> int:
        return self._ev.settings.seed

    @property
    def samples(self) -> int:
        return self._ev.settings.samples

    @property
    def capabilities(self) -> EvalCapabilities:
        return self._ev.caps

    def test(self) -> Split:
        return self._ev.test

    def train(self) -> Split:
        return self._ev.train_split()

    def aligned_test(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        return self._ev.ground_truth()

    def translate(self, x: torch.Tensor, *, single: bool = True, **options: Any) -> dict[str, torch.Tensor]:
        return self._ev.translate(x, single=single, **options)

    def log(self, message: str) -> None:
        self._ev.log(message)

    def note(self, message: str) -> None:
        self._ev.report.notes.append(message)


__all__ = ["EvalContextView"]
