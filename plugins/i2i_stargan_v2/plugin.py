"""Registers the ``stargan_v2`` method (entry point ``stargan_v2 = "i2i_stargan_v2.plugin"``) and
the ``stargan-v2-ref`` importer of clovaai/stargan-v2 checkpoints (:mod:`.importer`).

``defaults`` are the reference's (clovaai/stargan-v2 ``main.py``, AFHQ / CelebA-HQ): 100k
iterations at a constant rate, batch 8, 256 px images resized (not cropped) and randomly
flipped, EMA 0.999 of G, F and E from the first step (no warm-up; the reference's averages start
from copies of the networks before its He initialisation, i2i's from the initialised networks:
after 100k steps at 0.999 the start no longer counts). Not reproduced: the reference's random-resized crop (scale
0.8-1, half the time) and its domain-balanced sampler (i2i samples the training set uniformly),
and the face high-pass (``w_hpf``, which needs the pretrained wing/FAN landmark network).

``demo_defaults`` make ``i2i run --method stargan_v2`` (no ``--data``) a run of minutes on a
CPU: the built-in ``subjects`` demo (four domains, one per shipped photo: astronaut, cat, coffee,
rocket; like AFHQ's animals, the domain is the subject, so a translation changes colours and
textures while many looks fit one domain), 64 px, a network 32 channels wide at the top and 64
at the bottom, batch 8, 800 steps (each two D and two G updates) in the fast path's precision,
rate 3e-4 for every network including the mapping network (1e-4, and 1e-6 for F, move too
little in a short run), the diversity term at weight 4 decayed over ten times the run (3.6 at
its end: at weight 2 two latent codes gave near-identical samples), and the EMA decay warmed up
(``min(0.999, (1 + step) / (10 + step))``). docs/stargan_v2.md has the measured figures and the
earlier demos (``grades`` at 64 px, ``tones`` at 32 px) that showed little domain change.
"""

from __future__ import annotations

from collections.abc import Iterator

import i2i
from i2i import ImporterSpec, MethodSpec, hookimpl

from .config import StarGANv2Config
from .importer import IMPORTER
from .method import StarGANv2

PAPER_DEFAULTS = {
    "train.steps": 100_000,
    "train.batch_size": 8,
    "train.schedule": "constant",
    "train.ema": 0.999,
    "train.ema_warmup": False,  # the reference averages with 0.999 from the first iteration
    "train.sample_every": 5000,
    "train.checkpoint_every": 10_000,
    "data.image_size": 256,
    "data.load_size": 256,
    "data.preprocess": "resize_and_crop",
    "data.flip": True,
    "method.image_size": 256,
}

DEMO_STEPS = 800
DEMO_DEFAULTS = {
    "data.demo": "subjects",
    "train.steps": DEMO_STEPS,
    "train.batch_size": 8,
    "train.ema_warmup": True,
    "train.sample_every": 200,
    "train.checkpoint_every": 400,
    "train.log_every": 50,
    "data.image_size": 64,
    "data.load_size": 64,
    "method.image_size": 64,
    "method.dim_in": 32,
    "method.max_conv_dim": 64,
    "method.hidden_dim": 64,
    "method.style_dim": 16,
    "method.lr": 3e-4,
    "method.f_lr": 3e-4,
    "method.lambda_ds": 4.0,
    "method.ds_iter": 10 * DEMO_STEPS,
}

#: 32 px, 8 channels wide: the conformance suite runs every check in seconds.
TEST_OVERRIDES = {"image_size": 32, "dim_in": 8, "max_conv_dim": 16, "hidden_dim": 16, "style_dim": 8, "latent_dim": 4}


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """What the networks cannot honour, refused before the run: one channel count serves every
    domain (a ``data.channels_b`` of another would be ignored), and ``method.image_size`` sizes
    the style encoder and discriminator, so it follows the crop unless the user set it, and
    set to another size is an error (:func:`i2i.fit_image_size`; it failed at the first step)."""
    data = config.data
    if data.channels_b is not None and data.channels_b != data.channels:
        raise i2i.ConfigError(
            f"data.channels_b: stargan_v2 translates labelled images with one channel count, data.channels "
            f"({data.channels}); got data.channels_b = {data.channels_b} (unset it)"
        )
    return i2i.fit_image_size(config, explicit, sized="the style encoder and discriminator")


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="stargan_v2",
        config=StarGANv2Config,
        factory=StarGANv2,
        data_kind=i2i.LABELLED,
        description="StarGAN v2 (Choi et al. 2020): diverse multi-domain translation, styles from latent codes or reference images",
        defaults=PAPER_DEFAULTS,
        demo_defaults=DEMO_DEFAULTS,
        test_overrides=TEST_OVERRIDES,
        finalize_config=finalize,
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
