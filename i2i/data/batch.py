"""The batch record every method receives.

Images are float tensors ``(N, C, H, W)`` in ``[-1, 1]`` on the training device, already
augmented. Which fields are set depends on the data kind:

* ``paired``: ``a`` is the input, ``b`` the target with identical geometry;
* ``unpaired``: ``a`` from domain A, ``b`` from domain B, drawn independently;
* ``labelled``: ``a`` the images, ``labels`` float ``(N, D)`` - one-hot for domain folders,
  multi-hot 0/1 for attribute lists; ``b`` is None.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import torch


@attrs.define
class Batch:
    a: torch.Tensor
    b: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    names_a: list[str] = attrs.field(factory=list)
    names_b: list[str] = attrs.field(factory=list)

    def __len__(self) -> int:
        return self.a.shape[0]

    def to(self, device: torch.device | str, **kwargs: Any) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True, **kwargs)

        return attrs.evolve(self, a=cast(torch.Tensor, move(self.a)), b=move(self.b), labels=move(self.labels))

    def select(self, index: slice | torch.Tensor) -> Batch:
        """Rows ``index`` of every tensor field (names are kept only for slices)."""

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[index]

        names_a = self.names_a[index] if isinstance(index, slice) else []
        names_b = self.names_b[index] if isinstance(index, slice) else []
        return Batch(cast(torch.Tensor, pick(self.a)), pick(self.b), pick(self.labels), names_a, names_b)
