"""The networks of the authors' release (aalmah/augmented_cyclegan, ``edges2shoes_exp``),
layer for layer, for ``method.architecture = "release"``.

The release's ``networks.py`` / ``modules.py`` (PyTorch 0.3) define, for 64 px edges2shoes:

* ``CINResnetGenerator``: 7x7 conv, a 3x3 stride-1 and one 3x3 stride-2 conv, 3 residual blocks
  whose *second* norm is a plain affine instance norm, one 3x3 transposed conv, a 3x3 conv and a
  zero-padded 7x7 head; every other norm is conditional on ``z`` (1x1 convs + ReLU, unbiased
  variance);
* ``ResnetGenerator`` (the deterministic ``G_B_A`` of the one-sided model): the same shape with
  affine instance norms, residual blocks ``conv, ReLU, conv, norm``;
* ``Discriminator_edges`` (``D_A``, ``ndf = 32``): 3x3 stride-2 convs down to a 4x4 map and a
  4x4 valid conv, one score per 64 px image; ``Discriminator`` (``D_B``): 4x4 convs, two stride-2
  and two stride-1;
* ``LatentEncoder``: four 3x3 stride-2 convs and a 4x4 valid conv (so 64 px inputs only), batch
  norm, 1x1 heads for mu and logvar;
* ``DiscriminatorLatent``: i2i's ``latent_mlp`` is already that network.

The release's ``InstanceNorm`` initialises its scale from N(0, 0.02) and its shift to 0, and
``weights_init`` draws every conv from N(0, 0.02) with zero bias and batch-norm weights from
N(1, 0.02); both are reproduced. Parameter counts are tested against the release's layer lists.

With ``architecture = "i2i"`` (the default) the networks differ from ``edges2shoes_exp/networks.py``:

* generator: i2i downsamples twice with 4x4 stride-2 convs and upsamples twice with 4x4
  transposed convs (size multiple 4); the release's ``CINResnetGenerator`` has one 3x3
  stride-2 conv after a 3x3 stride-1 conv, one 3x3 transposed conv, and a zero-padded 7x7 head;
* residual blocks: both norms are conditional here; the release's second norm is a plain affine
  instance norm (scale initialised N(0, 0.02)), and its conditional norm uses the unbiased variance;
* ``G_BA`` with ``augment_a = false``: a conditional ResNet fed the ones code here; the release's
  ``AugmentedCycleGAN`` uses a plain (unconditional) ``ResnetGenerator``;
* ``D_A``: a PatchGAN of ``ndf`` here; the release uses ``Discriminator_edges`` (3x3 convs, four
  stride-2 layers, ``ndf = 32`` fixed, a final 4x4 valid conv: one global score at 64 px);
* ``D_B``: an ``n_layers_d``-layer PatchGAN here; the release's ``Discriminator`` has two
  stride-2 and two stride-1 4x4 convs (``ndf, 2ndf, 4ndf, 4ndf``) before the output conv;
* encoder: a global average pool here; the release ends in a 4x4 valid conv + norm + ReLU
  (which fixes the input to 64 px) and has no bias on its normalised convs;
* optimisation: one ``G`` (generators + encoders) and one ``D`` optimizer here; the release keeps
  one per network pair and clips each network's gradient norm at 500 (``train.grad_clip`` clips
  the global norm per optimizer).
"""

from __future__ import annotations

import torch
from torch import nn

from i2i import ReflectionPad2d

RELEASE_SIDE = 64  # the encoder's and D_A's final 4x4 valid convs fix the image size


