"""Shared networks: generators, discriminators and their building blocks.

Module layouts follow the reference code (junyanz/pytorch-CycleGAN-and-pix2pix,
yunjey/stargan) layer for layer, so reference checkpoints map onto i2i's state-dict keys
(see :mod:`i2i.inference.weights_import`). Networks are built by name through the registry
(``i2i.create_generator("resnet_9blocks")``); the classes are importable for composition.
"""

from i2i.nets.init import INIT_TYPES, init_weights
from i2i.nets.norm import NORMS, InstanceNorm, get_norm_layer

__all__ = ["INIT_TYPES", "NORMS", "InstanceNorm", "get_norm_layer", "init_weights"]
