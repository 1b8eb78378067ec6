"""i2i plugin: CycleGAN (Zhu et al. 2017), unpaired translation with cycle consistency.

Registered through the entry point ``cyclegan = "i2i_cyclegan.plugin"``; use it as
``i2i run --method cyclegan`` or ``i2i.create_method("cyclegan")``.
"""

from i2i_cyclegan.config import CycleGANConfig
from i2i_cyclegan.method import CycleGAN

__all__ = ["CycleGAN", "CycleGANConfig"]
