"""``pix2pix-ref``: generators of junyanz/pytorch-CycleGAN-and-pix2pix's pix2pix (``latest_net_G.pth``).

Plain state dicts of the core U-Net (or ResNet) generator, whose layouts are the reference's
key for key; :func:`i2i.convert_image_generator` reads the architecture off the shapes. The
file becomes a ``pix2pix`` checkpoint (paired, one generator ``G``).
"""

from __future__ import annotations

from typing import Any, Mapping

import i2i
from i2i import ConvertedGenerator, DataInfo, ImporterSpec, ImportPlan, ImportRequest

FORMAT = "pix2pix-ref"


def recognise(state_dict: Mapping[str, Any]) -> bool:
    """The reference pix2pix generator is a U-Net (``model.model.0.weight`` ...)."""
    return i2i.image_generator_family(state_dict) == "unet"


def convert(
    state_dict: Mapping[str, Any], generator: str | None = None, source: str = "state dict"
) -> ConvertedGenerator:
    return i2i.convert_image_generator(state_dict, generator, source, format=FORMAT)


def build(request: ImportRequest) -> ImportPlan:
    (g,) = request.generators
    info = DataInfo(kind=i2i.PAIRED, channels_a=g.kwargs["input_nc"], channels_b=g.kwargs["output_nc"])
    config = i2i.image_generator_config(g, request.sources[0])
    return ImportPlan(method="pix2pix", data_info=info, generators={"G": g.state_dict}, method_config=config)


IMPORTER = ImporterSpec(
    name=FORMAT,
    description="junyanz/pytorch-CycleGAN-and-pix2pix pix2pix generator (latest_net_G.pth) -> a pix2pix checkpoint",
    recognise=recognise,
    convert=convert,
    build=build,
)
