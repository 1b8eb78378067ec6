"""i2i plugin: pix2pix (Isola et al. 2017), conditional GAN translation of paired images.

Registered through the entry point ``pix2pix = "i2i_pix2pix.plugin"``; use it as
``i2i run --method pix2pix`` or ``i2i.create_method("pix2pix")``.
"""

from i2i_pix2pix.config import Pix2PixConfig
from i2i_pix2pix.method import Pix2Pix

__all__ = ["Pix2Pix", "Pix2PixConfig"]
