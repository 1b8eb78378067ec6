"""Registers colorization with i2i (entry point ``colorization = "i2i_colorization.plugin"``).

The data is any folder of colour photos (the ``images`` layout: ``train/`` + ``test/``, or the
photos themselves with every 10th held out); each photo is its own pair, decoded grey for the
input side (``data.channels = 1``) and in colour for the target (``data.channels_b = 3``).
Training reads L and ab of the colour side, so the grey decode only serves the held-out
summary (its PSNR is the "identity" baseline) and the sample grids. Paired folders of grey and
colour images work too (``data.layout = "auto"``).
"""

from __future__ import annotations

from typing import Iterator

import attrs

import i2i
from i2i import MethodSpec, hookimpl
from i2i_colorization.config import ColorizationConfig
from i2i_colorization.method import Colorization

_DATA = {"data.layout": "images", "data.channels": 1, "data.channels_b": 3}

#: The reference's (pix2pix's) setting: batch 1, resize to 286 and random-crop 256 with flips,
#: 100 epochs at a constant rate and 100 decaying linearly to zero.
PAPER_DEFAULTS = {
    **_DATA,
    "train.batch_size": 1,
    "data.image_size": 256,
    "data.load_size": 286,
    "data.preprocess": "resize_and_crop",
    "data.flip": True,
    "train.epochs": 100,
    "train.epochs_decay": 100,
    "train.schedule": "linear",
    "method.image_size": 256,
}

#: ``i2i run --method colorization`` with no --data: the shipped photos' crops (demo ``photos``),
#: 64 px, a U-Net exactly deep enough for 64 px at half width, batches of 4 - minutes on a CPU.
DEMO_DEFAULTS = {
    "data.demo": "photos",
    "data.image_size": 64,
    "data.load_size": 72,
    "method.image_size": 64,
    "method.ngf": 32,
    "method.ndf": 32,
    "train.batch_size": 4,
    "train.steps": 800,
    "train.log_every": 100,
    "train.sample_every": 250,
    "train.checkpoint_every": 500,
}


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """The U-Net depth follows ``data.image_size`` unless the user named ``netG``, and so does
    the size at which ``translate`` predicts colours unless the user set ``method.image_size``.
    The target side must decode to RGB(A): training reads its L and ab (a grey one has no colour
    to learn), and the PatchGAN must fit the crop it judges."""
    channels_b = config.data.channels if config.data.channels_b is None else config.data.channels_b
    if channels_b not in (3, 4):
        raise i2i.ConfigError(
            f"data.channels_b: colorization learns the colours of RGB targets (L in, ab out), so data.channels_b "
            f"must be 3 (or 4: RGBA), got {channels_b}"
        )
    config = i2i.fit_generator_to_size(config, explicit, field="netG")
    config = i2i.check_patchgan_size(config, layers_field="n_layers_D", netd_field="netD")
    if "method.image_size" not in explicit and config.method.image_size != config.data.image_size:
        config = attrs.evolve(config, method=attrs.evolve(config.method, image_size=config.data.image_size))
    return config


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="colorization",
        config=ColorizationConfig,
        factory=Colorization,
        data_kind=i2i.PAIRED,
        description="Colorization (junyanz colorization model): pix2pix on Lab, L -> ab, any folder of colour photos",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        finalize_config=finalize,
        test_overrides={"netG": "unet_32", "ngf": 8, "ndf": 8, "image_size": 32},
    )
