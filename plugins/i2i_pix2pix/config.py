"""The ``[method]`` table of a pix2pix run.

Field names follow the reference options (junyanz/pytorch-CycleGAN-and-pix2pix) so a user of
that code finds every knob under the name they know; what the reference keeps elsewhere lives
in the other tables: ``train.epochs`` / ``train.epochs_decay`` / ``train.schedule``
(``n_epochs``, ``n_epochs_decay``, ``lr_policy``), ``data.image_size`` / ``data.load_size``
(``crop_size``, ``load_size``), ``data.preprocess``, ``data.flip`` (``no_flip``),
``data.direction``, ``data.channels`` / ``data.channels_b`` (``input_nc``, ``output_nc``).
"""

from __future__ import annotations

import attrs
from attrs.validators import ge, gt, in_

from i2i import INIT_TYPES, NORMS, between, component_field, one_of


@attrs.frozen
class Pix2PixConfig:
    """Pix2pix with the paper's settings as defaults.

    Networks: ``netG`` is any registered generator (``unet_256`` as in the paper, ``unet_128``,
    ``resnet_9blocks`` ...), ``netD`` any registered discriminator (``patchgan`` with
    ``n_layers_D = 3`` is the 70x70 PatchGAN, 1 a 16x16 one; ``pixel`` is a 1x1 PixelGAN,
    ``multiscale`` a pix2pixHD-style stack). ``ngf``/``ndf`` are the width of the first layer, ``norm`` is
    ``batch`` (paper), ``instance``, ``syncbatch`` or ``none``; ``use_dropout`` puts dropout
    0.5 in the U-Net's inner decoder blocks (the reference ``--no_dropout`` turns it off);
    ``init_type`` / ``init_gain`` as the reference ``init_weights``.

    Objective: ``gan_mode`` is ``vanilla`` (paper), ``lsgan``, ``hinge`` or ``wgangp`` (then
    with a gradient penalty of weight ``lambda_gp``); the generator adds ``lambda_L1`` times the
    L1 distance to the target; the discriminator's loss is halved, which slows it relative to G.
    Optimisation: Adam with ``lr``, ``beta1``, ``beta2`` for both networks.

    ``train_mode_at_test``: the paper (and the reference ``test.py`` without ``--eval``) keeps
    dropout active and normalises with each test batch's own statistics at inference time, so
    outputs are stochastic and batch norm never uses its running averages. The default
    (False) translates in eval mode - deterministic outputs from running statistics. True
    reproduces the paper; running statistics are left untouched either way.
    """

    netG: str = component_field("generator", "unet_256")
    netD: str = component_field("discriminator", "patchgan")
    ngf: int = attrs.field(default=64, validator=gt(0))
    ndf: int = attrs.field(default=64, validator=gt(0))
    n_layers_D: int = attrs.field(default=3, validator=ge(0))
    norm: str = attrs.field(default="batch", validator=one_of(*NORMS))
    use_dropout: bool = True
    init_type: str = attrs.field(default="normal", validator=in_(INIT_TYPES))
    init_gain: float = attrs.field(default=0.02, validator=gt(0))
    gan_mode: str = component_field("loss", "vanilla")  # any registered GAN objective, a plugin's too
    lambda_L1: float = attrs.field(default=100.0, validator=ge(0))
    lambda_gp: float = attrs.field(default=10.0, validator=ge(0))
    lr: float = attrs.field(default=2e-4, validator=gt(0))
    beta1: float = attrs.field(default=0.5, validator=between(0.0, 1.0, high_open=True))
    beta2: float = attrs.field(default=0.999, validator=between(0.0, 1.0, high_open=True))
    train_mode_at_test: bool = False
