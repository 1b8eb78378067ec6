"""i2i plugin: Augmented CycleGAN (Almahairi et al. 2018), many-to-many unpaired translation."""

from .config import AugCycleGANConfig
from .method import AugCycleGAN

__all__ = ["AugCycleGAN", "AugCycleGANConfig"]
