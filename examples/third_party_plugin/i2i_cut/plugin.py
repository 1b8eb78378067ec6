"""Registers CUT and FastCUT with i2i (entry point ``cut = "i2i_cut.plugin"``).

Both are the same class and config; FastCUT is an argument set (the reference's
``--CUT_mode FastCUT``), so it is registered as a second method with other defaults.
"""

from __future__ import annotations

from typing import Iterator

import i2i
from i2i import ImporterSpec, MethodSpec, hookimpl
from i2i_cut.config import CUTConfig
from i2i_cut.importer import IMPORTER
from i2i_cut.method import CUT

#: The paper's setting: 256 px crops of 286 px images with flips, batch 1,
#: 200 epochs at a constant rate then 200 decaying linearly to zero.
PAPER_DEFAULTS = {
    "train.batch_size": 1,
    "data.image_size": 256,
    "data.load_size": 286,
    "data.preprocess": "resize_and_crop",
    "data.flip": True,
    "train.epochs": 200,
    "train.epochs_decay": 200,
    "train.schedule": "linear",
}

#: FastCUT: no identity NCE, a stronger NCE weight, flip-equivariance, 150 + 50 epochs.
FASTCUT_DEFAULTS = {
    **PAPER_DEFAULTS,
    "method.nce_idt": False,
    "method.lambda_NCE": 10.0,
    "method.flip_equivariance": True,
    "train.epochs": 150,
    "train.epochs_decay": 50,
}

#: The built-in unpaired demo on a laptop CPU in minutes: 64 px at half the paper's width.
DEMO_DEFAULTS = {
    "data.image_size": 64,
    "data.load_size": 72,
    "method.ngf": 32,
    "method.ndf": 32,
    "train.steps": 1000,
    "train.log_every": 100,
    "train.sample_every": 250,
    "train.checkpoint_every": 500,
}

#: Tiny networks for i2i's conformance suite: 2 residual blocks, so NCE layers must sit in a
#: shorter encoder (0: input, 4: first downsampling, 7: second, 10: first residual block).
TEST_OVERRIDES = {"ngf": 8, "ndf": 8, "n_blocks": 2, "nce_layers": [0, 4, 7, 10], "num_patches": 32, "netF_nc": 32}


_opt = i2i.ReferenceOption


def _cut_mode(value: object, _options: object) -> dict[str, object]:
    """``--CUT_mode FastCUT`` is FastCUT's argument set; explicit options (sorted after it) win."""
    if str(value).lower() == "fastcut":
        return {k: v for k, v in FASTCUT_DEFAULTS.items() if k.startswith(("method.", "train.epochs"))}
    return {}


def _nce_layers(value: object) -> list[int]:
    return [int(v) for v in str(value).split(",") if v.strip()]


#: taesungp/contrastive-unpaired-translation runs on the junyanz option base (``--model cut``):
#: its shared options plus CUT's own, for ``i2i config from-reference``.
REFERENCE = i2i.ReferenceSpec(
    code="taesungp/contrastive-unpaired-translation",
    model="cut",
    options={
        **i2i.JUNYANZ_OPTIONS,
        "CUT_mode": _opt.derived(_cut_mode),
        "netG": _opt.sets("method.netG"),
        "netD": _opt.sets("method.netD"),
        "ngf": _opt.sets("method.ngf", _opt.as_int),
        "ndf": _opt.sets("method.ndf", _opt.as_int),
        "n_layers_D": _opt.sets("method.n_layers_D", _opt.as_int),
        "normG": _opt.sets("method.normG"),
        "normD": _opt.sets("method.normD"),
        "init_type": _opt.sets("method.init_type"),
        "init_gain": _opt.sets("method.init_gain", _opt.as_float),
        "gan_mode": _opt.sets("method.gan_mode"),
        "lambda_GAN": _opt.sets("method.lambda_GAN", _opt.as_float),
        "lambda_NCE": _opt.sets("method.lambda_NCE", _opt.as_float),
        "nce_idt": _opt.sets("method.nce_idt", _opt.as_bool),
        "nce_layers": _opt.sets("method.nce_layers", _nce_layers),
        "nce_T": _opt.sets("method.nce_T", _opt.as_float),
        "num_patches": _opt.sets("method.num_patches", _opt.as_int),
        "netF_nc": _opt.sets("method.netF_nc", _opt.as_int),
        "flip_equivariance": _opt.sets("method.flip_equivariance", _opt.as_bool),
        "lr": _opt.sets("method.lr", _opt.as_float),
        "beta1": _opt.sets("method.beta1", _opt.as_float),
        "beta2": _opt.sets("method.beta2", _opt.as_float),
    },
)


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """A named generator whose size multiple exceeds the crop is an error (a U-Net deeper than
    it), and so is a PatchGAN too deep for it."""
    config = i2i.fit_generator_to_size(config, explicit, field="netG")
    return i2i.check_patchgan_size(config, layers_field="n_layers_D", netd_field="netD")


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="cut",
        config=CUTConfig,
        factory=CUT,
        data_kind=i2i.UNPAIRED,
        description="CUT (Park et al. 2020): one ResNet generator, PatchGAN, LSGAN + PatchNCE with identity NCE (plugin i2i-cut)",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        test_overrides=TEST_OVERRIDES,
        finalize_config=finalize,
        reference=REFERENCE,
    )
    yield MethodSpec(
        name="fastcut",
        config=CUTConfig,
        factory=CUT,
        data_kind=i2i.UNPAIRED,
        description="FastCUT (Park et al. 2020): CUT without identity NCE, lambda_NCE 10, flip-equivariance (plugin i2i-cut)",
        defaults=FASTCUT_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        test_overrides=TEST_OVERRIDES,
        finalize_config=finalize,
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    """``i2i import-weights latest_net_G.pth --format cut-ref --out cut.pt``."""
    yield IMPORTER
