"""Registers the ``stargan`` method (entry point ``stargan = "i2i_stargan.plugin"``).

``defaults`` are the paper's CelebA run (yunjey/stargan): 200k iterations with the rates
decaying linearly to zero over the last 100k, batch 16, 128 px. The reference preprocessing
(centre-crop 178x178 of the 178x218 photos, resize to 128, random flip) maps onto
``data.preprocess = "scale_width_and_crop"`` with ``load_size = image_size = 128``: the
width is scaled to 128 (the same scale as crop-then-resize) and a 128x128 square is cut; at
test time that cut is the centre, exactly the reference's, in training it is random (up to
~15 px vertical jitter the reference does not have). Square domain images (RaFD-style folders)
are simply resized.

``demo_defaults`` make ``i2i run --method stargan`` (no ``--data``, the built-in ``grades``
colour-grade domains) train in about five minutes on a 2-core CPU: 64 px, 16-wide nets, batch
8, 2500 steps. Within that budget the paper's rhythm (one G update per 5 critic steps at 1e-4)
gives G only 500 updates, enough to colour the domains apart but not to keep the content; the
demo therefore updates G every 2nd step at 2e-4 (1250 updates), which keeps it. Runs on real
data (``--data``) get the paper's n_critic = 5 and 1e-4.
"""

from __future__ import annotations

from typing import Iterator

import i2i
from i2i import (
    ComponentSpec,
    DiscriminatorSpec,
    GeneratorSpec,
    ImporterSpec,
    MethodSpec,
    hookimpl,
)
from i2i_stargan.config import StarGANConfig
from i2i_stargan.importer import IMPORTER
from i2i_stargan.method import StarGAN
from i2i_stargan.nets import StarGANDiscriminator, StarGANGenerator


@hookimpl
def i2i_register_generators() -> Iterator[ComponentSpec]:
    yield GeneratorSpec("stargan", StarGANGenerator, "StarGAN generator: ResNet conditioned on tiled domain labels, G(x, c)")


@hookimpl
def i2i_register_discriminators() -> Iterator[ComponentSpec]:
    yield DiscriminatorSpec("stargan", StarGANDiscriminator, "StarGAN discriminator: patch real/fake head + domain classifier")


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="stargan",
        config=StarGANConfig,
        factory=StarGAN,
        data_kind=i2i.LABELLED,
        description="StarGAN (Choi et al. 2018): one generator for many domains/attributes, G(x, label)",
        defaults={
            "train.steps": 200_000,
            "train.decay_fraction": 0.5,
            "train.schedule": "linear",
            "train.batch_size": 16,
            "data.image_size": 128,
            "data.load_size": 128,
            "data.preprocess": "scale_width_and_crop",
            "data.flip": True,
            "method.image_size": 128,
        },
        demo_defaults={
            "train.steps": 2500,
            "train.batch_size": 8,
            "train.sample_every": 500,
            "train.checkpoint_every": 1000,
            "train.log_every": 100,
            "data.image_size": 64,
            "data.load_size": 64,
            "method.image_size": 64,
            "method.g_conv_dim": 16,
            "method.d_conv_dim": 16,
            "method.g_repeat_num": 3,
            "method.d_repeat_num": 5,
            "method.n_critic": 2,
            "method.g_lr": 2e-4,
            "method.d_lr": 2e-4,
        },
        # n_critic 1: the suite's few steps must step both optimizers (tests/test_stargan.py checks n_critic 5)
        test_overrides={
            "g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1, "d_repeat_num": 3, "image_size": 32, "n_critic": 1,
        },
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
