"""Shared check for layers that re-route a convolution (i2i.nets.small_maps, i2i.nets.narrow_conv):
the rewritten layer must be the same function, second-order gradients included."""

from __future__ import annotations

import torch
from torch import nn


def outputs(layer: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Output, input gradient, and the second-order gradients a gradient penalty takes."""
    x = x.clone().requires_grad_()
    y = layer(x)
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    return [y, gx, *torch.autograd.grad(gx.square().sum(), list(layer.parameters()))]


def assert_same_function(
    conv: nn.Module, routed: nn.Module, x: torch.Tensor, channels_last: bool
) -> tuple[nn.Module, torch.Tensor]:
    """``routed`` (a rewritten deep copy of float64 ``conv``) gives ``conv``'s outputs and
    gradients to float64 rounding, in the layout asked for; returns it and the input used."""
    if channels_last:
        conv, routed = (m.to(memory_format=torch.channels_last) for m in (conv, routed))
        x = x.contiguous(memory_format=torch.channels_last)
    for a, b in zip(outputs(conv, x), outputs(routed, x), strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
    return routed, x
