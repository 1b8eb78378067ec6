"""Convolutions on small maps as one matrix product: the CPU fast path's answer to weight-bound layers.

oneDNN's direct convolution is efficient when a layer has many output positions; on the small
maps deep in GANs (a U-Net's 1x1-16x16 levels at batch 1, StarGAN's critic ending in a
1024->2048 4x4 conv on a 4x4 map) it is far from the machine's matrix-product speed. The same
layer written as ``unfold`` + one GEMM (``fold`` for a transposed convolution) is what a
convolution is by definition, and on those shapes it is much faster. Measured forward +
backward, bf16, channels_last, one thread (``benchmarks/small_map_probe.py``; the table is in
``benchmarks/README.md``, "Small maps as one matrix product")::

    layer (batch, map)                            oneDNN     GEMM
    conv 1024->2048 k4 s2, B16, 4x4 -> 2x2        827 ms   104 ms   (x8.0)
    conv 512->512 k4 s2, B1, 8x8 -> 4x4            16 ms   8.5 ms   (x1.9)
    convT 1024->512 k4 s2, B1, 8x8 -> 16x16        72 ms    24 ms   (x3.0)
    conv 256->512 k4 s2, B16, 16x16 -> 8x8         40 ms    48 ms   (x0.8, kept on oneDNN)

The crossover is at about 256 GEMM columns (batch x output positions of a conv, batch x input
positions of a transposed conv) in bf16 and fp32 alike (at 256 some layers gain 1.2-2.8x, one
loses 0.8x), so :data:`MAX_COLUMNS` is 256; a layer with fewer than :data:`MIN_WEIGHTS`
(262k) weights is left alone: there the unfold and reshapes cost more than the product saves.
Convolutions with 1024 or more output channels are the exception: oneDNN's bf16 kernel is
slow on them at any of these sizes, so they take the GEMM up to :data:`WIDE_MAX_COLUMNS` (512)
columns (bf16, forward + backward, 2 threads: 512->1024 at 512 columns 224 -> 122 ms, x1.8;
1024->2048 1220 -> 568 ms, x2.1; at 1024 columns 0.8-1.6x, so not there; 512->512 at 512
columns 0.7x, so not below 1024 outputs).

The result equals the convolution up to float rounding (the sums run in another order), so
the trainer uses it only on the low-precision CPU path (``train.small_map_gemm``), never in
fp32 runs, whose numerics match the reference code step for step. :func:`use_gemm_for_small_maps`
swaps the class of each plain ``nn.Conv2d`` / ``nn.ConvTranspose2d`` for a subclass whose
``forward`` picks the product per call, by the input's shape; parameters, state-dict keys,
hooks and ``isinstance`` checks are untouched, and subclasses with their own ``forward`` are
left as they are. Both formulations are twice differentiable (gradient penalties).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: largest GEMM column count (batch x positions) routed to the matrix product
MAX_COLUMNS = 256
#: convolutions with at least this many output channels ...
WIDE_OUT_CHANNELS = 1024
#: ... are routed up to this many columns: oneDNN's bf16 kernels are slowest on them (a
#: 512->1024 4x4 conv at 512 columns, StarGAN's critic on real + fake at 128 px: 224 -> 122 ms)
WIDE_MAX_COLUMNS = 512
#: smallest weight (elements) worth routing: below it the extra ops cost more than the product
#: saves (a 64->128 4x4 conv, 131k weights, at 128-256 columns: 0.53-0.75x; 128->256, 524k: 1.4-1.5x)
MIN_WEIGHTS = 1 << 18


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _as_rows(weight: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``weight`` as a ``[dim0, rest]`` matrix without copying: a channels_last weight read
    as ``[dim0, kh, kw, dim1]`` is contiguous. Returns the matrix and whether it is in that order."""
    if not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last):
        return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1), True
    return weight.reshape(weight.shape[0], -1), False


