"""StarGAN v2's four networks, laid out so clovaai/stargan-v2 state dicts load key for key.

* :class:`Generator` ``G(x, s)``: a residual encoder (instance-normalised, average-pool
  downsampling) to a 2**-n resolution, then a decoder whose every block is modulated by the
  style code ``s`` through AdaIN (nearest-neighbour upsampling back to the input size).
* :class:`MappingNetwork` ``F(z, y)``: an MLP from a latent code to a style code, a shared
  trunk and one head per domain; ``y`` picks the head.
* :class:`StyleEncoder` ``E(x, y)``: a residual CNN from an ``img_size`` image to one style
  code per domain; ``y`` picks one.
* :class:`Discriminator` ``D(x, y)``: the same CNN with one real/fake logit per domain.

Per-domain outputs are computed for every domain and then indexed with ``y`` (as the
reference does), so every head receives a gradient - zero for domains absent from the batch
- which multi-process gradient averaging and weight decay both rely on.

Attribute names and module indices are the reference's (they *are* the checkpoint format:
``encode.0.conv1.weight``, ``unshared.2.6.bias``, ``main.8.weight`` ...). Instance norms are
i2i's (``i2i.get_norm_layer``: ``weight``/``bias`` like ``nn.InstanceNorm2d``, correct and
fast on channels_last, where ``F.instance_norm``'s input gradient is wrong), and the generator's output layers run in fp32 under autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import i2i

SQRT2 = math.sqrt(2.0)


def _affine_norm(num_features: int) -> nn.Module:
    """i2i's affine instance norm (parameters ``weight``/``bias``, as ``nn.InstanceNorm2d(affine=True)``)."""
    return i2i.get_norm_layer("instance_affine")(num_features)


def level_widths(width: int, levels: int, max_width: int) -> list[int]:
    """Channels at each resolution level: ``width`` doubling per level, capped at ``max_width``."""
    widths = [width]
    for _ in range(levels):
        widths.append(min(widths[-1] * 2, max_width))
    return widths


