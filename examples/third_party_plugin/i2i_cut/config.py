"""The ``[method]`` table of a CUT run.

Field names follow the reference options (taesungp/contrastive-unpaired-translation), so a user
of that code finds each knob under the name they know. Schedules, image sizes and batch size
live in i2i's ``[train]`` and ``[data]`` tables (see :mod:`i2i_cut.plugin` for the paper's values).
"""

from __future__ import annotations

import attrs
from attrs.validators import ge, gt, in_

from i2i import INIT_TYPES, NORMS, component_field


def _layers(value: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


def _check_layers(_: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value:
        raise ValueError(f"{attribute.name}: name at least one generator layer")
    if any(v < 0 for v in value) or list(value) != sorted(set(value)):
        raise ValueError(f"{attribute.name}: expected increasing, non-negative layer indices, got {list(value)}")


@attrs.frozen
class CUTConfig:
    """CUT with the paper's settings as defaults (FastCUT is the ``fastcut`` method: the same
    config with ``nce_idt = false``, ``lambda_NCE = 10``, ``flip_equivariance = true``).

    Networks: one generator ``netG`` (any registered ResNet-style generator; ``n_blocks``
    overrides its residual block count) mapping A to B, judged by the discriminator ``netD``
    (``patchgan`` with ``n_layers_D = 3``: the 70x70 PatchGAN), instance norm in both, Xavier
    initialisation with gain 0.02.

    Objective: ``lambda_GAN`` * LSGAN (``gan_mode``) + ``lambda_NCE`` * PatchNCE. PatchNCE
    compares ``num_patches`` patches of the generator's encoder features at ``nce_layers``
    (indices into the generator's layer sequence; 0 is the padded input) of the input and of
    the output, each projected by a two-layer MLP to ``netF_nc`` dimensions and L2-normalised,
    with temperature ``nce_T``: each output patch must pick out the input patch at its own
    position among the other patches of that image (of the whole batch with
    ``nce_includes_all_negatives_from_minibatch``). ``nce_idt`` adds the same loss between
    ``B`` and ``G(B)`` (an identity term that stabilises CUT); the two NCE terms are averaged.
    ``flip_equivariance`` randomly flips the generator's input horizontally (FastCUT).
    """

    netG: str = component_field("generator", "resnet_9blocks")
    netD: str = component_field("discriminator", "patchgan")
    ngf: int = attrs.field(default=64, validator=gt(0))
    ndf: int = attrs.field(default=64, validator=gt(0))
    n_blocks: int | None = attrs.field(default=None, validator=attrs.validators.optional(ge(0)))
    n_layers_D: int = attrs.field(default=3, validator=ge(0))
    normG: str = attrs.field(default="instance", validator=in_(NORMS))
    normD: str = attrs.field(default="instance", validator=in_(NORMS))
    init_type: str = attrs.field(default="xavier", validator=in_(INIT_TYPES))
    init_gain: float = attrs.field(default=0.02, validator=gt(0))
    gan_mode: str = component_field("loss", "lsgan")  # any registered GAN objective, a plugin's too
    lambda_GAN: float = attrs.field(default=1.0, validator=ge(0))
    lambda_NCE: float = attrs.field(default=1.0, validator=ge(0))
    nce_idt: bool = True
    nce_layers: tuple[int, ...] = attrs.field(default=(0, 4, 8, 12, 16), converter=_layers, validator=_check_layers)
    nce_T: float = attrs.field(default=0.07, validator=gt(0))
    num_patches: int = attrs.field(default=256, validator=gt(0))
    netF_nc: int = attrs.field(default=256, validator=gt(0))
    nce_includes_all_negatives_from_minibatch: bool = False
    flip_equivariance: bool = False
    lr: float = attrs.field(default=2e-4, validator=gt(0))
    beta1: float = 0.5
    beta2: float = 0.999
