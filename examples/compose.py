"""Compose a new method from registered parts, register it in code, and train it.

A pix2pix variant that i2i does not ship: a ResNet generator, a multi-scale discriminator
(pix2pixHD-style, a list of PatchGANs at 1x and 1/2x) and the hinge objective, plus the usual
L1 term. Every part comes from the registry by name, so swapping one is a config change
(``--set method.netD=patchgan``, ``--set method.gan_mode=lsgan``). Nothing is installed: the
method is registered with ``PluginHost(plugins=[...])`` for this process only.

    python examples/compose.py --steps 3                     # the built-in paired demo data
    python examples/compose.py --data ./facades --set data.direction=BtoA
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Iterator

import attrs
import torch

import i2i
from i2i import Batch, DataInfo, Method, MethodSpec, PluginHost, StepContext, hookimpl, set_requires_grad


@attrs.frozen
class HingePix2PixConfig:
    """The ``[method]`` table: which registered parts, and the loss weights."""

    netG: str = "resnet_9blocks"
    netD: str = "multiscale"
    num_D: int = 2
    n_layers_D: int = 3
    ngf: int = 64
    ndf: int = 64
    norm: str = "instance"
    gan_mode: str = "hinge"
    lambda_L1: float = 100.0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999


class HingePix2Pix(Method):
    """Conditional GAN on paired data: D judges (input, output) pairs at several scales."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)

    def __init__(self, config: HingePix2PixConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        c, nc_a, nc_b = config, data_info.channels_a, data_info.channels_b
        self.G = i2i.create_generator(c.netG, input_nc=nc_a, output_nc=nc_b, ngf=c.ngf, norm=c.norm)
        extra = {"num_D": c.num_D} if c.netD == "multiscale" else {}
        self.D = i2i.create_discriminator(
            c.netD, input_nc=nc_a + nc_b, ndf=c.ndf, n_layers=c.n_layers_D, norm=c.norm, **extra
        )
        self.gan_loss = i2i.create_loss(c.gan_mode)  # handles a list of predictions (multi-scale)
        self.l1 = i2i.create_loss("l1", weight=c.lambda_L1)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            "G": i2i.adam(self.G.parameters(), lr=c.lr, betas=(c.beta1, c.beta2)),
            "D": i2i.adam(self.D.parameters(), lr=c.lr, betas=(c.beta1, c.beta2)),
        }

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_a, real_b = batch.a, batch.b
        fake_b = self.G(real_a)

        set_requires_grad(self.D, True)
        loss_d_real = self.gan_loss(self.D(torch.cat([real_a, real_b], 1)), True)
        loss_d_fake = self.gan_loss(self.D(torch.cat([real_a, fake_b.detach()], 1)), False)
        loss_d = 0.5 * (loss_d_real + loss_d_fake)
        ctx.backward(loss_d)
        ctx.step("D")

        set_requires_grad(self.D, False)
        loss_g_gan = self.gan_loss(self.D(torch.cat([real_a, fake_b], 1)), True, for_discriminator=False)
        loss_g_l1 = self.l1(fake_b, real_b)
        ctx.backward(loss_g_gan + loss_g_l1)
        ctx.step("G")
        set_requires_grad(self.D, True)
        return {
            "D/real": loss_d_real.detach(),
            "D/fake": loss_d_fake.detach(),
            "G/gan": loss_g_gan.detach(),
            "G/l1": loss_g_l1.detach(),
        }

    def translate(self, x: torch.Tensor, **options: Any) -> torch.Tensor:
        return self.G(x)


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="pix2pix_hinge",
        config=HingePix2PixConfig,
        factory=HingePix2Pix,
        data_kind=i2i.PAIRED,
        description="pix2pix with a ResNet generator, multi-scale discriminator and hinge loss (examples/compose.py)",
        defaults={"train.batch_size": 1, "data.image_size": 256, "data.load_size": 286},
        demo_defaults={
            "data.image_size": 64,
            "data.load_size": 72,
            "method.ngf": 32,
            "method.ndf": 32,
            "train.steps": 500,
        },
        test_overrides={"netG": "resnet_6blocks", "ngf": 8, "ndf": 8, "n_layers_D": 2},
    )


def make_host() -> PluginHost:
    """i2i's built-in parts plus this module's method (installed plugins are not needed)."""
    return PluginHost(autoload=False, plugins=[("compose_example", sys.modules[__name__])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the method's demo setting)")
    parser.add_argument("--data", help="paired data folder (default: the built-in paired demo)")
    parser.add_argument("--out", default="runs/pix2pix_hinge", help="output folder")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="any config key")
    args = parser.parse_args(argv)

    host = make_host()
    overrides = [
        *(["data.root=" + args.data] if args.data else []),
        *([f"train.steps={args.steps}"] if args.steps else []),
        *args.sets,
    ]
    config = i2i.load_config(method="pix2pix_hinge", overrides=overrides, host=host)
    trainer = i2i.Trainer(config, out_dir=args.out, host=host)
    trainer.fit()
    print(f"trained {config.method_name} for {trainer.step} steps into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
