"""Channel concatenation for skip connections, whose backward hands each input a dense gradient.

``torch.cat([x, y], 1)`` backward gives ``x`` and ``y`` slices of the incoming gradient. On a
channels_last map a channel slice is strided: a pixel's channels of ``y`` sit ``C_x + C_y``
elements apart instead of ``C_y``. The batch-norm backward kernels that usually come next in a
U-Net's up path (the up block ends in a norm, sometimes a dropout) run far slower on such a
gradient. Measured with torch 2.14 on a 2-core AVX512-BF16 EPYC, a 64-channel 128x128 map:
6.35 ms (bf16) and 5.17 ms (fp32) against 0.51 and 0.34 ms for the same gradient made dense,
which costs a 0.07 ms copy. pix2pix's bf16 train step (``unet_256``, batch 1) is 0-4% faster for it
(``benchmarks/skip_concat_ab.py``; the figures are in ``benchmarks/README.md``).

:func:`cat_channels` is ``torch.cat(tensors, 1)`` with one difference: when the gradient that
comes back is channels_last, each input's slice of it is copied into a dense channels_last
tensor before it flows on. The copies hold the same numbers as torch.cat's slices; the kernels
downstream may sum a dense gradient in another order than a strided one, so a bf16 network's
gradients move by rounding (a U-Net's, by a bf16 step or two: ``tests/test_concat.py``).
Elsewhere it *is* ``torch.cat``, and the autograd graph is the same op for op: NCHW maps (i2i's
fp32 training, whose numerics match the reference code step by step), no gradient needed
(inference, export), and TorchScript.
"""

from __future__ import annotations

from typing import Any

import torch


class _CatChannels(torch.autograd.Function):
    """``torch.cat(..., 1)`` whose backward makes channels_last gradient slices dense."""

    @staticmethod
    def forward(ctx: Any, *tensors: torch.Tensor) -> torch.Tensor:
        ctx.widths = [t.shape[1] for t in tensors]
        return torch.cat(tensors, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # differentiable ops only: a double backward (a gradient penalty) goes through them too
        slices = grad.split(ctx.widths, 1)
        if grad.is_contiguous(memory_format=torch.channels_last) and not grad.is_contiguous():
            return tuple(s.contiguous(memory_format=torch.channels_last) for s in slices)
        return slices


@torch.jit.unused
def _cat_with_dense_gradients(tensors: list[torch.Tensor]) -> torch.Tensor:
    """:class:`_CatChannels` where it can differ from ``torch.cat``: a gradient is wanted, the
    maps are channels_last, and nothing is recording a graph to save (tracing)."""
    if (
        torch.jit.is_tracing()
        or not torch.is_grad_enabled()
        or not any(t.requires_grad for t in tensors)
        or not all(t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) for t in tensors)
    ):
        return torch.cat(tensors, 1)
    return _CatChannels.apply(*tensors)


def cat_channels(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate 4-d maps along channels; equal to ``torch.cat(tensors, 1)`` in value and
    gradient, with dense channels_last gradients for the inputs (module docstring)."""
    if torch.jit.is_scripting():
        return torch.cat(tensors, 1)
    return _cat_with_dense_gradients(tensors)
