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

The PatchGAN has the opposite limit: each of its ``n_layers`` strided convolutions halves the
crop, and too many leave less than its last two 4x4 convolutions need (the reference crashes
mid-run then). :func:`check_patchgan_size` refuses such a depth before anything runs.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Collection

import attrs
from torch import nn

from i2i.errors import ConfigError
from i2i.nets.patchgan import MultiscaleDiscriminator, NLayerDiscriminator
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


def fit_image_size(
    config: Any, explicit: Collection[str], *, field: str = "image_size", sized: str = "the networks"
) -> Any:
    """``config`` with ``method.<field>`` equal to the crop, ``data.image_size``, for a method
    whose networks are built for one image size (``sized``: what it sizes, for the message).

    Not set by the user: it follows the crop. Set to another size: a :class:`ConfigError`
    (the first step would fail on the shape). Only crop modes: with ``preprocess``
    ``none``/``scale_width`` each image keeps its own size, which the method checks per batch.
    """
    data, size = config.data, getattr(config.method, field)
    if data.preprocess not in _CROP_MODES or size == data.image_size:
        return config
    if f"method.{field}" not in explicit:
        return attrs.evolve(config, method=attrs.evolve(config.method, **{field: data.image_size}))
    raise ConfigError(
        f"method.{field}: {size} differs from data.image_size {data.image_size}, the crop the method trains on "
        f"(method.{field} sizes {sized}); set both to one value, or leave method.{field} unset to follow it"
    )


def _conv_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def patchgan_sides(side: int, n_layers: int) -> list[int]:
    """Side of each map :class:`~i2i.nets.patchgan.NLayerDiscriminator` computes from a
    ``side`` x ``side`` input, layer by layer: ``max(n_layers, 1)`` 4x4 stride-2 convolutions
    (all but the first normalised), a normalised 4x4 stride-1 one, then the 4x4 stride-1 output.
    Integer arithmetic as the convolutions do it, so odd sides round as they do at run time."""
    strides = [2] * max(n_layers, 1) + [1, 1]
    sides = []
    for stride in strides:
        side = max(_conv_side(side, 4, stride, 1), 0)
        sides.append(side)
    return sides


def patchgan_fits(side: int, n_layers: int) -> bool:
    """Whether the PatchGAN runs on ``side`` px: every normalised map has more than one value
    per channel (instance norm, and batch norm at batch 1, need that) and the output is at least 1x1."""
    sides = patchgan_sides(side, n_layers)
    return all(s > 1 for s in sides[1:-1]) and sides[-1] >= 1


def _built_patchgan(config: Any, netd_field: str | None, n_layers: int, host: Any) -> tuple[int, int] | None:
    """``(strided layers, scales)`` of the discriminator the method builds, or ``None`` when it is
    no PatchGAN. A named one is built once at width 1 (microseconds), so ``basic`` (always 3
    layers), a multi-scale stack and a plugin's PatchGAN subclass report their real depth."""
    if netd_field is None:
        return max(n_layers, 1), 1
    spec = (host or get_host()).registry.get("discriminator", getattr(config.method, netd_field))
    try:
        net = spec.create(input_nc=1, ndf=1, n_layers=n_layers)
    except Exception:  # a discriminator that cannot be built this way: no claim about its size
        return None
    nets = list(net.discriminators) if isinstance(net, MultiscaleDiscriminator) else [net]
    if not all(isinstance(d, NLayerDiscriminator) for d in nets):
        return None
    strided = sum(1 for m in nets[0].modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2))
    return strided, len(nets)


def _scale_sides(side: int, scales: int) -> list[int]:
    """Input sides of a multi-scale stack: each scale 3x3 stride-2 average-pooled (padding 1)."""
    sides = [side]
    for _ in range(scales - 1):
        sides.append(max(_conv_side(sides[-1], 3, 2, 1), 0))
    return sides


def check_patchgan_size(
    config: Any, *, layers_field: str = "n_layers_D", netd_field: str | None = "netD", host: Any = None
) -> Any:
    """``config`` unchanged, or a :class:`ConfigError` when its PatchGAN cannot run on the crop.

    ``method.<layers_field>`` is the depth; ``method.<netd_field>`` the registered discriminator
    (``None``: the method always builds the plain PatchGAN). Only crop modes are checked: with
    ``preprocess`` ``none``/``scale_width`` the size is each image's own. Methods opt in through
    ``MethodSpec.finalize_config``, as for :func:`fit_generator_to_size`.
    """
    data = config.data
    if data.preprocess not in _CROP_MODES:
        return config
    n_layers = getattr(config.method, layers_field)
    # a depth no image could take (a typo: 40 for 4) fails as the deepest probe does; building
    # and sizing it layer by layer would take minutes
    probe = min(n_layers, _DEEPEST_PROBE)
    built = _built_patchgan(config, netd_field, probe, host)
    if built is None:
        return config
    strided, scales = built

    def fits(side: int, depth: int) -> bool:
        return all(patchgan_fits(s, depth) for s in _scale_sides(side, scales))

    if fits(data.image_size, strided):
        return config
    smallest = _scale_sides(data.image_size, scales)[-1]
    left = patchgan_sides(smallest, strided)[strided - 1]
    where = f"data.image_size {data.image_size}"
    where = f"the {smallest} px smallest of {scales} scales of {where}" if scales > 1 else where
    # n_layers used (the depth follows it): blame it and offer a shallower one; else blame the name
    uses_layers = netd_field is None or _built_patchgan(config, netd_field, probe + 1, host) != built
    key = layers_field if uses_layers else netd_field
    fitting = (n for n in range(probe - 1, -1, -1) if uses_layers and fits(data.image_size, max(n, 1)))
    shallower = next(fitting, None)
    need = _smallest_side(data.image_size, lambda side: fits(side, strided))
    hints = [f"{layers_field} <= {shallower}"] if shallower is not None else []
    hints += [f"data.image_size >= {need}"] if need is not None else []
    depth = strided + (n_layers - probe if uses_layers else 0)
    layers = "1 strided layer leaves" if depth == 1 else f"{depth} strided layers leave"
    raise ConfigError(
        f"method.{key}: {layers} a {left}x{left} map of {where} "
        f"(the PatchGAN needs at least 3x3 before its last two convolutions); "
        f"use {' or '.join(hints) or 'a shallower discriminator'}"
    )


#: The deepest PatchGAN :func:`check_patchgan_size` builds: 24 stride-2 layers need a crop of
#: tens of millions of pixels a side, so a deeper one fails on every real image as this one does.
_DEEPEST_PROBE = 24

#: The largest crop side :func:`check_patchgan_size` offers as a fix.
_LARGEST_SIDE = 1 << 16


def _smallest_side(side: int, fits: Callable[[int], bool]) -> int | None:
    """The smallest side above ``side`` (which does not fit) that fits, or None up to
    :data:`_LARGEST_SIDE`. Maps only grow with the input, so doubling then halving the gap
    finds it in a few dozen sizings (a linear search took minutes for a deep stack)."""
    low, high = side, max(side, 1) * 2
    while not fits(high):
        if high >= _LARGEST_SIDE:
            return None
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return high


__all__ = [
    "check_patchgan_size",
    "fit_generator_to_size",
    "generator_size_multiple",
    "patchgan_fits",
    "patchgan_sides",
    "unet_for_size",
]
