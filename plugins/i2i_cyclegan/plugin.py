"""Registers CycleGAN with i2i (entry point ``cyclegan = "i2i_cyclegan.plugin"``)."""

from __future__ import annotations

from typing import Iterator

import i2i
from i2i import ImporterSpec, MethodSpec, hookimpl
from i2i_cyclegan.config import CycleGANConfig
from i2i_cyclegan.importer import IMPORTER
from i2i_cyclegan.method import CycleGAN

#: The paper's setting (256 px): batch 1, resize to 286 and random-crop 256 with flips,
#: 100 epochs at a constant rate and 100 decaying linearly to zero.
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

#: The built-in photo -> sepia demo on a laptop CPU in about five minutes: 64 px, six residual
#: blocks (the reference's choice below 256 px) at a quarter of the paper's width - on this
#: colour mapping ngf 32 looked no better after 800 steps and took 2.3x as long.
DEMO_DEFAULTS = {
    "data.image_size": 64,
    "data.load_size": 72,
    "method.netG": "resnet_6blocks",
    "method.ngf": 16,
    "method.ndf": 16,
    "train.steps": 1500,
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
REFERENCE = i2i.ReferenceSpec(
    code="junyanz/pytorch-CycleGAN-and-pix2pix",
    model="cycle_gan",
    default_script="train.py",  # the reference's --model default
    options={
        **i2i.JUNYANZ_OPTIONS,
        **REFERENCE_NETWORK_OPTIONS,
        "lambda_A": _opt.sets("method.lambda_A", _opt.as_float),
        "lambda_B": _opt.sets("method.lambda_B", _opt.as_float),
        "lambda_identity": _opt.sets("method.lambda_identity", _opt.as_float),
        "pool_size": _opt.sets("method.pool_size", _opt.as_int),
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
        name="cyclegan",
        config=CycleGANConfig,
        factory=CycleGAN,
        data_kind=i2i.UNPAIRED,
        description="CycleGAN (Zhu et al. 2017): two ResNet generators + PatchGANs, LSGAN + cycle + identity, unpaired data",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        finalize_config=finalize,
        reference=REFERENCE,
        test_overrides={"netG": "resnet_6blocks", "ngf": 8, "ndf": 8},
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