class ReleaseInstanceNorm(nn.Module):
    """``modules.InstanceNorm``: biased variance, affine ``scale`` ~ N(0, 0.02) and ``shift`` = 0."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.empty(num_features).normal_(0.0, 0.02))
        self.shift = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.float().reshape(n, c, h * w)
        centered = flat - flat.mean(2, keepdim=True)
        normed = (centered * torch.rsqrt(centered.pow(2).mean(2, keepdim=True) + self.eps)).reshape(n, c, h, w)
        return (normed * self.scale[:, None, None] + self.shift[:, None, None]).to(x.dtype)


class ReleaseCondInstanceNorm(nn.Module):
    """``modules.CondInstanceNorm``: scale and shift from ``z`` by 1x1 conv + ReLU; unbiased variance."""

    def __init__(self, num_features: int, nlatent: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.shift_conv = nn.Sequential(nn.Conv2d(nlatent, num_features, 1), nn.ReLU(True))
        self.scale_conv = nn.Sequential(nn.Conv2d(nlatent, num_features, 1), nn.ReLU(True))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.float().reshape(n, c, h * w)
        normed = ((flat - flat.mean(2, keepdim=True)) * torch.rsqrt(flat.var(2, keepdim=True) + self.eps)).reshape(
            n, c, h, w
        )
        return (normed * self.scale_conv(z).float() + self.shift_conv(z).float()).to(x.dtype)


class _CINResnetBlock(nn.Module):
    def __init__(self, dim: int, nlatent: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(dim, dim, 3), ReleaseCondInstanceNorm(dim, nlatent)
        self.conv2, self.norm2 = nn.Conv2d(dim, dim, 3), ReleaseInstanceNorm(dim)
        self.pad = ReflectionPad2d(1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(self.pad(x)), z))
        return torch.relu(x + self.norm2(self.conv2(self.pad(h))))


class _ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.ReLU(True),
            ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            ReleaseInstanceNorm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.block(x))


def _layer_sizes(ngf: int) -> list[tuple[int, int, int, int, int, bool]]:
    """(in, out, kernel, stride, padding, transposed) of the release generators' norm-followed convs."""
    return [(ngf, 2 * ngf, 3, 1, 1, False), (2 * ngf, 4 * ngf, 3, 2, 1, False)]


class ReleaseLatentGenerator(nn.Module):
    """``networks.CINResnetGenerator``: ``forward(x, z)``, z of shape (N, nlatent)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, nlatent: int = 16, n_blocks: int = 3) -> None:
        super().__init__()
        self.input_nc, self.nlatent = input_nc, nlatent
        self.stem = nn.Sequential(ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7))
        self.stem_norm = ReleaseCondInstanceNorm(ngf, nlatent)
        self.down = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for i, o, k, s, p, _ in _layer_sizes(ngf))
        self.down_norms = nn.ModuleList(ReleaseCondInstanceNorm(o, nlatent) for _, o, *_ in _layer_sizes(ngf))
        self.blocks = nn.ModuleList(_CINResnetBlock(4 * ngf, nlatent) for _ in range(n_blocks))
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1), nn.Conv2d(2 * ngf, ngf, 3, 1, 1)]
        )
        self.up_norms = nn.ModuleList(
            [ReleaseCondInstanceNorm(2 * ngf, nlatent), ReleaseCondInstanceNorm(ngf, nlatent)]
        )
        self.head = nn.Sequential(nn.Conv2d(ngf, output_nc, 7, padding=3), nn.Tanh())
        release_init(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1, 1, 1).to(x.dtype)
        h = torch.relu(self.stem_norm(self.stem(x), z))
        for conv, norm in zip(self.down, self.down_norms):
            h = torch.relu(norm(conv(h), z))
        for block in self.blocks:
            h = block(h, z)
        for conv, norm in zip(self.up, self.up_norms):
            h = torch.relu(norm(conv(h), z))
        return self.head(h)


class ReleaseResnetGenerator(nn.Module):
    """``networks.ResnetGenerator`` (the one-sided model's ``G_B_A``); ``z`` is accepted and ignored."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, n_blocks: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7),
            ReleaseInstanceNorm(ngf),
            nn.ReLU(True),
        ]
        for i, o, k, s, p, _ in _layer_sizes(ngf):
            layers += [nn.Conv2d(i, o, k, s, p), ReleaseInstanceNorm(o), nn.ReLU(True)]
        layers += [_ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        layers += [
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1),
            ReleaseInstanceNorm(2 * ngf),
            nn.ReLU(True),
            nn.Conv2d(2 * ngf, ngf, 3, 1, 1),
            ReleaseInstanceNorm(ngf),
            nn.ReLU(True),
            nn.Conv2d(ngf, output_nc, 7, padding=3),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        release_init(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x)


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else ReleaseInstanceNorm(channels)


class _Stack(nn.Module):
    """A release network that is one ``self.model`` Sequential, initialised as the release does."""

    def _build(self, layers: list[nn.Module]) -> None:
        self.model = nn.Sequential(*layers)
        release_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ReleaseEdgeDiscriminator(_Stack):
    """``networks.Discriminator_edges`` (``D_A``): one score per 64 px image."""

    def __init__(self, input_nc: int, ndf: int = 32, norm: str = "instance") -> None:
        super().__init__()
        chans = [input_nc, ndf, 2 * ndf, 4 * ndf, 4 * ndf]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(chans, chans[1:])):
            layers += (
                [nn.Conv2d(c_in, c_out, 3, 2, 1)] + ([_norm(norm, c_out)] if i else []) + [nn.LeakyReLU(0.2, True)]
            )
        layers.append(nn.Conv2d(4 * ndf, 1, 4, 1, 0))
        self._build(layers)


