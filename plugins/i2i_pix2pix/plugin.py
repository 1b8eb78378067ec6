"""Registers pix2pix with i2i (entry point ``pix2pix = "i2i_pix2pix.plugin"``)."""

from __future__ import annotations

from typing import Iterator

import i2i
from i2i import ImporterSpec, MethodSpec, hookimpl
from i2i_pix2pix.config import Pix2PixConfig
from i2i_pix2pix.importer import IMPORTER
from i2i_pix2pix.method import Pix2Pix

#: The paper's setting (facades, 256 px): batch 1, resize to 286 and random-crop 256 with
#: flips, 100 epochs at a constant rate and 100 decaying linearly to zero.
PAPER_DEFAULTS = {
    "train.batch_size": 1,
    "data.image_size": 256,
    "data.load_size": 286,
    "data.preprocess": "resize_and_crop",
    "data.flip": True,
    "train.epochs": 100,
    "train.epochs_decay": 100,
    "train.schedule": "linear",
}

#: The built-in edges -> photo demo on a laptop CPU in about five minutes: 64 px, a U-Net
#: exactly deep enough for 64 px (6 halvings, 1x1 bottleneck) at half the paper's width, and
#: batches of 4 (on a CPU four images cost about twice one, so the demo sees twice the data).
DEMO_DEFAULTS = {
    "data.image_size": 64,
    "data.load_size": 72,
    "method.netG": "unet_64",
    "method.ngf": 32,
    "method.ndf": 32,
    "train.batch_size": 4,
    "train.steps": 800,
    "train.log_every": 100,
    "train.sample_every": 250,
    "train.checkpoint_every": 500,
}


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """The U-Net depth follows ``data.image_size`` unless the user named ``netG`` (then a
    generator whose size multiple exceeds the crop is an error)."""
    return i2i.fit_generator_to_size(config, explicit, field="netG")


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="pix2pix",
        config=Pix2PixConfig,
        factory=Pix2Pix,
        data_kind=i2i.PAIRED,
        description="Pix2pix (Isola et al. 2017): U-Net + conditional PatchGAN, GAN + 100 L1, paired data",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        finalize_config=finalize,
        test_overrides={"netG": "unet_32", "ngf": 8, "ndf": 8},
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
