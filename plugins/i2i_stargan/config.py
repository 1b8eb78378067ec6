"""The ``[method]`` table of a StarGAN run.

Field names follow yunjey/stargan's command-line options (``g_conv_dim``, ``g_repeat_num``,
``lambda_cls`` ...) so a reference command line translates key by key. The number of
domains (the reference ``c_dim``) is not a field: it is the length of the data's
``DataInfo.domains`` (domain folders or ``data.attributes``), so it can never disagree with
the labels; an imported ``200000-G.ckpt`` rebuilds with ``g_conv_dim`` = its stem width,
``g_repeat_num`` = its residual block count and ``c_dim`` = the number of domain names.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from attrs.validators import ge, gt

from i2i import between, distinct

#: The reference's hair colours: its test sets one of them and clears the others instead of
#: flipping it, since a face has one hair colour.
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


@attrs.frozen
class StarGANConfig:
    """StarGAN (Choi et al. 2018) with the paper's CelebA setting as defaults.

    ``image_size`` sizes the discriminator's domain classifier (its kernel covers the final
    ``image_size / 2**d_repeat_num`` feature map), as the reference's single ``--image_size``
    does; it must equal ``data.image_size``, which training checks.
    ``exclusive_attributes``: multi-hot attributes of which at most one is on; setting one
    clears the others (the reference's hair-colour rule), in ``translate`` and in samples.
    ``d_repeat_num``: 6 is the reference's for its 128 px; a run that does not set it gets
    :func:`critic_depth` of ``image_size`` (5 at 64 px), see :func:`i2i_stargan.plugin.finalize`.
    ``lambda_keep`` (not in the paper; 0, the reference's objective, by default) only acts with
    several datasets (``data.sources``): see :meth:`i2i_stargan.sources.LabelLayout.keep_loss`.
    """

    field_help: ClassVar[dict[str, str]] = {
        "lambda_keep": "several datasets: weight of keeping the other datasets' labels D reads on the input "
        "(0: the paper's objective)",
    }

    g_conv_dim: int = attrs.field(default=64, validator=ge(1))
    d_conv_dim: int = attrs.field(default=64, validator=ge(1))
    g_repeat_num: int = attrs.field(default=6, validator=ge(0))
    d_repeat_num: int = attrs.field(default=6, validator=ge(1))
    image_size: int = attrs.field(default=128, validator=ge(4))
    lambda_cls: float = attrs.field(default=1.0, validator=ge(0.0))
    lambda_rec: float = attrs.field(default=10.0, validator=ge(0.0))
    lambda_gp: float = attrs.field(default=10.0, validator=ge(0.0))
    lambda_keep: float = attrs.field(default=0.0, validator=ge(0.0))
    n_critic: int = attrs.field(default=5, validator=ge(1))
    g_lr: float = attrs.field(default=1e-4, validator=gt(0.0))
    d_lr: float = attrs.field(default=1e-4, validator=gt(0.0))
    beta1: float = attrs.field(default=0.5, validator=between(0.0, 1.0, high_open=True))
    beta2: float = attrs.field(default=0.999, validator=between(0.0, 1.0, high_open=True))
    exclusive_attributes: tuple[str, ...] = attrs.field(default=HAIR_COLOURS, converter=tuple, validator=distinct())


#: The reference's critic depth, reached at its 128 px; deeper adds only weight-bound layers.
MAX_CRITIC_DEPTH = 6


def critic_depth(image_size: int) -> int:
    """Stride-2 critic layers for ``image_size`` px: ``log2(size) - 1`` (the reference's 6 at
    128 px), capped at 6, so the last map is 2-3 px wide rather than 1x1.

    Why: 6 layers on 64 px end in a 1024->2048 4x4 conv on a 2x2 map (33.5M weights, three
    quarters of each kernel only ever multiplying padding) whose output is 1x1: a weight-bound
    layer that made the critic step ~3x slower in bf16 and in fp32 alike (benchmarks/README.md).
    """
    return max(1, min(MAX_CRITIC_DEPTH, int(image_size).bit_length() - 2))
