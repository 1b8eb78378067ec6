"""Convolutions with few output channels as two cheap ones: the CPU fast path's answer to image heads.

A generator's last layer turns 32-64 feature channels into 3 pixels with a 7x7 kernel, and a
PatchGAN ends in one score channel. oneDNN's CPU kernels compute output channels in blocks of
16, so a 3-channel convolution costs what a 16-channel one does: the 7x7 64->3 head of
``resnet_9blocks`` ran at ~40 GFLOP/s in fp32, against ~170 for the 3->64 input layer with
the same FLOPs, and it was ~8% of a bf16 CycleGAN step (it stays fp32 there, see
:func:`i2i.nets.base.full_precision`).

The same sum, regrouped, fills the blocks: a ``kh x 1`` convolution with ``O * kw`` outputs
(one per output channel and kernel column, :math:`z_{o,j}(y, x) = \\sum_{c,i} w_{o,c,i,j}\\,
x_c(y+i, x)`) followed by a grouped ``1 x kw`` convolution whose kernel is the identity, which
adds each output channel's ``kw`` column sums at their offsets (:math:`y_o(y, x) = \\sum_j
z_{o,j}(y, x+j)`). The first does the work at ``kw`` times fewer taps per output; the second is
``kw`` multiply-adds per output. Forward + backward, channels_last, 2 threads, one run of
``OMP_NUM_THREADS=2 python benchmarks/narrow_conv_ab.py --kernel`` (2026-12-04; the table is in
``benchmarks/README.md``)::

    layer (batch, map)                          direct    split
    fp32 64->3 k7, B1, 262x262 (CycleGAN)        68 ms    36 ms   (x1.87)
    fp32 64->3 k7 pad 3, B16, 128x128 (StarGAN) 321 ms   181 ms   (x1.77)
    fp32 32->3 k7, B32, 70x70 (Aug. CycleGAN)    70 ms    46 ms   (x1.51)
    bf16 64->3 k7, B1, 262x262 (translation)     41 ms    27 ms   (x1.52)
    bf16 512->1 k4, B1, 31x31 (PatchGAN score)  2.4 ms   1.4 ms  (x1.69)
    fp32 64->8 k7, B4, 128x128                   73 ms    76 ms   (x0.96, not routed)
    fp32 64->16 k7, B4, 128x128                  85 ms   142 ms   (x0.60, not routed)

From 8 output channels on it loses, hence :data:`NARROW_MAX_OUT` = 4; kernels narrower than
:data:`NARROW_MIN_KERNEL` (3) columns have little to regroup. The result equals the
convolution up to float rounding (the sums run in another order; in bf16 the column sums are
rounded to bf16 once more; autocast casts the reshaped weight at each use, not once per
step, so a weight used twice before one backward has its gradients summed in fp32, where
a plain layer's sum in bf16), so only the low-precision CPU path uses it
(``train.narrow_conv``), never an fp32 run, whose numerics match the reference code step for
step. :func:`use_split_for_narrow_convs` swaps the class of each qualifying plain
``nn.Conv2d`` for :class:`NarrowConv2d`, as :mod:`i2i.nets.small_maps` does: parameters,
state-dict keys, hooks (weight copies included) and ``isinstance`` checks are untouched. Both
convolutions are twice differentiable (gradient penalties).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: most output channels routed: at 8 the split is no faster (fp32 and bf16, k3-k7)
NARROW_MAX_OUT = 4
#: fewest kernel columns routed
NARROW_MIN_KERNEL = 3


def conv2d_narrow(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: tuple[int, int]
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=padding)`` (stride, dilation and groups 1, zero
    padding) as a ``kh x 1`` convolution to ``O * kw`` column sums and a grouped identity
    ``1 x kw`` convolution that adds them. The height padding goes to the first, the width
    padding to the second: oneDNN's fast kernels take no padding wider than the kernel."""
    out_channels, channels, kh, kw = weight.shape
    columns = weight.permute(0, 3, 1, 2).reshape(out_channels * kw, channels, kh, 1)  # row o*kw + j
    sums = F.conv2d(x, columns, None, padding=(padding[0], 0))
    eye = torch.eye(kw, dtype=sums.dtype, device=sums.device).view(1, kw, 1, kw).expand(out_channels, kw, 1, kw)
    return F.conv2d(
        sums, eye.contiguous(memory_format=torch.channels_last), bias, padding=(0, padding[1]), groups=out_channels
    )


def _routable(layer: nn.Conv2d) -> bool:
    """Few outputs, wide enough a kernel, and otherwise a plain dense convolution."""
    return bool(
        layer.out_channels <= NARROW_MAX_OUT
        and layer.kernel_size[1] >= NARROW_MIN_KERNEL
        and layer.groups == 1
        and tuple(layer.stride) == (1, 1)
        and tuple(layer.dilation) == (1, 1)
        and not isinstance(layer.padding, str)
    )


class NarrowConv2d(nn.Conv2d):
    """``nn.Conv2d`` with at most :data:`NARROW_MAX_OUT` outputs, run as :func:`conv2d_narrow`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() != 4:  # an unbatched input
            return super().forward(input)
        padding = (int(self.padding[0]), int(self.padding[1]))
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = (0, 0)
        return conv2d_narrow(input, self.weight, self.bias, padding)


def use_split_for_narrow_convs(module: nn.Module) -> int:
    """Run every qualifying plain ``nn.Conv2d`` in ``module`` as :func:`conv2d_narrow` (see the
    module docstring); returns how many layers do. Idempotent; subclasses with their own
    ``forward`` are left as they are."""
    for layer in module.modules():
        if type(layer) is nn.Conv2d and _routable(layer):
            layer.__class__ = NarrowConv2d
    return sum(isinstance(layer, NarrowConv2d) for layer in module.modules())
