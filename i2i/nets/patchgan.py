"""Convolutional discriminators: PatchGAN, PixelGAN and a multi-scale PatchGAN stack.

PatchGAN and PixelGAN are the reference ``NLayerDiscriminator`` (``self.model``) and
``PixelDiscriminator`` (``self.net``) layer for layer; they output raw logits (no sigmoid -
the losses in :mod:`i2i.nets.losses` take logits). ``n_layers=3`` is the 70x70 PatchGAN.
The multi-scale stack (pix2pixHD) runs ``num_D`` PatchGANs on successively 2x average-pooled
copies of the input and returns their outputs as a list, finest first.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.nets.base import ImageNet
from i2i.nets.init import maybe_init
from i2i.nets.norm import conv_bias, get_norm_layer


class NLayerDiscriminator(ImageNet):
    """PatchGAN with ``n_layers`` stride-2 convs; one logit per overlapping patch."""

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        self.input_nc = input_nc
        norm_layer, use_bias = get_norm_layer(norm), conv_bias(norm)
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*seq)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def basic_patchgan(
    input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance", **kwargs: object
) -> NLayerDiscriminator:
    """The reference ``--netD basic``: the 70x70 PatchGAN, always 3 layers (as the reference,
    which ignores ``--n_layers_D`` for ``basic``; ``n_layers`` is accepted and unused)."""
    return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm=norm, **kwargs)  # type: ignore[arg-type]


class PixelDiscriminator(ImageNet):
    """1x1 PatchGAN (PixelGAN): classifies each pixel independently; ``n_layers`` is unused."""

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        self.input_nc = input_nc
        norm_layer, use_bias = get_norm_layer(norm), conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=use_bias),
            norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=use_bias),
        )
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiscaleDiscriminator(ImageNet):
    """``num_D`` PatchGANs at scales 1, 1/2, 1/4, ...; forward returns a list of logit maps."""

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        num_D: int = 3,
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        self.input_nc = input_nc
        self.discriminators = nn.ModuleList(
            NLayerDiscriminator(input_nc, ndf, n_layers, norm, init_type=None) for _ in range(num_D)
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs: list[torch.Tensor] = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self.downsample(x)
            outputs.append(d(x))
        return outputs
