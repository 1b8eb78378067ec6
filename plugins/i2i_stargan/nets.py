"""StarGAN generator and discriminator (Choi et al. 2018), as yunjey/stargan builds them.

The generator tiles the target-domain label ``c`` (N, c_dim) into constant maps, concatenates
them to the image and runs a ResNet (7x7 stem, two 4x4 stride-2 downsamplings, ``n_blocks``
residual blocks, two 4x4 transposed upsamplings, 7x7 ``tanh`` head; no conv biases, affine
instance norm). The discriminator is a stack of ``n_layers`` 4x4 stride-2 convs with
LeakyReLU(0.01) and two heads: a 3x3 real/fake patch map and a domain classifier whose kernel
covers the whole ``image_size`` feature map. Keys (``main.0.weight``, ``conv1.weight`` ...)
equal the reference's apart from its instance-norm running statistics, which it never uses
in training mode and which the ``stargan-ref`` importer (:mod:`i2i_stargan.importer`) drops.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from i2i import UsageError, conv_bias, full_precision, get_norm_layer, maybe_init

#: What :func:`i2i.get_norm_layer` returns: channels -> norm layer.
NormBuilder = Callable[[int], nn.Module]


class ResidualBlock(nn.Module):
    """conv-norm-relu-[dropout]-conv-norm with identity skip, as ``self.main``."""

    def __init__(self, dim: int, norm_layer: NormBuilder, use_bias: bool, use_dropout: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(dim, dim, 3, padding=1, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(inplace=True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.Conv2d(dim, dim, 3, padding=1, bias=use_bias), norm_layer(dim)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class StarGANGenerator(nn.Module):
    """Label-conditioned generator: ``forward(x, c)`` with ``c`` of shape (N, c_dim)."""

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        norm: str = "instance_affine",
        use_dropout: bool = False,
        c_dim: int = 5,
        n_blocks: int = 6,
        init_type: str | None = None,
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        self.input_nc, self.output_nc, self.c_dim = input_nc, output_nc, c_dim
        norm_layer, use_bias = get_norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc + c_dim, ngf, 7, padding=3, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(inplace=True),
        ]
        dim = ngf
        for _ in range(2):
            layers += [
                nn.Conv2d(dim, dim * 2, 4, stride=2, padding=1, bias=use_bias),
                norm_layer(dim * 2),
                nn.ReLU(inplace=True),
            ]
            dim *= 2
        layers += [ResidualBlock(dim, norm_layer, use_bias, use_dropout) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(dim, dim // 2, 4, stride=2, padding=1, bias=use_bias),
                norm_layer(dim // 2),
                nn.ReLU(inplace=True),
            ]
            dim //= 2
        layers += [nn.Conv2d(dim, output_nc, 7, padding=3, bias=use_bias), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.to(x.dtype).reshape(c.shape[0], c.shape[1], 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return full_precision(self.main[-2:], self.main[:-2](torch.cat([x, c], dim=1)))  # 7x7 conv + tanh in fp32

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        c = (torch.rand(batch_size, self.c_dim) > 0.5).float()
        return torch.randn(batch_size, self.input_nc, *size), c


class StarGANDiscriminator(nn.Module):
    """PatchGAN source head + domain classifier: ``forward(x) -> (src, cls)``.

    ``src`` is (N, 1, H/2**n, W/2**n); ``cls`` is (N, c_dim) logits. At the training size
    the classifier's kernel covers the whole feature map exactly as in the reference; on
    other sizes (>= ``image_size``) its outputs are averaged over positions.
    """

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 6,
        norm: str = "none",
        c_dim: int = 5,
        image_size: int = 128,
        init_type: str | None = None,
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        kernel = image_size // 2**n_layers
        if kernel < 1:
            raise UsageError(
                f"image_size: {image_size} is too small for {n_layers} stride-2 layers (need >= {2**n_layers})"
            )
        self.input_nc, self.c_dim = input_nc, c_dim
        norm_layer, use_bias = get_norm_layer(norm), norm == "none" or conv_bias(norm)
        with_norm = norm != "none"
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        dim = ndf
        for _ in range(1, n_layers):
            layers.append(nn.Conv2d(dim, dim * 2, 4, stride=2, padding=1, bias=use_bias))
            if with_norm:
                layers.append(norm_layer(dim * 2))
            layers.append(nn.LeakyReLU(0.01))
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel, bias=False)
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(2).mean(2)

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.input_nc, *size),)
