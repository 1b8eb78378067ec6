"""Pix2pix: a U-Net generator and a conditional PatchGAN trained with a GAN + L1 objective.

The discriminator sees the input and an output side by side (``cat(a, b)``), so it judges
whether the output is a plausible translation *of this input*; the L1 term pulls outputs
towards the target and leaves the GAN term to restore high-frequency detail.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import Batch, DataInfo, Method, StepContext, set_requires_grad
from i2i_pix2pix.config import Pix2PixConfig


@contextlib.contextmanager
def paper_test_mode(net: nn.Module) -> Iterator[None]:
    """Run ``net`` as the paper tests it: dropout on, batch norm on the batch's own statistics.

    Batch norm layers stop tracking for the duration, so running averages are not updated by
    inference; every module's mode is restored afterwards.
    """
    modes = [(m, m.training) for m in net.modules()]
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    net.train()
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True
        for module, training in modes:
            module.training = training


class Pix2Pix(Method):
    """``G: a -> b`` and ``D(cat(a, b)) -> patch logits``; optimizers ``"G"`` and ``"D"``."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)

    def __init__(self, config: Pix2PixConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        c, nc_a, nc_b = config, data_info.channels_a, data_info.channels_b
        self.G = i2i.create_generator(
            c.netG, input_nc=nc_a, output_nc=nc_b, ngf=c.ngf, norm=c.norm, use_dropout=c.use_dropout
        )
        self.D = i2i.create_discriminator(c.netD, input_nc=nc_a + nc_b, ndf=c.ndf, n_layers=c.n_layers_D, norm=c.norm)
        i2i.init_weights(self.G, c.init_type, c.init_gain)
        i2i.init_weights(self.D, c.init_type, c.init_gain)
        self.gan_loss = i2i.create_gan_loss(c.gan_mode)  # the loss registry: a plugin's objective too
        self.size_multiple = getattr(self.G, "size_multiple", 4)  # a third-party generator may not say

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        return {
            "G": i2i.adam(self.G.parameters(), lr=c.lr, betas=betas),
            "D": i2i.adam(self.D.parameters(), lr=c.lr, betas=betas),
        }

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """D then G, as the reference ``optimize_parameters``: G is judged by the updated D."""
        real_a, real_b = batch.a, batch.b
        if real_b is None:
            raise i2i.DataError("pix2pix needs paired data: the batch has no targets (batch.b is None)")
        fake_b = self.G(real_a)
        fake_ab = torch.cat([real_a, fake_b], 1)
        real_ab = torch.cat([real_a, real_b], 1)

        set_requires_grad(self.D, True)
        loss_d_fake = self.gan_loss(self.D(fake_ab.detach()), False)
        loss_d_real = self.gan_loss(self.D(real_ab), True)
        loss_d = 0.5 * (loss_d_fake + loss_d_real)
        if self.config.gan_mode == "wgangp":
            loss_d = loss_d + i2i.gradient_penalty(self.D, real_ab, fake_ab, self.config.lambda_gp)
        ctx.backward(loss_d)
        ctx.step("D")

        set_requires_grad(self.D, False)
        loss_g_gan = self.gan_loss(self.D(fake_ab), True, for_discriminator=False)
        loss_g_l1 = self.config.lambda_L1 * F.l1_loss(fake_b.float(), real_b.float())
        ctx.backward(loss_g_gan + loss_g_l1)
        ctx.step("G")
        set_requires_grad(self.D, True)
        return {
            "G/gan": loss_g_gan.detach(),
            "G/l1": loss_g_l1.detach(),
            "D/real": loss_d_real.detach(),
            "D/fake": loss_d_fake.detach(),
        }

    def translate(self, x: torch.Tensor, **options: Any) -> torch.Tensor:
        if options:
            raise i2i.UsageError(f"pix2pix translate takes no options, got {', '.join(sorted(options))}")
        if self.config.train_mode_at_test and not self.training:
            with paper_test_mode(self.G):
                return self.G(x)
        return self.G(x)
