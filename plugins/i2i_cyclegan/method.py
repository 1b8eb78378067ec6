"""CycleGAN: two generators that invert each other, each judged by a PatchGAN on its output domain.

Unpaired data gives no target for ``G_A(a)``; cycle consistency (``G_B(G_A(a)) ~ a``) rules out
mappings that lose the input's content, the GAN terms make each output look like its domain,
and the identity terms keep colours stable when an image already belongs to the output domain.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import Batch, DataInfo, Method, StepContext, set_requires_grad
from i2i_cyclegan.config import CycleGANConfig

DIRECTIONS = ("a2b", "b2a")
#: ``data.direction``'s spellings are accepted too, so one word works in config and at translate.
DIRECTION = i2i.TranslateOption(
    "direction",
    choices=DIRECTIONS,
    default="a2b",
    help="a2b translates A -> B with G_A; b2a translates B -> A with G_B",
    value_aliases={"AtoB": "a2b", "BtoA": "b2a"},
)


def _l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output.float(), target.float())


class CycleGAN(Method):
    """``G_A: A -> B``, ``G_B: B -> A``, ``D_A`` on B, ``D_B`` on A; optimizers ``"G"`` and ``"D"``."""

    data_kind = i2i.UNPAIRED
    generator_names = ("G_A", "G_B")
    #: ``i2i eval`` scores both directions and the cycle (``direction="b2a"`` selects G_B).
    eval_capabilities = i2i.EvalCapabilities(directions=i2i.EvalCapabilities.two_directions("direction"))

    def __init__(self, config: CycleGANConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        c, nc_a, nc_b = config, data_info.channels_a, data_info.channels_b
        if c.lambda_identity > 0 and nc_a != nc_b:
            raise i2i.ConfigError(
                f"method.lambda_identity: the identity loss needs domains with equal channels, "
                f"got {nc_a} (A) and {nc_b} (B); set method.lambda_identity=0"
            )
        gen: dict[str, Any] = dict(ngf=c.ngf, norm=c.norm, use_dropout=c.use_dropout)
        disc: dict[str, Any] = dict(ndf=c.ndf, n_layers=c.n_layers_D, norm=c.norm)
        self.G_A = i2i.create_generator(c.netG, input_nc=nc_a, output_nc=nc_b, **gen)
        self.G_B = i2i.create_generator(c.netG, input_nc=nc_b, output_nc=nc_a, **gen)
        self.D_A = i2i.create_discriminator(c.netD, input_nc=nc_b, **disc)
        self.D_B = i2i.create_discriminator(c.netD, input_nc=nc_a, **disc)
        for net in (self.G_A, self.G_B, self.D_A, self.D_B):
            i2i.init_weights(net, c.init_type, c.init_gain)
        # Pools are sub-modules, so their history is part of state_dict() and of checkpoints.
        self.fake_A_pool = i2i.ImagePool(c.pool_size)
        self.fake_B_pool = i2i.ImagePool(c.pool_size)
        self.gan_loss = i2i.create_gan_loss(c.gan_mode)  # the loss registry: a plugin's objective too
        self.size_multiple = getattr(self.G_A, "size_multiple", 4)  # a third-party generator may not say

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        generators = itertools.chain(self.G_A.parameters(), self.G_B.parameters())
        discriminators = itertools.chain(self.D_A.parameters(), self.D_B.parameters())
        return {
            "G": i2i.adam(generators, lr=c.lr, betas=betas),
            "D": i2i.adam(discriminators, lr=c.lr, betas=betas),
        }

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """G then D, as the reference ``optimize_parameters``; D sees pooled fakes."""
        c = self.config
        real_a, real_b = batch.a, batch.b
        if real_b is None:
            raise i2i.DataError("cyclegan needs unpaired data with both domains: the batch has no B images")
        fake_b = self.G_A(real_a)
        rec_a = self.G_B(fake_b)
        fake_a = self.G_B(real_b)
        rec_b = self.G_A(fake_a)

        set_requires_grad([self.D_A, self.D_B], False)
        losses: dict[str, torch.Tensor] = {}
        losses["G/gan_A"] = self.gan_loss(self.D_A(fake_b), True, for_discriminator=False)
        losses["G/gan_B"] = self.gan_loss(self.D_B(fake_a), True, for_discriminator=False)
        losses["G/cycle_A"] = c.lambda_A * _l1(rec_a, real_a)
        losses["G/cycle_B"] = c.lambda_B * _l1(rec_b, real_b)
        if c.lambda_identity > 0:
            losses["G/idt_A"] = c.lambda_identity * c.lambda_B * _l1(self.G_A(real_b), real_b)
            losses["G/idt_B"] = c.lambda_identity * c.lambda_A * _l1(self.G_B(real_a), real_a)
        ctx.backward(cast(torch.Tensor, sum(losses.values())))  # losses is never empty
        ctx.step("G")

        set_requires_grad([self.D_A, self.D_B], True)
        losses["D/A"] = self._discriminator_loss(self.D_A, real_b, self.fake_B_pool.query(fake_b))
        losses["D/B"] = self._discriminator_loss(self.D_B, real_a, self.fake_A_pool.query(fake_a))
        ctx.backward(losses["D/A"] + losses["D/B"])
        ctx.step("D")
        return {k: v.detach() for k, v in losses.items()}

    def _discriminator_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Half the real + fake loss (the reference ``backward_D_basic``), plus WGAN-GP's penalty."""
        loss = 0.5 * (self.gan_loss(D(real), True) + self.gan_loss(D(fake.detach()), False))
        if self.config.gan_mode == "wgangp":
            loss = loss + i2i.gradient_penalty(D, real, fake, self.config.lambda_gp)
        return loss

    # -- inference ------------------------------------------------------------------------
    translate_options = (DIRECTION,)

    def translate(self, x: torch.Tensor, direction: str = "a2b", **options: Any) -> torch.Tensor:
        if options:
            raise i2i.UsageError(f"cyclegan translate: unknown options {', '.join(sorted(options))} (known: direction)")
        return self.G_A(x) if DIRECTION.convert(direction) == "a2b" else self.G_B(x)

    def input_channels(self, direction: str = "a2b", **options: Any) -> int:
        """b2a reads domain B's images."""
        return self.data_info.channels_b if DIRECTION.convert(direction) == "b2a" else self.data_info.channels_a

    def sample(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Both cycles: real_A | fake_B | rec_A and real_B | fake_A | rec_B."""
        out = {"real_A": batch.a}
        out["fake_B"] = self.G_A(batch.a)
        out["rec_A"] = self.G_B(out["fake_B"])
        if batch.b is not None:
            out["real_B"] = batch.b
            out["fake_A"] = self.G_B(batch.b)
            out["rec_B"] = self.G_A(out["fake_A"])
        return out
