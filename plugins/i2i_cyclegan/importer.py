"""``cyclegan-ref``: generators of junyanz/pytorch-CycleGAN-and-pix2pix's CycleGAN.

Plain state dicts of the core ResNet (or U-Net) generator, whose layouts are the reference's
key for key; :func:`i2i.convert_image_generator` reads the architecture off the shapes.

* two files ``latest_net_G_A.pth latest_net_G_B.pth`` -> a ``cyclegan`` checkpoint, both
  directions (``--direction b2a`` then works);
* one file (``horse2zebra.pth``: the pretrained zoo ships one generator per direction) -> a
  one-generator, one-direction checkpoint of the ``pix2pix`` method, whose model is exactly one
  generator ``G`` (its discriminator, unused at inference, is fresh).
"""

from __future__ import annotations

from typing import Any, Mapping

import i2i
from i2i import (
    ConvertedGenerator,
    DataInfo,
    ImporterSpec,
    ImportPlan,
    ImportRequest,
    UsageError,
)

FORMAT = "cyclegan-ref"


def recognise(state_dict: Mapping[str, Any]) -> bool:
    """The reference CycleGAN generator is a ResNet (``model.N.conv_block.`` ...)."""
    return i2i.image_generator_family(state_dict) == "resnet"


def convert(
    state_dict: Mapping[str, Any], generator: str | None = None, source: str = "state dict"
) -> ConvertedGenerator:
    return i2i.convert_image_generator(state_dict, generator, source, format=FORMAT)


def build(request: ImportRequest) -> ImportPlan:
    first = request.generators[0]
    config = i2i.image_generator_config(first, request.sources[0])
    for source, other in zip(request.sources[1:], request.generators[1:]):
        if (other.name, other.kwargs["ngf"], other.kwargs["norm"]) != (
            first.name,
            first.kwargs["ngf"],
            first.kwargs["norm"],
        ):
            raise UsageError(f"{request.sources[0]} and {source} hold different generator architectures")
    channels = {"channels_a": first.kwargs["input_nc"], "channels_b": first.kwargs["output_nc"]}
    if len(request.generators) == 1:
        return ImportPlan(
            method="pix2pix",
            data_info=DataInfo(kind=i2i.PAIRED, **channels),
            generators={"G": first.state_dict},
            method_config=config,
        )
    g_a, g_b = request.generators
    return ImportPlan(
        method="cyclegan",
        data_info=DataInfo(kind=i2i.UNPAIRED, **channels),
        generators={"G_A": g_a.state_dict, "G_B": g_b.state_dict},
        method_config=config,
    )


IMPORTER = ImporterSpec(
    name=FORMAT,
    description="junyanz/pytorch-CycleGAN-and-pix2pix CycleGAN generator(s): G_A [G_B] -> a cyclegan (two) or one-direction checkpoint",
    recognise=recognise,
    convert=convert,
    build=build,
    files=(1, 2),
)