class ReleaseDiscriminator(_Stack):
    """``networks.Discriminator`` (``D_B``): 4x4 convs, two stride-2, two stride-1, a patch map."""

    def __init__(self, input_nc: int, ndf: int = 64, norm: str = "instance") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out, stride in ((ndf, 2 * ndf, 2), (2 * ndf, 4 * ndf, 1), (4 * ndf, 4 * ndf, 1)):
            layers += [nn.Conv2d(c_in, c_out, 4, stride, 1), _norm(norm, c_out), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(4 * ndf, 1, 4, 1, 1))
        self._build(layers)


class ReleaseEncoder(nn.Module):
    """``networks.LatentEncoder``: ``E(source, target)`` on their concatenation, 64 px only.

    The release always builds the logvar head; here it exists only with ``gaussian`` (a head
    that gets no gradient would stall multi-process training), and the parameter count with
    ``gaussian=True`` is the release's.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        nef: int = 32,
        nlatent: int = 16,
        norm: str = "batch",
        gaussian: bool = False,
    ) -> None:
        super().__init__()
        self.gaussian = gaussian
        layers: list[nn.Module] = [nn.Conv2d(input_nc + output_nc, nef, 3, 2, 1), nn.ReLU(True)]
        for c_in, c_out in ((nef, 2 * nef), (2 * nef, 4 * nef), (4 * nef, 8 * nef)):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), _norm(norm, c_out), nn.ReLU(True)]
        layers += [nn.Conv2d(8 * nef, 8 * nef, 4, 1, 0, bias=False), _norm(norm, 8 * nef), nn.ReLU(True)]
        self.conv_modules = nn.Sequential(*layers)
        self.enc_mu = nn.Conv2d(8 * nef, nlatent, 1)
        self.enc_logvar = nn.Conv2d(8 * nef, nlatent, 1) if gaussian else None
        release_init(self)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        if a.shape[-1] != RELEASE_SIDE or a.shape[-2] != RELEASE_SIDE:
            from i2i import UsageError

            raise UsageError(
                f"architecture 'release': the encoder takes {RELEASE_SIDE} px images, got {tuple(a.shape[-2:])}"
            )
        h = self.conv_modules(torch.cat([a, b], 1))
        mu = self.enc_mu(h).flatten(1)
        return (mu, self.enc_logvar(h).flatten(1)) if self.enc_logvar is not None else mu


@torch.no_grad()
def release_init(net: nn.Module) -> None:
    """``networks.weights_init``: convs N(0, 0.02) with zero bias, BatchNorm2d weights N(1, 0.02)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.normal_(0.0, 0.02)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.normal_(1.0, 0.02)
            m.bias.zero_()
