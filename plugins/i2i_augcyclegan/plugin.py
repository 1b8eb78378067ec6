"""Registers the ``augcyclegan`` method (entry point ``augcyclegan = "i2i_augcyclegan.plugin"``).

``defaults`` are the paper's edges2shoes setting: 64 px images resized without crops or
flips, batch 32, 25 epochs at the full rate then 25 decaying linearly to zero, and the
release's gradient-norm clip of 500 - applied by the trainer (``train.grad_clip``) to each
optimizer's gradients together, where the release clipped each network separately.
``demo_defaults`` shrink the run so ``i2i run --method augcyclegan`` learns the built-in
unpaired edges <-> photos demo in minutes on a laptop CPU.
"""

from __future__ import annotations

from typing import Iterator

import i2i
from i2i import ComponentSpec, DiscriminatorSpec, GeneratorSpec, MethodSpec, hookimpl

from .config import AugCycleGANConfig
from .method import AugCycleGAN
from .nets import LatentEncoder, LatentMLPDiscriminator, LatentResnetGenerator
from .reference import REFERENCE

PAPER_DEFAULTS = {
    "data.image_size": 64,
    "data.load_size": 64,
    "data.flip": False,
    "train.batch_size": 32,
    "train.epochs": 25,
    "train.epochs_decay": 25,
    "train.grad_clip": 500.0,
}

DEMO_DEFAULTS = {
    "data.demo": "edges_photos_unpaired",
    "train.steps": 800,
    "train.batch_size": 8,
    "method.ngf": 16,
    "method.nef": 16,
    "method.ndf": 32,
    "method.ndf_latent": 32,
}

TEST_OVERRIDES = {"ngf": 8, "nef": 8, "ndf": 8, "ndf_latent": 8, "nlatent": 4, "n_blocks": 1}


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """The i2i architecture's image discriminators are ``n_layers_d``-layer PatchGANs on the
    crop: one too deep for it is an error before the run (the release's networks are 64 px ones
    that ignore ``n_layers_d``)."""
    if config.method.architecture == "release":
        return config
    return i2i.check_patchgan_size(config, layers_field="n_layers_d", netd_field=None)


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="augcyclegan",
        config=AugCycleGANConfig,
        factory=AugCycleGAN,
        data_kind=i2i.UNPAIRED,
        description="Augmented CycleGAN: many-to-many unpaired translation with latent codes (Almahairi et al. 2018)",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        test_overrides=TEST_OVERRIDES,
        finalize_config=finalize,
        reference=REFERENCE,  # i2i config from-reference: the authors' release's opt.txt / command line
    )


@hookimpl
def i2i_register_generators() -> Iterator[ComponentSpec]:
    yield GeneratorSpec(
        "augcyclegan_resnet",
        LatentResnetGenerator,
        "Augmented CycleGAN generator with latent-conditioned instance norm, G(x, z)",
    )
    yield GeneratorSpec(
        "augcyclegan_encoder", LatentEncoder, "Augmented CycleGAN latent encoder E(a, b) -> (mu, logvar)"
    )


@hookimpl
def i2i_register_discriminators() -> Iterator[ComponentSpec]:
    yield DiscriminatorSpec(
        "latent_mlp", LatentMLPDiscriminator, "MLP discriminator on latent codes (Augmented CycleGAN)"
    )
