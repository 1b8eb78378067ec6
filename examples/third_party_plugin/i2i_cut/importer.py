"""``cut-ref``: generators of taesungp/contrastive-unpaired-translation (``latest_net_G.pth``).

The reference CUT generator is the CycleGAN ResNet generator, plus - by default - anti-aliased
down/upsampling (``Downsample``/``Upsample`` modules holding a fixed ``filt`` blur kernel) that
i2i's ResNet generator does not have. Files trained with ``--no_antialias --no_antialias_up``
have exactly the ResNet layout and import through the public helper
:func:`i2i.convert_image_generator`; anti-aliased ones are recognised and refused with a reason,
rather than loaded into a network that computes something else.

Only public API is used (``from i2i import ...``): this is how any plugin adds a format.
"""

from __future__ import annotations

from typing import Any, Mapping

import i2i
from i2i import CheckpointError, ConvertedGenerator, DataInfo, ImporterSpec, ImportPlan, ImportRequest

FORMAT = "cut-ref"


def _antialiased(state_dict: Mapping[str, Any]) -> bool:
    return any(k.endswith(".filt") for k in state_dict)


def recognise(state_dict: Mapping[str, Any]) -> bool:
    """A ResNet generator with the reference's blur kernels (CUT's default) is certainly CUT's;
    one without them also looks like ``cyclegan-ref`` (``--format`` then decides)."""
    return i2i.image_generator_family(state_dict) == "resnet" or (
        _antialiased(state_dict) and "model.1.weight" in state_dict
    )


def convert(
    state_dict: Mapping[str, Any], generator: str | None = None, source: str = "state dict"
) -> ConvertedGenerator:
    if _antialiased(state_dict):
        raise CheckpointError(
            f"{source}: a CUT generator trained with anti-aliased sampling (the reference default); i2i-cut's "
            "generator has plain strided convolutions - import a model trained with --no_antialias --no_antialias_up"
        )
    return i2i.convert_image_generator(state_dict, generator, source, format=FORMAT)


def build(request: ImportRequest) -> ImportPlan:
    (g,) = request.generators
    kwargs = g.kwargs
    if kwargs.get("padding_type", "reflect") != "reflect" or kwargs.get("use_dropout"):
        raise CheckpointError(
            f"{request.sources[0]}: generator options {dict(kwargs)} have no i2i-cut config equivalent"
        )
    info = DataInfo(kind=i2i.UNPAIRED, channels_a=kwargs["input_nc"], channels_b=kwargs["output_nc"])
    config = {"netG": g.name, "ngf": kwargs["ngf"], "normG": kwargs["norm"], "n_blocks": kwargs["n_blocks"]}
    if kwargs["input_nc"] != kwargs["output_nc"]:
        config["nce_idt"] = False  # the identity NCE term needs equal channels (CUT refuses it otherwise)
    return ImportPlan(method="cut", data_info=info, generators={"G": g.state_dict}, method_config=config)


IMPORTER = ImporterSpec(
    name=FORMAT,
    description="taesungp/contrastive-unpaired-translation CUT/FastCUT generator (latest_net_G.pth, --no_antialias) -> a cut checkpoint",
    recognise=recognise,
    convert=convert,
    build=build,
)
