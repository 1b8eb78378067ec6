"""ResNet generator (Johnson et al.), the CycleGAN default.

Layer for layer the reference ``ResnetGenerator``: a 7x7 stem, two stride-2 downsamplings,
``n_blocks`` residual blocks, two transposed-conv upsamplings and a 7x7 ``tanh`` head, all in
one ``self.model = nn.Sequential`` so reference state-dict keys (``model.10.conv_block.1.weight``)
load unchanged. Output size equals input size when both sides are multiples of 4.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.errors import UsageError
from i2i.nets.base import ImageNet, full_precision
from i2i.nets.init import maybe_init
from i2i.nets.norm import NormBuilder, conv_bias, get_norm_layer
from i2i.nets.padding import ReflectionPad2d, ReplicationPad2d

PADDINGS = ("reflect", "replicate", "zero")


def _pad(padding_type: str, amount: int) -> tuple[list[nn.Module], int]:
    """(padding layers, conv padding) for ``padding_type``, as the reference builds them."""
    if padding_type == "reflect":
        return [ReflectionPad2d(amount)], 0
    if padding_type == "replicate":
        return [ReplicationPad2d(amount)], 0
    if padding_type == "zero":
        return [], amount
    raise UsageError(f"padding_type: unknown padding {padding_type!r} (known: {', '.join(PADDINGS)})")


class ResnetBlock(nn.Module):
    """pad-conv-norm-relu-[dropout]-pad-conv-norm with an identity skip (``self.conv_block``)."""

    def __init__(self, dim: int, padding_type: str, norm_layer: NormBuilder, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        pad, p = _pad(padding_type, 1)
        layers += [*pad, nn.Conv2d(dim, dim, 3, padding=p, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [*pad, nn.Conv2d(dim, dim, 3, padding=p, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(ImageNet):
    """ResNet generator with ``n_blocks`` residual blocks (``resnet_9blocks``, ``resnet_6blocks``)."""

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        n_blocks: int = 9,
        padding_type: str = "reflect",
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise UsageError(f"n_blocks: must be >= 0, got {n_blocks}")
        self.input_nc, self.output_nc = input_nc, output_nc
        self.size_multiple: int = 4  # two stride-2 downsamplings
        norm_layer, use_bias = get_norm_layer(norm), conv_bias(norm)
        stem_pad, stem_p = _pad(padding_type, 3)
        model: list[nn.Module] = [
            *stem_pad,
            nn.Conv2d(input_nc, ngf, 7, padding=stem_p, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        n_down = 2
        for i in range(n_down):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        mult = 2**n_down
        model += [ResnetBlock(ngf * mult, padding_type, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(n_down):
            mult = 2 ** (n_down - i)
            model += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias
                ),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        head_pad, head_p = _pad(padding_type, 3)
        model += [*head_pad, nn.Conv2d(ngf, output_nc, 7, padding=head_p), nn.Tanh()]
        self.model = nn.Sequential(*model)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return full_precision(self.model[-2:], self.model[:-2](x))  # 7x7 conv + tanh in fp32
