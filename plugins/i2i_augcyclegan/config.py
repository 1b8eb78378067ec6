"""The ``[method]`` table of an Augmented CycleGAN run.

Defaults follow the paper's edges2shoes setup and the original release's options
(``lambda_A = lambda_B = 1``, ``lambda_z_B = 0.025``, ``nlatent = 16``, ``ngf = nef = 32``,
``ndf = 64``, deterministic encoder conditioned on both images, GAN on the latent codes).
The training length, batch size and gradient-norm clip live in ``[train]`` (see
``plugin.py``), because the trainer owns them.
"""

from __future__ import annotations

import attrs

from i2i import INIT_TYPES, NORMS, at_least, between, component_field, more_than, one_of

#: Norms of the latent-code discriminator (1-d features: no instance norm).
LATENT_NORMS = ("batch", "syncbatch", "none")

_positive = at_least(1)
_non_negative = at_least(0.0)
_unit = between(0.0, 1.0, high_open=True)
ARCHITECTURES = ("i2i", "release")
_architecture = one_of(*ARCHITECTURES)


@attrs.frozen
class AugCycleGANConfig:
    """Networks, loss weights and optimiser settings of Augmented CycleGAN.

    ``augment_a`` / ``augment_b``: whether domain A / B gets a latent code (a stochastic
    mapping into it, an encoder and a latent discriminator). Turning ``augment_a`` off gives
    the original release's one-sided model, where B -> A is deterministic (its generator sees
    a constant code) and only A -> B is many-to-many (the networks differ from the release's
    in the ways :mod:`i2i_augcyclegan.method` lists).

    ``stochastic_encoder``: the encoders output a Gaussian (mu, logvar); the latent cycle
    becomes the NLL of the prior code and a KL term (weight ``lambda_latent``) replaces the
    latent GAN, as in the release's ``--stoch_enc``.

    ``supervised``: semi-supervised training - rows of a batch whose A and B file names have
    the same stem are treated as aligned pairs and add ``lambda_sup`` * L1 of each direction
    (the release's ``supervised_train_instance``, folded into the same step).

    ``lr_d``: discriminator learning rate; unset means ``lr / 5`` as in the release.

    ``architecture``: ``"i2i"`` builds the networks from i2i's CycleGAN-style blocks (any
    image size that is a multiple of 4); ``"release"`` builds the authors' release networks
    layer for layer (:mod:`i2i_augcyclegan.release_nets`; 64 px images, ``D_A`` with 32
    filters, ``n_layers_d`` unused), with a plain ResNet ``G_BA`` when ``augment_a`` is off.

    ``gan_mode = "wgangp"`` adds the WGAN-GP gradient penalty (weight ``lambda_gp``) of every
    critic - the image discriminators and the latent ones - to the discriminator loss, as
    CycleGAN and pix2pix do; a critic with batch norm (``norm_latent_d = "batch"``) mixes the
    samples the penalty treats one by one, so pair wgangp with ``norm_latent_d = "none"``.
    """

    architecture: str = attrs.field(default="i2i", validator=_architecture)
    ngf: int = attrs.field(default=32, validator=_positive)
    nef: int = attrs.field(default=32, validator=_positive)
    ndf: int = attrs.field(default=64, validator=_positive)
    ndf_latent: int = attrs.field(default=64, validator=_positive)
    nlatent: int = attrs.field(default=16, validator=_positive)
    n_blocks: int = attrs.field(default=3, validator=_positive)
    n_layers_d: int = attrs.field(default=3, validator=_positive)
    norm_d: str = attrs.field(default="instance", validator=one_of(*NORMS))
    norm_encoder: str = attrs.field(default="batch", validator=one_of(*NORMS))
    norm_latent_d: str = attrs.field(default="batch", validator=one_of(*LATENT_NORMS))
    use_dropout: bool = False
    init_type: str = attrs.field(default="normal", validator=one_of(*INIT_TYPES))
    init_gain: float = attrs.field(default=0.02, validator=more_than(0.0))

    augment_a: bool = True
    augment_b: bool = True
    stochastic_encoder: bool = False
    latent_gan: bool = True

    gan_mode: str = component_field("loss", "lsgan")  # any registered GAN objective, a plugin's too
    lambda_cycle_a: float = attrs.field(default=1.0, validator=_non_negative)
    lambda_cycle_b: float = attrs.field(default=1.0, validator=_non_negative)
    lambda_latent: float = attrs.field(default=0.025, validator=_non_negative)
    supervised: bool = False
    lambda_sup: float = attrs.field(default=0.1, validator=_non_negative)
    lambda_gp: float = attrs.field(default=10.0, validator=_non_negative)

    lr: float = attrs.field(default=2e-4, validator=more_than(0.0))
    lr_d: float | None = attrs.field(default=None, validator=more_than(0.0))
    beta1: float = attrs.field(default=0.5, validator=_unit)
    beta2: float = attrs.field(default=0.999, validator=_unit)

    @property
    def discriminator_lr(self) -> float:
        return self.lr / 5.0 if self.lr_d is None else self.lr_d
