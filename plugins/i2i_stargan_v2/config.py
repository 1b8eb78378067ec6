"""The ``[method]`` table of a StarGAN v2 run.

Field names follow clovaai/stargan-v2's ``main.py`` options (``latent_dim``,
``style_dim``, ``hidden_dim``, ``lambda_reg`` ... ``ds_iter``, ``f_lr``, ``w_hpf``), with their
defaults, so a reference command line translates key by key; its ``img_size`` is
``image_size`` here (the name ``--image-size`` and the other methods use). The number of domains (the
reference ``num_domains``) is not a field: it is the length of the data's ``DataInfo.domains``
(one folder per domain), so it can never disagree with the labels. Training length, batch
size and the EMA decay live in ``[train]`` (``plugin.py`` sets the paper's values).
"""

from __future__ import annotations

import attrs

from i2i import UsageError


def _positive(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise UsageError(f"method.{attribute.name}: expected a positive integer, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise UsageError(f"method.{attribute.name}: expected a number >= 0, got {value}")


def _learning_rate(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise UsageError(f"method.{attribute.name}: expected a learning rate > 0, got {value}")


def _beta(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise UsageError(f"method.{attribute.name}: expected an Adam beta in [0, 1), got {value}")


def _power_of_two(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 32 or value & (value - 1):
        raise UsageError(
            f"method.image_size: expected a power of two >= 32 (the networks halve it to 4x4), got {value}"
        )


def _optional_positive(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"method.{attribute.name}: expected a positive integer (or unset), got {value}")


@attrs.frozen
class StarGANv2Config:
    """StarGAN v2 with the reference's defaults (AFHQ / CelebA-HQ at 256 px).

    ``image_size`` (the reference ``img_size``) sizes the style encoder and discriminator
    (they reduce it to 4x4, then to one vector) and, as in the reference, the networks' width: the first layer has
    ``dim_in = 2**14 // image_size`` channels (64 at 256 px), doubling per level up to
    ``max_conv_dim``. ``dim_in`` overrides that width (the built-in demo uses 32 channels at
    32 px, where the reference rule would give 512). It must equal
    ``data.image_size``, which training checks.

    ``w_hpf`` > 0 builds the reference's face layout (``--w_hpf 1``, its CelebA-HQ release):
    one more down/up-sampling level and decoder blocks without shortcuts, so those weights
    import and translate. The face high-pass that goes with it needs the landmark network
    (wing/FAN) and its pretrained weights, which i2i does not ship: it is left out, and a
    ``w_hpf`` model can be translated with but not trained.

    Losses: ``lambda_reg`` (R1 on real images), ``lambda_sty`` (style reconstruction),
    ``lambda_ds`` (diversity sensitivity, decayed linearly to 0 over ``ds_iter`` steps),
    ``lambda_cyc`` (cycle). Adam: ``lr`` for G, E, D and ``f_lr`` for the mapping network F,
    ``beta1``/``beta2``, ``weight_decay`` (L2, as torch's Adam applies it).
    """

    image_size: int = attrs.field(default=256, validator=_power_of_two)
    latent_dim: int = attrs.field(default=16, validator=_positive)
    style_dim: int = attrs.field(default=64, validator=_positive)
    hidden_dim: int = attrs.field(default=512, validator=_positive)
    max_conv_dim: int = attrs.field(default=512, validator=_positive)
    dim_in: int | None = attrs.field(default=None, validator=_optional_positive)
    w_hpf: float = attrs.field(default=0.0, validator=_non_negative)
    lambda_reg: float = attrs.field(default=1.0, validator=_non_negative)
    lambda_sty: float = attrs.field(default=1.0, validator=_non_negative)
    lambda_ds: float = attrs.field(default=1.0, validator=_non_negative)
    lambda_cyc: float = attrs.field(default=1.0, validator=_non_negative)
    ds_iter: int = attrs.field(default=100_000, validator=_positive)
    lr: float = attrs.field(default=1e-4, validator=_learning_rate)
    f_lr: float = attrs.field(default=1e-6, validator=_learning_rate)
    beta1: float = attrs.field(default=0.0, validator=_beta)
    beta2: float = attrs.field(default=0.99, validator=_beta)
    weight_decay: float = attrs.field(default=1e-4, validator=_non_negative)

    @property
    def width(self) -> int:
        """Channels of the first layer: ``dim_in``, or the reference's ``2**14 // image_size``."""
        return self.dim_in if self.dim_in is not None else max(1, 2**14 // self.image_size)

    def lambda_ds_at(self, step: int) -> float:
        """The diversity weight of global step ``step`` (0-based): ``lambda_ds`` falling linearly
        to 0 at ``ds_iter``, as the reference's per-iteration decrement (which it stops at 0)."""
        return self.lambda_ds * max(0.0, 1.0 - step / self.ds_iter)
