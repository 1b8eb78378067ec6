"""i2i plugin: colorization, the reference's ``colorization`` model (junyanz/pytorch-CycleGAN-and-pix2pix).

A pix2pix objective on Lab images: the generator maps the L channel to the ab channels, the
discriminator judges ``(L, ab)``. Registered through the entry point
``colorization = "i2i_colorization.plugin"``; use it as ``i2i run --method colorization``
(any folder of colour photos is a dataset) or ``i2i.create_method("colorization")``.
"""

from i2i_colorization.config import ColorizationConfig
from i2i_colorization.method import Colorization

__all__ = ["Colorization", "ColorizationConfig"]
