"""The small contract every i2i network follows beyond ``forward``.

``example_inputs(batch_size, size)`` returns a tuple of random inputs of the right kinds and
shapes for ``forward`` - the conformance suite (:mod:`i2i.testing.components`) uses it so a
generic checker can drive image nets, label-conditioned nets (StarGAN) and latent nets
(Augmented CycleGAN) alike. Third-party networks may define it too; without it the checker
feeds one image of ``input_nc`` channels.
"""

from __future__ import annotations

import torch
from torch import nn


class ImageNet(nn.Module):
    """Base of networks whose forward takes one image of ``input_nc`` channels.

    Subclasses set ``self.input_nc`` (no class-level annotation: TorchScript would try to
    compile it as an attribute type). Generators also set ``self.size_multiple``: the sides
    they map without padding, which methods pass on as ``Method.size_multiple``.
    """

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.input_nc, *size),)
