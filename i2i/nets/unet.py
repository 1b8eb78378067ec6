"""U-Net generator (pix2pix): nested skip blocks, dropout in the inner decoder blocks.

Built exactly as the reference ``UnetGenerator``: the outermost block is ``self.model`` and
each block holds its child inside ``self.model`` (a Sequential), so reference keys
(``model.model.1.model.3.weight`` ...) load unchanged. ``num_downs`` halvings take an image of
side ``2**num_downs`` to 1x1 at the bottleneck (``unet_128``: 7, ``unet_256``: 8).

Unlike the reference, any input size works: sides that are not multiples of
``2**num_downs`` are replicate-padded up to one and the output is cropped back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError
from i2i.nets.base import ImageNet, full_precision
from i2i.nets.concat import cat_channels
from i2i.nets.init import maybe_init
from i2i.nets.norm import NormBuilder, conv_bias as _conv_bias, get_norm_layer


class UnetSkipConnectionBlock(nn.Module):
    """down -> child -> up, concatenated with its own input (except the outermost block)."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm_layer: NormBuilder = nn.BatchNorm2d,
        use_dropout: bool = False,
        use_bias: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, norm_layer(outer_nc)]
        else:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, norm_layer(inner_nc), submodule, uprelu, upconv, norm_layer(outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:  # down, child, ReLU | upconv, tanh: the output layers in fp32
            return full_precision(self.model[3:], self.model[:3](x))
        return cat_channels([x, self.model(x)])  # as torch.cat; dense gradients on channels_last maps


class UnetGenerator(ImageNet):
    """U-Net with ``num_downs`` downsamplings (>= 5); ``ngf * 8`` channels at the deepest levels."""

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        num_downs: int = 8,
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise UsageError(f"num_downs: a U-Net needs at least 5 downsamplings, got {num_downs}")
        self.input_nc, self.output_nc, self.num_downs = input_nc, output_nc, num_downs
        self.size_multiple: int = 2**num_downs  # input sides are padded up to a multiple of this
        norm_layer, use_bias = get_norm_layer(norm), _conv_bias(norm)
        kw: dict[str, Any] = dict(norm_layer=norm_layer, use_bias=use_bias)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout, **kw)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, **kw)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        m = self.size_multiple
        pad_h, pad_w = (m - h % m) % m, (m - w % m) % m
        if pad_h == 0 and pad_w == 0:
            return self.model(x)
        y = self.model(F.pad(x, [0, pad_w, 0, pad_h], mode="replicate"))
        return y[..., :h, :w]
