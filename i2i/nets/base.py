"""The small contract every i2i network follows beyond ``forward``.

``example_inputs(batch_size, size)`` returns a tuple of random inputs of the right kinds and
shapes for ``forward`` - the conformance suite (:mod:`i2i.testing.components`) uses it so a
generic checker can drive image nets, label-conditioned nets (StarGAN) and latent nets
(Augmented CycleGAN) alike. Third-party networks may define it too; without it the checker
feeds one image of ``input_nc`` channels.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn


class ImageNet(nn.Module):
    """Base of networks whose forward takes one image of ``input_nc`` channels.

    Subclasses set ``self.input_nc`` (no class-level annotation: TorchScript would try to
    compile it as an attribute type). Generators also set ``self.size_multiple``: the sides
    they map without padding, which methods pass on as ``Method.size_multiple``.
    """

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, cast(int, self.input_nc), *size),)


def full_precision(layers: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a generator's output layers (last convolution and ``tanh``) in fp32, also under
    bf16/fp16 autocast.

    They turn features into pixels, and the pixel loss's gradient enters the network through
    them. Measured on the pix2pix demo (held-out PSNR, 4 seeds x 800 steps,
    ``benchmarks/quality_parity.py``): bf16 trailed fp32 by 0.32 dB with these layers in bf16
    and by 0.12 dB with them in fp32, at under 1% of a step's FLOPs. Without autocast (fp32
    runs, exports) this is just ``layers(x)``.

    Under :func:`torch.inference_mode` (:class:`~i2i.Translator`) they run in the autocast
    dtype: no gradient flows there, and a bf16 ``tanh`` output is within half a bf16 step
    (2**-9 near +-1, an eighth of an 8-bit level) of the fp32 one, while the fp32 head of
    ``resnet_9blocks`` (64 -> 3 channels at full resolution, a shape oneDNN runs slowly) was 12%
    of a bf16 translation (benchmarks/README.md).
    """
    if not torch.is_autocast_enabled(x.device.type) or torch.is_inference_mode_enabled():
        return layers(x)
    with torch.autocast(x.device.type, enabled=False):
        return layers(x.float())
