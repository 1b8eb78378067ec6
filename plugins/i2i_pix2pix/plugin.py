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


#: The reference's options of this model (junyanz/pytorch-CycleGAN-and-pix2pix): its shared
#: data/schedule options plus the method's own, for ``i2i config from-reference``.
_opt = i2i.ReferenceOption
REFERENCE_NETWORK_OPTIONS = {
    "netG": _opt.sets("method.netG"),
    "netD": _opt.sets("method.netD"),
    "ngf": _opt.sets("method.ngf", _opt.as_int),
    "ndf": _opt.sets("method.ndf", _opt.as_int),
    "n_layers_D": _opt.sets("method.n_layers_D", _opt.as_int),
    "norm": _opt.sets("method.norm"),
    "init_type": _opt.sets("method.init_type"),
    "init_gain": _opt.sets("method.init_gain", _opt.as_float),
    "no_dropout": _opt.sets("method.use_dropout", _opt.not_bool),
    "gan_mode": _opt.sets("method.gan_mode"),
    "lr": _opt.sets("method.lr", _opt.as_float),
    "beta1": _opt.sets("method.beta1", _opt.as_float),
}


def _no_pool(value: object, _options: object) -> dict[str, object]:
    if _opt.as_int(value) != 0:
        raise ValueError("i2i's pix2pix trains without an image pool (the reference's pix2pix default is 0)")
    return {}


REFERENCE = i2i.ReferenceSpec(
    code="junyanz/pytorch-CycleGAN-and-pix2pix",
    model="pix2pix",
    options={
        **i2i.JUNYANZ_OPTIONS,
        **REFERENCE_NETWORK_OPTIONS,
        "lambda_L1": _opt.sets("method.lambda_L1", _opt.as_float),
        "pool_size": _opt.derived(_no_pool),
    },
)


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """The U-Net depth follows ``data.image_size`` unless the user named ``netG`` (then a
    generator whose size multiple exceeds the crop is an error); a PatchGAN too deep for the
    crop is an error before the run, not a crash in its first step."""
    config = i2i.fit_generator_to_size(config, explicit, field="netG")
    return i2i.check_patchgan_size(config, layers_field="n_layers_D", netd_field="netD")


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
        reference=REFERENCE,
        test_overrides={"netG": "unet_32", "ngf": 8, "ndf": 8},
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