def select(per_domain: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row ``i`` of ``per_domain`` ``(N, D, ...)`` at domain ``y[i]``: ``(N, ...)``."""
    return per_domain[torch.arange(per_domain.shape[0], device=per_domain.device), y]


class ResBlk(nn.Module):
    """Pre-activation residual block: [norm] lrelu conv [pool] [norm] lrelu conv, plus a shortcut
    (1x1 conv when the width changes, pooled when downsampling), scaled by 1/sqrt(2) so the sum
    keeps unit variance."""

    def __init__(self, dim_in: int, dim_out: int, *, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.normalize, self.downsample = normalize, downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = _affine_norm(dim_in)
            self.norm2 = _affine_norm(dim_in)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.conv1x1 is None else self.conv1x1(x)
        h = self.norm1(x) if self.normalize else x
        h = self.conv1(F.leaky_relu(h, 0.2))
        if self.downsample:
            shortcut, h = F.avg_pool2d(shortcut, 2), F.avg_pool2d(h, 2)
        if self.normalize:
            h = self.norm2(h)
        h = self.conv2(F.leaky_relu(h, 0.2))
        return (shortcut + h) / SQRT2


class AdaIN(nn.Module):
    """Adaptive instance norm: ``(1 + gamma(s)) * IN(x) + beta(s)`` with one linear layer for both.

    ``i2i.instance_norm`` takes the per-sample scale and shift: in fp32 that is the formula op
    for op, in bf16 they are fused into the normalisation kernel.
    """

    def __init__(self, style_dim: int, num_features: int) -> None:
        super().__init__()
        self.eps = 1e-5  # nn.InstanceNorm2d's, the reference's norm here (it has no parameters)
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return i2i.instance_norm(x, self.eps, weight=1 + gamma, bias=beta)


class AdainResBlk(nn.Module):
    """Decoder block: AdaIN lrelu [up] conv AdaIN lrelu conv. With ``shortcut`` (the reference's
    ``w_hpf == 0``) the upsampled, 1x1-projected input is added and the sum scaled by 1/sqrt(2);
    the face layout (``w_hpf > 0``) keeps the residual path alone."""

    def __init__(
        self, dim_in: int, dim_out: int, style_dim: int, *, upsample: bool = False, shortcut: bool = True
    ) -> None:
        super().__init__()
        self.upsample, self.shortcut = upsample, shortcut
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self._up(F.leaky_relu(self.norm1(x, s), 0.2)))
        h = self.conv2(F.leaky_relu(self.norm2(h, s), 0.2))
        if not self.shortcut:
            return h
        skip = self._up(x)
        if self.conv1x1 is not None:
            skip = self.conv1x1(skip)
        return (h + skip) / SQRT2


class Generator(nn.Module):
    """``G(x, s)``: image and style code to image (unbounded; ``translate`` clamps to [-1, 1]).

    ``levels`` down/up-sampling levels (``log2(img_size) - 4``, one more for the face layout)
    and two bottleneck blocks at the lowest resolution, which sets ``size_multiple = 2**levels``.
    """

    def __init__(
        self,
        img_size: int = 256,
        style_dim: int = 64,
        max_conv_dim: int = 512,
        w_hpf: float = 0.0,
        *,
        width: int | None = None,
        channels: int = 3,
    ) -> None:
        super().__init__()
        width = width if width is not None else 2**14 // img_size
        self.levels = int(math.log2(img_size)) - 4 + (1 if w_hpf > 0 else 0)
        self.size_multiple = 2**self.levels
        widths = level_widths(width, self.levels, max_conv_dim)
        shortcut = not w_hpf > 0
        self.from_rgb = nn.Conv2d(channels, width, 3, 1, 1)
        down = [ResBlk(widths[i], widths[i + 1], normalize=True, downsample=True) for i in range(self.levels)]
        bottom = widths[-1]
        self.encode = nn.ModuleList(down + [ResBlk(bottom, bottom, normalize=True) for _ in range(2)])
        up = [
            AdainResBlk(widths[i + 1], widths[i], style_dim, upsample=True, shortcut=shortcut)
            for i in reversed(range(self.levels))
        ]
        self.decode = nn.ModuleList([AdainResBlk(bottom, bottom, style_dim, shortcut=shortcut) for _ in range(2)] + up)
        self.to_rgb = nn.Sequential(_affine_norm(width), nn.LeakyReLU(0.2), nn.Conv2d(width, channels, 1, 1, 0))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.from_rgb(x)
        for block in self.encode:
            h = block(h)
        for block in self.decode:
            h = block(h, s)
        return i2i.full_precision(self.to_rgb, h)


class MappingNetwork(nn.Module):
    """``F(z, y)``: latent code to the style code of domain ``y``: a 4-layer shared MLP and a
    4-layer head per domain (ReLU between layers)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2, hidden_dim: int = 512) -> None:
        super().__init__()
        self.shared = _mlp([latent_dim] + [hidden_dim] * 4, last_relu=True)
        self.unshared = nn.ModuleList(_mlp([hidden_dim] * 4 + [style_dim], last_relu=False) for _ in range(num_domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)
        return select(torch.stack([head(h) for head in self.unshared], dim=1), y)


def _mlp(sizes: list[int], *, last_relu: bool) -> nn.Sequential:
    """Linear layers ``sizes[i] -> sizes[i + 1]`` with a ReLU after each (but the last unless asked):
    linear layers at the even indices, as the reference's state-dict keys have them."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if last_relu or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _encoder_trunk(img_size: int, width: int, max_conv_dim: int, channels: int) -> tuple[list[nn.Module], int]:
    """The style encoder's and discriminator's shared CNN: a 3x3 stem, ``log2(img_size) - 2``
    downsampling residual blocks to 4x4, lrelu, a 4x4 valid conv to 1x1, lrelu."""
    levels = int(math.log2(img_size)) - 2
    widths = level_widths(width, levels, max_conv_dim)
    blocks: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1)]
    blocks += [ResBlk(widths[i], widths[i + 1], downsample=True) for i in range(levels)]
    out = widths[-1]
    blocks += [nn.LeakyReLU(0.2), nn.Conv2d(out, out, 4, 1, 0), nn.LeakyReLU(0.2)]
    return blocks, out


class StyleEncoder(nn.Module):
    """``E(x, y)``: an ``img_size`` image to its style code as domain ``y`` sees it."""

    def __init__(
        self,
        img_size: int = 256,
        style_dim: int = 64,
        num_domains: int = 2,
        max_conv_dim: int = 512,
        *,
        width: int | None = None,
        channels: int = 3,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        blocks, out = _encoder_trunk(
            img_size, width if width is not None else 2**14 // img_size, max_conv_dim, channels
        )
        self.shared = nn.Sequential(*blocks)
        self.unshared = nn.ModuleList(nn.Linear(out, style_dim) for _ in range(num_domains))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(x).flatten(1)
        return select(torch.stack([head(h) for head in self.unshared], dim=1), y)


class Discriminator(nn.Module):
    """``D(x, y)``: one real/fake logit per image, from the head of domain ``y``."""

    def __init__(
        self,
        img_size: int = 256,
        num_domains: int = 2,
        max_conv_dim: int = 512,
        *,
        width: int | None = None,
        channels: int = 3,
    ) -> None:
        super().__init__()
        blocks, out = _encoder_trunk(
            img_size, width if width is not None else 2**14 // img_size, max_conv_dim, channels
        )
        self.main = nn.Sequential(*blocks, nn.Conv2d(out, num_domains, 1, 1, 0))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return select(self.main(x).flatten(1), y)
