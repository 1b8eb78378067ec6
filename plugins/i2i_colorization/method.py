"""Colorization: pix2pix on Lab images, ``G: L -> ab`` and ``D(L, ab) -> patch logits``.

Training takes each pair's colour image (the target ``b``; ``a`` when a batch has no target),
converts it to Lab on the device and trains exactly as pix2pix does (D then G; G's loss is the
GAN term plus ``lambda_L1`` times the L1 distance of the predicted ab to the true ab), as the
reference ``colorization_model`` on its ``colorization`` dataset.

``translate`` takes grey or colour images of any size: it predicts ab from the L channel
resized to ``image_size`` (the shorter side), upsamples the prediction to the input's size and
combines it with the input's own full-resolution L, so the output keeps every detail of the
input and only the (low-frequency) colour comes from the network's working size.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import Batch, DataInfo, Method, StepContext, set_requires_grad
from i2i_colorization.config import ColorizationConfig
from i2i_colorization.lab import lab_to_rgb, rgb_to_lab


class Colorization(Method):
    """``G(L) -> ab`` with a conditional PatchGAN on ``cat(L, ab)``; optimizers ``"G"`` and ``"D"``."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)
    #: ``translate`` resizes to the network's working size itself, so any input size works.
    size_multiple = 1
    #: buffers (registered in ``__init__``)
    mean_ab: torch.Tensor
    mean_ab_pixels: torch.Tensor

    def __init__(self, config: ColorizationConfig, data_info: DataInfo) -> None:
        # Inputs reach translate as RGB (a grey one as three equal channels), so a colour input
        # keeps its exact Lab L; outputs are RGB.
        super().__init__(config, attrs.evolve(data_info, channels_a=3, channels_b=3))
        c = config
        self.G = i2i.create_generator(
            c.netG, input_nc=1, output_nc=2, ngf=c.ngf, norm=c.norm, use_dropout=c.use_dropout
        )
        self.D = i2i.create_discriminator(c.netD, input_nc=3, ndf=c.ndf, n_layers=c.n_layers_D, norm=c.norm)
        i2i.init_weights(self.G, c.init_type, c.init_gain)
        i2i.init_weights(self.D, c.init_type, c.init_gain)
        self.gan_loss = i2i.GANLoss(c.gan_mode)
        self.net_multiple = int(getattr(self.G, "size_multiple", 4) or 1)
        # The training images' mean ab and how many pixels it averages: the mean-colour baseline.
        self.register_buffer("mean_ab", torch.zeros(2))
        self.register_buffer("mean_ab_pixels", torch.zeros((), dtype=torch.float64))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        return {
            "G": i2i.adam(self.G.parameters(), lr=c.lr, betas=betas),
            "D": i2i.adam(self.D.parameters(), lr=c.lr, betas=betas),
        }

    # -- training -------------------------------------------------------------------------
    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """D then G, as the reference pix2pix ``optimize_parameters``, on ``(L, ab)`` of the colour image."""
        colour = batch.b if batch.b is not None else batch.a
        lightness, real_ab = rgb_to_lab(colour)
        self._track_mean_ab(real_ab)
        fake_ab = self.G(lightness)
        fake = torch.cat([lightness, fake_ab.to(lightness.dtype)], 1)
        real = torch.cat([lightness, real_ab], 1)

        set_requires_grad(self.D, True)
        loss_d_fake = self.gan_loss(self.D(fake.detach()), False)
        loss_d_real = self.gan_loss(self.D(real), True)
        loss_d = 0.5 * (loss_d_fake + loss_d_real)
        if self.config.gan_mode == "wgangp":
            loss_d = loss_d + i2i.gradient_penalty(self.D, real, fake, self.config.lambda_gp)
        ctx.backward(loss_d)
        ctx.step("D")

        set_requires_grad(self.D, False)
        loss_g_gan = self.gan_loss(self.D(fake), True, for_discriminator=False)
        loss_g_l1 = self.config.lambda_L1 * F.l1_loss(fake_ab.float(), real_ab)
        ctx.backward(loss_g_gan + loss_g_l1)
        ctx.step("G")
        set_requires_grad(self.D, True)
        return {
            "G/gan": loss_g_gan.detach(),
            "G/l1": loss_g_l1.detach(),
            "D/real": loss_d_real.detach(),
            "D/fake": loss_d_fake.detach(),
        }

    @torch.no_grad()
    def _track_mean_ab(self, ab: torch.Tensor) -> None:
        pixels = ab.shape[0] * ab.shape[2] * ab.shape[3]
        total = self.mean_ab_pixels + pixels
        weight = (pixels / total).to(self.mean_ab.dtype)
        self.mean_ab.mul_(1 - weight).add_(ab.mean(dim=(0, 2, 3)) * weight)
        self.mean_ab_pixels.copy_(total)

    # -- inference ------------------------------------------------------------------------
    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """Where ab is predicted: shorter side ``image_size``, aspect kept, multiples of G's."""
        scale = self.config.image_size / min(height, width)
        m = self.net_multiple

        def fit(side: int) -> int:
            return max(m, round(side * scale / m) * m)

        return fit(height), fit(width)

    def predict_ab(self, lightness: torch.Tensor) -> torch.Tensor:
        """Normalised ab at ``lightness``'s size, predicted at the working size."""
        height, width = lightness.shape[-2:]
        size = self.working_size(height, width)
        small = lightness
        if size != (height, width):
            shrinking = size[0] < height or size[1] < width
            small = F.interpolate(lightness, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
        ab = self.G(small).float()
        if size != (height, width):
            ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)
        return ab

    def translate(self, x: torch.Tensor, **options: Any) -> torch.Tensor:
        """Grey or colour ``x`` (N, 1|3, H, W) in [-1, 1] -> colourised RGB (N, 3, H, W) at the same size."""
        if options:
            raise i2i.UsageError(f"colorization translate takes no options, got {', '.join(sorted(options))}")
        lightness, _ = rgb_to_lab(x)
        return lab_to_rgb(lightness, self.predict_ab(lightness))

    # The legacy ``translate_options()`` -> ``{name: help}`` form, which i2i.declared_options still accepts.
    def translate_options(self) -> Mapping[str, str]:  # type: ignore[override]
        return {}

    def baselines(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``grey``: the input's L with no colour; ``mean_ab``: L with the training images' mean ab."""
        lightness, _ = rgb_to_lab(x)
        mean = self.mean_ab.float().view(1, 2, 1, 1).expand(x.shape[0], -1, *x.shape[-2:])
        return {"grey": lab_to_rgb(lightness, torch.zeros_like(mean)), "mean_ab": lab_to_rgb(lightness, mean)}

    def sample(self, batch: Batch) -> dict[str, torch.Tensor]:
        out = {"input": batch.a, "output": self.translate(batch.a)}
        if batch.b is not None:
            out["target"] = batch.b
        return out

    def export_inputs(self, x: torch.Tensor) -> dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]]:
        """The exported graph is the network itself: normalised L (N, 1, H, W) -> ab (N, 2, H, W)."""
        height, width = self.working_size(*x.shape[-2:])
        example = torch.zeros(x.shape[0], 1, height, width, device=x.device, dtype=x.dtype)
        return {"G": (self.G, (example,))}
