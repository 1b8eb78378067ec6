"""The ``[method]`` table of a colorization run.

The reference ``colorization`` model is pix2pix with ``input_nc = 1`` (L) and ``output_nc = 2``
(ab), so the fields and defaults are pix2pix's (``unet_256``, the 70x70 PatchGAN, batch norm,
vanilla GAN + 100 L1, Adam 2e-4 / 0.5); the channel counts are fixed by the task, not options.
"""

from __future__ import annotations

import attrs
from attrs.validators import ge, gt, in_

from i2i import INIT_TYPES, NORMS, between, component_field, one_of


@attrs.frozen
class ColorizationConfig:
    """Colorization with the reference's settings as defaults.

    ``netG``/``netD`` are any registered generator/discriminator; ``ngf``/``ndf``, ``n_layers_D``,
    ``norm``, ``use_dropout``, ``init_type``/``init_gain``, ``gan_mode``, ``lambda_L1``,
    ``lambda_gp``, ``lr``, ``beta1``, ``beta2`` mean what they mean for pix2pix.

    ``image_size``: the shorter side (pixels) at which ``translate`` predicts the colours of an
    image of any size; the prediction is upsampled and combined with the input's own
    full-resolution L, so a 4000x3000 scan comes back 4000x3000 with all its detail. Set it to
    the training crop (``data.image_size``), which the plugin's defaults do.
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
    gan_mode: str = component_field("loss", "vanilla")  # any registered GAN objective
    lambda_L1: float = attrs.field(default=100.0, validator=ge(0))
    lambda_gp: float = attrs.field(default=10.0, validator=ge(0))
    lr: float = attrs.field(default=2e-4, validator=gt(0))
    beta1: float = attrs.field(default=0.5, validator=between(0.0, 1.0, high_open=True))
    beta2: float = attrs.field(default=0.999, validator=between(0.0, 1.0, high_open=True))
    image_size: int = attrs.field(default=256, validator=ge(1))
