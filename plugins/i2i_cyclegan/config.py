"""The ``[method]`` table of a CycleGAN run.

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
class CycleGANConfig:
    """CycleGAN with the paper's settings as defaults.

    Networks: ``G_A: A -> B`` and ``G_B: B -> A`` are the registered generator ``netG``
    (``resnet_9blocks`` as in the paper for 256 px, ``resnet_6blocks`` for 128 px, or a U-Net);
    ``D_A`` judges domain B and ``D_B`` domain A, both the registered discriminator ``netD``
    (``patchgan`` with ``n_layers_D = 3`` is the 70x70 PatchGAN). ``ngf``/``ndf`` are first-layer
    widths, ``norm`` is ``instance`` (paper), ``batch``, ``syncbatch`` or ``none``,
    ``use_dropout`` adds dropout to the generators (off in the paper: the reference
    ``--no_dropout``), ``init_type`` / ``init_gain`` as the reference ``init_weights``.

    Objective: ``gan_mode`` ``lsgan`` (paper), ``vanilla``, ``hinge`` or ``wgangp`` (with a
    gradient penalty of weight ``lambda_gp``); cycle losses ``lambda_A * |G_B(G_A(a)) - a|`` and
    ``lambda_B * |G_A(G_B(b)) - b|``; identity losses ``lambda_identity * lambda_B *
    |G_A(b) - b|`` and ``lambda_identity * lambda_A * |G_B(a) - a|`` (as in the reference,
    ``lambda_identity`` scales the cycle weights; 0 turns the identity terms off and is required
    when the two domains have different channel counts). Each discriminator's loss is halved.

    ``pool_size``: the discriminators see fakes drawn from a history of this many past fakes
    per direction (0: only the current ones); the history is saved in checkpoints.
    Optimisation: one Adam for both generators, one for both discriminators (``lr``,
    ``beta1``, ``beta2``).
    """

    netG: str = component_field("generator", "resnet_9blocks")
    netD: str = component_field("discriminator", "patchgan")
    ngf: int = attrs.field(default=64, validator=gt(0))
    ndf: int = attrs.field(default=64, validator=gt(0))
    n_layers_D: int = attrs.field(default=3, validator=ge(0))
    norm: str = attrs.field(default="instance", validator=one_of(*NORMS))
    use_dropout: bool = False
    init_type: str = attrs.field(default="normal", validator=in_(INIT_TYPES))
    init_gain: float = attrs.field(default=0.02, validator=gt(0))
    gan_mode: str = component_field("loss", "lsgan")  # any registered GAN objective, a plugin's too
    lambda_A: float = attrs.field(default=10.0, validator=ge(0))
    lambda_B: float = attrs.field(default=10.0, validator=ge(0))
    lambda_identity: float = attrs.field(default=0.5, validator=ge(0))
    lambda_gp: float = attrs.field(default=10.0, validator=ge(0))
    pool_size: int = attrs.field(default=50, validator=ge(0))
    lr: float = attrs.field(default=2e-4, validator=gt(0))
    beta1: float = attrs.field(default=0.5, validator=between(0.0, 1.0, high_open=True))
    beta2: float = attrs.field(default=0.999, validator=between(0.0, 1.0, high_open=True))