def conv2d_gemm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """``F.conv2d`` (groups 1, dilation 1) as unfold + one GEMM, in the input's memory layout."""
    batch, channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out_h = (height + 2 * padding[0] - kh) // stride[0] + 1
    out_w = (width + 2 * padding[1] - kw) // stride[1] + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)  # [B, C*kh*kw, L]
    rows, kernel_major = _as_rows(weight)
    if kernel_major:  # the weight's columns run (kh, kw, C): reorder the patches to match
        cols = cols.view(batch, channels, kh * kw, -1).transpose(1, 2).reshape(batch, kh * kw * channels, -1)
    # one 2-D GEMM over batch x positions, folded by hand: left to ``matmul``, a [B, L, K] @ [K, O]
    # whose weight needs no gradient (a frozen critic, no_grad, inference) ran as a batched product
    # on B copies of the weight (16 x 33.5M elements for StarGAN's critic: 3.3 s against 44 ms)
    patches = cols.transpose(1, 2).reshape(batch * out_h * out_w, -1)
    out = patches @ rows.t()  # [B*L, O]
    if bias is not None:
        out = out + bias.to(out.dtype)
    out = out.view(batch, out_h, out_w, out_channels).permute(0, 3, 1, 2)  # channels_last
    return out if x.is_contiguous(memory_format=torch.channels_last) else out.contiguous()


def conv_transpose2d_gemm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
) -> torch.Tensor:
    """``F.conv_transpose2d`` (groups 1, dilation 1) as one GEMM + fold."""
    batch, channels, height, width = x.shape
    _, out_channels, kh, kw = weight.shape
    out_h = (height - 1) * stride[0] - 2 * padding[0] + kh + output_padding[0]
    out_w = (width - 1) * stride[1] - 2 * padding[1] + kw + output_padding[1]
    rows, kernel_major = _as_rows(weight)  # [C, O*kh*kw] or [C, kh*kw*O]
    pixels = x.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
    cols = (pixels @ rows).view(batch, height * width, -1)  # [B, HW, O*kh*kw]: one 2-D GEMM, as above
    if kernel_major:
        cols = cols.view(batch, height * width, kh * kw, out_channels).permute(0, 3, 2, 1)
    else:
        cols = cols.transpose(1, 2)
    cols = cols.reshape(batch, out_channels * kh * kw, height * width)
    out = F.fold(cols, (out_h, out_w), (kh, kw), padding=padding, stride=stride)
    if bias is not None:
        out = out + bias.to(out.dtype).view(1, -1, 1, 1)
    return (
        out.contiguous(memory_format=torch.channels_last) if x.is_contiguous(memory_format=torch.channels_last) else out
    )


def _routable(module: Any) -> bool:
    """Dense, undilated, numerically padded, and big enough to gain (conv modules only)."""
    return bool(
        module.groups == 1
        and _pair(module.dilation) == (1, 1)
        and not isinstance(module.padding, str)
        and module.weight.numel() >= MIN_WEIGHTS
    )


class SmallMapConv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs as one GEMM when the map is small (:func:`conv2d_gemm`)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() != 4:  # an unbatched input
            return super().forward(input)
        padding = _pair(self.padding)
        stride = _pair(self.stride)
        kh, kw = self.weight.shape[2:]
        out_h = (input.shape[2] + 2 * padding[0] - kh) // stride[0] + 1
        out_w = (input.shape[3] + 2 * padding[1] - kw) // stride[1] + 1
        limit = WIDE_MAX_COLUMNS if self.out_channels >= WIDE_OUT_CHANNELS else MAX_COLUMNS
        if input.shape[0] * out_h * out_w > limit:
            return super().forward(input)
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = (0, 0)
        return conv2d_gemm(input, self.weight, self.bias, stride, padding)


class SmallMapConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that runs as one GEMM when the map is small (:func:`conv_transpose2d_gemm`)."""

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if input.dim() != 4 or input.shape[0] * input.shape[2] * input.shape[3] > MAX_COLUMNS:
            return super().forward(input, output_size)
        output_padding = self._output_padding(
            input,
            output_size,
            list(_pair(self.stride)),
            list(_pair(self.padding)),
            list(self.kernel_size),
            2,
            list(_pair(self.dilation)),
        )
        return conv_transpose2d_gemm(
            input, self.weight, self.bias, _pair(self.stride), _pair(self.padding), _pair(output_padding)
        )


_SWAPS: dict[type, type] = {nn.Conv2d: SmallMapConv2d, nn.ConvTranspose2d: SmallMapConvTranspose2d}


def use_gemm_for_small_maps(module: nn.Module) -> int:
    """Route the small-map calls of every plain conv in ``module`` through one GEMM (see the
    module docstring); returns how many layers may be routed. Idempotent. Whether a layer
    qualifies (:func:`_routable`) is decided here, once: its forward only looks at the input's size."""
    for layer in module.modules():
        target = _SWAPS.get(type(layer))
        if target is not None and _routable(layer):
            layer.__class__ = target
    return sum(isinstance(layer, tuple(_SWAPS.values())) for layer in module.modules())
