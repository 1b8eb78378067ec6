"""Augmented CycleGAN networks (Almahairi et al. 2018): latent-conditioned generator,
latent encoder and latent-code discriminator.

The generator is a ResNet whose every normalisation is a *conditional* instance norm: the
features are instance-normalised and then scaled and shifted by 1x1 convs (+ReLU) of the
latent code ``z``, as in aalmah/augmented_cyclegan's ``CondInstanceNorm``. One generator thus
maps one input to many outputs. The encoder ``E(a, b)`` infers the code that maps ``a`` to
``b``; it ends in a global average pool (the reference's final 4x4 valid conv assumes 64 px
inputs) and, when ``gaussian``, returns ``(mu, logvar)``.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i import (
    ReflectionPad2d,
    UsageError,
    conv_bias,
    full_precision,
    get_norm_layer,
    instance_norm,
    maybe_init,
)

_LATENT_NORMS = {"batch": nn.BatchNorm1d, "syncbatch": nn.SyncBatchNorm, "none": nn.Identity}


def _as_code(z: torch.Tensor) -> torch.Tensor:
    """(N, k) or (N, k, 1, 1) -> (N, k, 1, 1)."""
    return z.reshape(z.shape[0], -1, 1, 1)


class CondInstanceNorm(nn.Module):
    """Instance norm whose per-channel scale and shift are functions of the latent code."""

    def __init__(self, num_features: int, nlatent: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.shift_conv = nn.Sequential(nn.Conv2d(nlatent, num_features, 1), nn.ReLU(True))
        self.scale_conv = nn.Sequential(nn.Conv2d(nlatent, num_features, 1), nn.ReLU(True))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return instance_norm(x, self.eps, weight=self.scale_conv(z), bias=self.shift_conv(z))


class CINConvBlock(nn.Module):
    """conv -> conditional instance norm -> ReLU; ``transposed`` upsamples 2x instead."""

    def __init__(
        self, in_nc: int, out_nc: int, nlatent: int, kernel: int, stride: int, padding: int, transposed: bool = False
    ) -> None:
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = conv(in_nc, out_nc, kernel, stride=stride, padding=padding)
        self.norm = CondInstanceNorm(out_nc, nlatent)
        self.relu = nn.ReLU(True)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.relu(self.norm(self.conv(x), z))


class CINResnetBlock(nn.Module):
    """Reflect-padded residual block with conditional instance norms; ReLU after the sum."""

    def __init__(self, dim: int, nlatent: int, use_dropout: bool) -> None:
        super().__init__()
        self.pad = ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(dim, dim, 3)
        self.norm1 = CondInstanceNorm(dim, nlatent)
        self.dropout = nn.Dropout(0.5) if use_dropout else nn.Identity()
        self.conv2 = nn.Conv2d(dim, dim, 3)
        self.norm2 = CondInstanceNorm(dim, nlatent)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.dropout(torch.relu(self.norm1(self.conv1(self.pad(x)), z)))
        h = self.norm2(self.conv2(self.pad(h)), z)
        return torch.relu(x + h)


class LatentResnetGenerator(nn.Module):
    """``forward(x, z)``: ResNet generator conditioned on ``z`` of shape (N, nlatent)."""

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        nlatent: int = 16,
        n_blocks: int = 3,
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        if norm not in ("instance", "instance_affine"):
            raise UsageError(f"norm: the Augmented CycleGAN generator uses conditional instance norm, got {norm!r}")
        self.input_nc, self.output_nc, self.nlatent = input_nc, output_nc, nlatent
        blocks: list[nn.Module] = [
            CINConvBlock(input_nc, ngf, nlatent, 7, 1, 3),
            CINConvBlock(ngf, 2 * ngf, nlatent, 4, 2, 1),
            CINConvBlock(2 * ngf, 4 * ngf, nlatent, 4, 2, 1),
        ]
        blocks += [CINResnetBlock(4 * ngf, nlatent, use_dropout) for _ in range(n_blocks)]
        blocks += [
            CINConvBlock(4 * ngf, 2 * ngf, nlatent, 4, 2, 1, transposed=True),
            CINConvBlock(2 * ngf, ngf, nlatent, 4, 2, 1, transposed=True),
        ]
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Conv2d(ngf, output_nc, 7, padding=3), nn.Tanh())
        maybe_init(self, init_type, init_gain)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z = _as_code(z).to(x.dtype)
        for block in self.blocks:
            x = block(x, z)
        return full_precision(self.head, x)

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return torch.randn(batch_size, self.input_nc, *size), torch.randn(batch_size, self.nlatent)


class LatentEncoder(nn.Module):
    """``E(a, b) -> z`` (or ``(mu, logvar)`` when ``gaussian``), z of shape (N, nlatent).

    ``a`` has ``input_nc`` channels, ``b`` has ``output_nc``; ``ngf`` is the base width.
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        nlatent: int = 16,
        gaussian: bool = True,
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        self.input_nc, self.output_nc, self.nlatent, self.gaussian = input_nc, output_nc, nlatent, gaussian
        norm_layer, use_bias = get_norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc + output_nc, ngf, 3, stride=2, padding=1), nn.ReLU(True)]
        dim = ngf
        for _ in range(3):
            layers += [
                nn.Conv2d(dim, dim * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(dim * 2),
                nn.ReLU(True),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
            dim *= 2
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.conv_modules = nn.Sequential(*layers)
        self.enc_mu = nn.Conv2d(dim, nlatent, 1)
        self.enc_logvar = nn.Conv2d(dim, nlatent, 1) if gaussian else None
        maybe_init(self, init_type, init_gain)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        h = self.conv_modules(torch.cat([a, b], dim=1))
        mu = self.enc_mu(h).flatten(1)
        if self.enc_logvar is None:
            return mu
        return mu, self.enc_logvar(h).flatten(1)

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return torch.randn(batch_size, self.input_nc, *size), torch.randn(batch_size, self.output_nc, *size)


class LatentMLPDiscriminator(nn.Module):
    """MLP on latent codes (N, nlatent) -> (N, 1) logits; ``n_layers`` hidden layers of ``ndf``.

    ``input_nc`` is accepted for the uniform discriminator signature and unused; ``norm`` is
    ``batch`` (the reference's BatchNorm1d), ``syncbatch`` or ``none``.
    """

    def __init__(
        self,
        input_nc: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        nlatent: int = 16,
        init_type: str | None = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        if norm not in _LATENT_NORMS:
            raise UsageError(f"norm: the latent discriminator supports {', '.join(_LATENT_NORMS)}, got {norm!r}")
        self.nlatent = nlatent
        norm_cls = _LATENT_NORMS[norm]
        layers: list[nn.Module] = []
        dim = nlatent
        for _ in range(n_layers):
            layers += [nn.Linear(dim, ndf), norm_cls(ndf), nn.LeakyReLU(0.2, True)]
            dim = ndf
        layers.append(nn.Linear(dim, 1))
        self.model = nn.Sequential(*layers)
        maybe_init(self, init_type, init_gain)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z.flatten(1))

    def example_inputs(self, batch_size: int = 2, size: tuple[int, int] = (32, 32)) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.nlatent),)
