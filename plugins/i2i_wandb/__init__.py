"""i2i plugin: a Weights & Biases logger (``train.loggers = ["wandb"]``).

Registered through the entry point ``wandb = "i2i_wandb.plugin"``; needs
``pip install 'i2i-translate[wandb]'``. See :class:`i2i_wandb.logger.WandbLogger`.
"""

from i2i_wandb.logger import WandbLogger

__all__ = ["WandbLogger"]
