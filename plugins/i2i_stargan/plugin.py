"""Registers the ``stargan`` method (entry point ``stargan = "i2i_stargan.plugin"``).

``defaults`` are the paper's CelebA run (yunjey/stargan): 200k iterations with the rates
decaying linearly to zero over the last 100k, batch 16, 128 px. The reference preprocessing
(centre-crop 178x178 of the 178x218 photos, resize to 128, random flip) maps onto
``data.preprocess = "scale_width_and_crop"`` with ``load_size = image_size = 128``: the
width is scaled to 128 (the same scale as crop-then-resize) and a 128x128 square is cut; at
test time that cut is the centre, exactly the reference's, in training it is random (up to
~15 px vertical jitter the reference does not have). Square domain images (RaFD-style folders)
are simply resized.

``demo_defaults`` make ``i2i run --method stargan`` (no ``--data``, the built-in ``grades``
colour-grade domains) train in about five minutes on a 2-core CPU: 64 px, 16-wide nets, batch
8, 2500 steps. Within that budget the paper's rhythm (one G update per 5 critic steps at 1e-4)
gives G only 500 updates, enough to colour the domains apart but not to keep the content; the
demo therefore updates G every 2nd step at 2e-4 (1250 updates), which keeps it. Runs on real
data (``--data``) get the paper's n_critic = 5 and 1e-4.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator, Mapping

import attrs

import i2i
from i2i import (
    ComponentSpec,
    DiscriminatorSpec,
    GeneratorSpec,
    ImporterSpec,
    MethodSpec,
    hookimpl,
)
from i2i_stargan.config import HAIR_COLOURS, StarGANConfig, critic_depth
from i2i_stargan.importer import IMPORTER
from i2i_stargan.method import StarGAN
from i2i_stargan.nets import StarGANDiscriminator, StarGANGenerator


@hookimpl
def i2i_register_generators() -> Iterator[ComponentSpec]:
    yield GeneratorSpec(
        "stargan", StarGANGenerator, "StarGAN generator: ResNet conditioned on tiled domain labels, G(x, c)"
    )


@hookimpl
def i2i_register_discriminators() -> Iterator[ComponentSpec]:
    yield DiscriminatorSpec(
        "stargan", StarGANDiscriminator, "StarGAN discriminator: patch real/fake head + domain classifier"
    )


_opt = i2i.ReferenceOption


def _dataset(value: object, options: Mapping[str, Any]) -> dict[str, object]:
    """CelebA: the attribute list beside its images; RaFD: one folder per expression."""
    name = str(value)
    if name == "CelebA":
        found: dict[str, object] = {"data.layout": "attributes"}
        if "celeba_image_dir" in options:
            found["data.root"] = str(options["celeba_image_dir"])
        if "attr_path" in options:
            found["data.attribute_file"] = str(options["attr_path"])
        return found
    if name == "RaFD":
        return {
            "data.layout": "domains",
            **({"data.root": str(options["rafd_image_dir"])} if "rafd_image_dir" in options else {}),
        }
    raise ValueError("i2i trains on one dataset at a time (CelebA or RaFD), not 'Both'")


def _image_size(value: object, _options: object) -> dict[str, object]:
    size = _opt.as_int(value)
    return {"data.image_size": size, "data.load_size": size, "method.image_size": size}


def _decay(value: object, options: Mapping[str, Any]) -> dict[str, object]:
    return {"train.decay_fraction": _opt.as_int(value) / _opt.as_int(options.get("num_iters", 200_000))}


def _crop(value: object, _options: object) -> dict[str, object]:
    if _opt.as_int(value) != 178:
        raise ValueError("i2i scales CelebA's 178 px wide photos to image_size (the reference's 178 px centre crop)")
    return {}


def _celeba_paths(value: object, options: Mapping[str, Any]) -> dict[str, object]:
    if "dataset" not in options:  # the reference's default dataset is CelebA
        return _dataset("CelebA", options)
    return {}


_DIRS = "pass --out DIR to i2i run (samples, checkpoints and logs live there)"
#: yunjey/stargan ``main.py``'s options, for ``i2i config from-reference``.
REFERENCE = i2i.ReferenceSpec(
    code="yunjey/stargan",
    signature=("g_conv_dim", "d_conv_dim", "g_repeat_num", "d_repeat_num", "c_dim", "selected_attrs", "n_critic"),
    options={
        "c_dim": _opt.unmapped("i2i counts the domains from data.attributes"),
        "c2_dim": _opt.unmapped("i2i trains on one dataset at a time"),
        "celeba_crop_size": _opt.derived(_crop),
        "rafd_crop_size": _opt.unmapped("i2i resizes square domain images to image_size"),
        "image_size": _opt.derived(_image_size),
        "g_conv_dim": _opt.sets("method.g_conv_dim", _opt.as_int),
        "d_conv_dim": _opt.sets("method.d_conv_dim", _opt.as_int),
        "g_repeat_num": _opt.sets("method.g_repeat_num", _opt.as_int),
        "d_repeat_num": _opt.sets("method.d_repeat_num", _opt.as_int),
        "lambda_cls": _opt.sets("method.lambda_cls", _opt.as_float),
        "lambda_rec": _opt.sets("method.lambda_rec", _opt.as_float),
        "lambda_gp": _opt.sets("method.lambda_gp", _opt.as_float),
        "dataset": _opt.derived(_dataset),
        "batch_size": _opt.sets("train.batch_size", _opt.as_int),
        "num_iters": _opt.sets("train.steps", _opt.as_int),
        "num_iters_decay": _opt.derived(_decay),
        "g_lr": _opt.sets("method.g_lr", _opt.as_float),
        "d_lr": _opt.sets("method.d_lr", _opt.as_float),
        "n_critic": _opt.sets("method.n_critic", _opt.as_int),
        "beta1": _opt.sets("method.beta1", _opt.as_float),
        "beta2": _opt.sets("method.beta2", _opt.as_float),
        "resume_iters": _opt.unmapped("use i2i run --resume --out DIR"),
        "selected_attrs": _opt.sets("data.attributes", _opt.as_list),
        "list": _opt.sets("data.attributes", _opt.as_list),
        "test_iters": _opt.unmapped("i2i translate/eval take a checkpoint file"),
        "num_workers": _opt.sets("data.num_workers", _opt.as_int),
        "mode": _opt.unmapped("i2i run trains; i2i translate/eval test"),
        "use_tensorboard": _opt.unmapped("the TensorBoard tracker plugin logs runs"),
        "celeba_image_dir": _opt.derived(_celeba_paths),
        "attr_path": _opt.derived(lambda _v, _o: {}),  # read with --dataset / celeba_image_dir
        "rafd_image_dir": _opt.derived(lambda _v, _o: {}),  # read with --dataset RaFD
        "log_dir": _opt.unmapped(_DIRS),
        "model_save_dir": _opt.unmapped(_DIRS),
        "sample_dir": _opt.unmapped(_DIRS),
        "result_dir": _opt.unmapped(_DIRS),
        "log_step": _opt.sets("train.log_every", _opt.as_int),
        "sample_step": _opt.sets("train.sample_every", _opt.as_int),
        "model_save_step": _opt.sets("train.checkpoint_every", _opt.as_int),
        "lr_update_step": _opt.unmapped(
            "i2i decays the rates every step along the same line (the reference: a staircase)"
        ),
    },
)


def _check_channels(config: i2i.RunConfig, method: str) -> None:
    """One channel count serves both sides of a labelled set: a ``data.channels_b`` of another
    count would be ignored, so it is refused before the run."""
    data = config.data
    if data.channels_b is not None and data.channels_b != data.channels:
        raise i2i.ConfigError(
            f"data.channels_b: {method} translates labelled images with one channel count, data.channels "
            f"({data.channels}); got data.channels_b = {data.channels_b} (unset it)"
        )


def _check_exclusive(config: i2i.RunConfig) -> None:
    """A ``method.exclusive_attributes`` of the user's names labels, so a name that is not one
    of ``data.attributes`` (a typo: ``Blond_hair``) would do nothing, silently; it is refused.
    The default, the reference's four hair colours, may name one the data does not label (its
    paper attributes leave out ``Gray_Hair``). Several datasets (``data.sources``) label
    themselves, from their own files or folders, so their names are not known here."""
    exclusive, labels = config.method.exclusive_attributes, config.data.attributes
    unknown = [name for name in exclusive if name not in labels]
    if exclusive == HAIR_COLOURS or config.data.sources or not unknown:
        return
    close = difflib.get_close_matches(unknown[0], labels, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise i2i.ConfigError(
        f"method.exclusive_attributes: {unknown[0]!r} is not one of data.attributes ({', '.join(labels)}){hint}; "
        "an attribute that is not a label does nothing"
    )


def finalize(config: i2i.RunConfig, explicit: frozenset[str]) -> i2i.RunConfig:
    """The critic's depth follows ``method.image_size`` (:func:`~i2i_stargan.config.critic_depth`:
    6 at the reference's 128 px, 5 at 64) unless the user set ``method.d_repeat_num``; an
    explicit value, a config file's or a reference command line's, is kept as it is. Sizes and
    channels the networks cannot honour are errors, and so is ``method.lambda_keep`` without
    several datasets (it would do nothing). ``method.image_size`` follows the crop
    unless the user set it (:func:`i2i.fit_image_size`)."""
    _check_channels(config, "stargan")
    _check_exclusive(config)
    if config.method.lambda_keep > 0 and not config.data.sources:
        raise i2i.ConfigError(
            f"method.lambda_keep = {config.method.lambda_keep}: it keeps the other datasets' labels, "
            "so it needs several datasets (data.sources); set it to 0 for one dataset"
        )
    config = i2i.fit_image_size(config, explicit, sized="D's domain classifier")
    if "method.d_repeat_num" in explicit:
        return config
    depth = critic_depth(config.method.image_size)
    if depth == config.method.d_repeat_num:
        return config
    return attrs.evolve(config, method=attrs.evolve(config.method, d_repeat_num=depth))


@hookimpl
def i2i_register_methods() -> Iterator[MethodSpec]:
    yield MethodSpec(
        name="stargan",
        config=StarGANConfig,
        factory=StarGAN,
        data_kind=i2i.LABELLED,
        description="StarGAN (Choi et al. 2018): one generator for many domains/attributes, G(x, label)",
        defaults={
            "train.steps": 200_000,
            "train.decay_fraction": 0.5,
            "train.schedule": "linear",
            "train.batch_size": 16,
            "data.image_size": 128,
            "data.load_size": 128,
            "data.preprocess": "scale_width_and_crop",
            "data.flip": True,
            "method.image_size": 128,
        },
        demo_defaults={
            "train.steps": 2500,
            "train.batch_size": 8,
            "train.sample_every": 500,
            "train.checkpoint_every": 1000,
            "train.log_every": 100,
            "data.image_size": 64,
            "data.load_size": 64,
            "method.image_size": 64,
            "method.g_conv_dim": 16,
            "method.d_conv_dim": 16,
            "method.g_repeat_num": 3,
            "method.d_repeat_num": 5,
            "method.n_critic": 2,
            "method.g_lr": 2e-4,
            "method.d_lr": 2e-4,
        },
        finalize_config=finalize,
        reference=REFERENCE,
        # n_critic 1: the suite's few steps must step both optimizers (tests/test_stargan.py checks n_critic 5)
        test_overrides={
            "g_conv_dim": 8,
            "d_conv_dim": 8,
            "g_repeat_num": 1,
            "d_repeat_num": 3,
            "image_size": 32,
            "n_critic": 1,
        },
    )


@hookimpl
def i2i_register_importers() -> Iterator[ImporterSpec]:
    yield IMPORTER
