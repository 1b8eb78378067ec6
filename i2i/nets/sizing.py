"""Making the generator and the image size agree before a run starts.

A U-Net halves its input ``num_downs`` times, so it needs sides that are multiples of
``2**num_downs`` (256 for ``unet_256``). The reference names the depth after the image size
(``unet_128`` for 128 px, ``unet_256`` for 256 px); i2i does the same when the user did not
name a generator, and refuses a named one whose multiple exceeds the crop the network sees
(64 px crops through ``unet_256`` would be blown up four times, then shrunk to a 1x1
bottleneck of mostly padding). Methods opt in through ``MethodSpec.finalize_config``::

    def finalize(config, explicit):
        return i2i.fit_generator_to_size(config, explicit, field="netG")

    yield MethodSpec(..., finalize_config=finalize)
"""

from __future__ import annotations

import math
from typing import Any, Collection

import attrs

from i2i.errors import ConfigError
from i2i.plugins.host import get_host

#: Preprocess modes whose network input is exactly ``data.image_size`` square.
_CROP_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")
#: The U-Net depths the registry names (``unet_32`` .. ``unet_256``); deeper than the paper's 8
#: adds nothing but a smaller bottleneck.
_UNET_DEPTHS = range(5, 9)


def unet_for_size(side: int) -> str:
    """The registered U-Net whose 1x1 bottleneck matches ``side`` px (``unet_64`` for 64),
    capped at the paper's ``unet_256`` for larger images and at ``unet_32`` for smaller."""
    depth = int(math.floor(math.log2(max(side, 1))))
    depth = min(max(depth, _UNET_DEPTHS.start), _UNET_DEPTHS.stop - 1)
    return f"unet_{2**depth}"


def generator_size_multiple(name: str, host: Any = None) -> int:
    """``size_multiple`` of the registered generator ``name`` (4 when it does not say).

    Builds a one-channel copy at width 1, which costs microseconds and needs no plugin to
    declare anything beyond the ``size_multiple`` attribute its networks already carry.
    """

    spec = (host or get_host()).registry.get("generator", name)
    try:
        net = spec.create(input_nc=1, output_nc=1, ngf=1)
    except Exception:  # a generator that cannot be built this way: no claim about its size
        return 4
    return int(getattr(net, "size_multiple", 4) or 4)


def fit_generator_to_size(config: Any, explicit: Collection[str], *, field: str = "netG", host: Any = None) -> Any:
    """``config`` (a :class:`~i2i.config.RunConfig`) with ``method.<field>`` fitted to the images.

    Not named by the user (``method.<field>`` not in ``explicit``) and a ``unet_*``: the depth
    whose bottleneck is 1x1 at ``data.image_size`` (:func:`unet_for_size`). Named: a crop mode
    whose ``data.image_size`` is smaller than the generator's size multiple is a
    :class:`ConfigError`. ``preprocess`` ``none``/``scale_width`` keep each image's own size,
    which is only known per image; the trainer crops/pads those to the multiple without
    changing their aspect.
    """
    name = getattr(config.method, field)
    data = config.data
    if f"method.{field}" not in explicit:
        if isinstance(name, str) and name.startswith("unet_"):
            fitted = unet_for_size(data.image_size)
            if fitted != name:
                config = attrs.evolve(config, method=attrs.evolve(config.method, **{field: fitted}))
        return config
    if data.preprocess in _CROP_MODES:
        multiple = generator_size_multiple(name, host)
        if data.image_size < multiple:
            hint = (
                (
                    f"use {unet_for_size(data.image_size)!r} for {data.image_size} px, or leave method.{field} "
                    "unset to pick the U-Net depth from the image size"
                )
                if name.startswith("unet_")
                else (f"raise data.image_size to {multiple} or pick another generator")
            )
            raise ConfigError(
                f"method.{field}: {name!r} needs images of at least {multiple} px (a multiple of {multiple}), "
                f"but data.image_size is {data.image_size}; {hint}"
            )
    return config


__all__ = ["fit_generator_to_size", "generator_size_multiple", "unet_for_size"]
