"""The core's generators, discriminators and losses, registered like any plugin's.

The plugin host registers this module itself (plugin name ``i2i.components``). Variants are
argument sets of one class (``resnet_6blocks`` = ``ResnetGenerator`` with ``n_blocks=6``).
Every generator factory accepts ``input_nc, output_nc, ngf, norm, use_dropout`` and every
discriminator factory ``input_nc, ndf, n_layers, norm``, so methods build any of them by name;
family keywords (``num_D`` ...) come on top. Method-specific networks (label- or latent-conditioned
generators ...) are registered by their method's plugin through the same hooks.
"""

from __future__ import annotations

from typing import Iterator

from i2i.nets.losses import GANLoss, GradientPenalty, WeightedL1
from i2i.nets.patchgan import MultiscaleDiscriminator, NLayerDiscriminator, PixelDiscriminator, basic_patchgan
from i2i.nets.resnet import ResnetGenerator
from i2i.nets.unet import UnetGenerator
from i2i.plugins.hookspecs import hookimpl
from i2i.plugins.registry import ComponentSpec, DiscriminatorSpec, GeneratorSpec, LossSpec


@hookimpl
def i2i_register_generators() -> Iterator[ComponentSpec]:
    yield GeneratorSpec(
        "resnet_9blocks", ResnetGenerator, "ResNet generator, 9 residual blocks (CycleGAN, 256 px)", n_blocks=9
    )
    yield GeneratorSpec(
        "resnet_6blocks", ResnetGenerator, "ResNet generator, 6 residual blocks (CycleGAN, 128 px)", n_blocks=6
    )
    yield GeneratorSpec("unet_256", UnetGenerator, "U-Net generator, 8 downsamplings (pix2pix, 256 px)", num_downs=8)
    yield GeneratorSpec("unet_128", UnetGenerator, "U-Net generator, 7 downsamplings (pix2pix, 128 px)", num_downs=7)
    yield GeneratorSpec(
        "unet_64", UnetGenerator, "U-Net generator, 6 downsamplings (64 px, e.g. the demo)", num_downs=6
    )
    yield GeneratorSpec("unet_32", UnetGenerator, "U-Net generator, 5 downsamplings (32 px)", num_downs=5)


@hookimpl
def i2i_register_discriminators() -> Iterator[ComponentSpec]:
    yield DiscriminatorSpec(
        "patchgan", NLayerDiscriminator, "PatchGAN; n_layers=3 is the 70x70 PatchGAN of pix2pix/CycleGAN"
    )
    # the reference's own names (--netD basic / n_layers), so its options carry over unchanged
    yield DiscriminatorSpec(
        "basic", basic_patchgan, "the reference's 'basic': the 70x70 PatchGAN (3 layers, n_layers ignored)"
    )
    yield DiscriminatorSpec(
        "n_layers", NLayerDiscriminator, "the reference's 'n_layers': PatchGAN with n_layers (= patchgan)"
    )
    yield DiscriminatorSpec("pixel", PixelDiscriminator, "1x1 PixelGAN: classifies every pixel independently")
    yield DiscriminatorSpec(
        "multiscale", MultiscaleDiscriminator, "num_D PatchGANs on 2x-downsampled inputs; returns a list"
    )


@hookimpl
def i2i_register_losses() -> Iterator[ComponentSpec]:
    yield LossSpec("vanilla", GANLoss, "original GAN objective: binary cross-entropy on logits", mode="vanilla")
    yield LossSpec("lsgan", GANLoss, "least-squares GAN objective (CycleGAN default)", mode="lsgan")
    yield LossSpec("wgangp", GANLoss, "Wasserstein critic objective; pair with gradient_penalty", mode="wgangp")
    yield LossSpec("hinge", GANLoss, "hinge objective: relu(1 -+ D) for D, -D(fake) for G", mode="hinge")
    yield LossSpec("gradient_penalty", GradientPenalty, "WGAN-GP gradient penalty at real/fake interpolates, fp32")
    yield LossSpec("l1", WeightedL1, "weighted L1 between output and target (pix2pix)")
    yield LossSpec("cycle", WeightedL1, "weighted L1 cycle-consistency term |F(G(a)) - a|")
    yield LossSpec("identity", WeightedL1, "weighted L1 identity term |G(b) - b|")
