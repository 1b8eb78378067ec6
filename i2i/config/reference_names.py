"""The reference code's option names and where each lives in an i2i run config.

Users of junyanz/pytorch-CycleGAN-and-pix2pix and yunjey/stargan know the knobs by the
reference's names (``--crop_size``, ``--n_epochs``, ``--no_flip``); i2i keeps those names
where they are a method's own (``method.lambda_A``) and files the rest in ``[data]`` and
``[train]``. This table lets "did you mean" answer a reference name
(``data.crop_size: unknown key; did you mean 'image_size' (the reference crop_size)?``) and
feeds the configuration reference in ``docs/config.md``.
"""

from __future__ import annotations

import difflib
from typing import Iterable

#: reference option -> the i2i key (or flag) that holds it; options a method keeps under its
#: own name (``ngf``, ``netG``, ``lambda_A``, ``g_conv_dim`` ...) are not listed.
REFERENCE_OPTIONS: dict[str, str] = {
    # junyanz/pytorch-CycleGAN-and-pix2pix
    "dataroot": "data.root",
    "dataset_mode": "data.layout",
    "direction": "data.direction",
    "crop_size": "data.image_size",
    "load_size": "data.load_size",
    "preprocess": "data.preprocess",
    "no_flip": "data.flip",
    "input_nc": "data.channels",
    "output_nc": "data.channels_b",
    "max_dataset_size": "data.max_dataset_size",
    "serial_batches": "data.serial_batches",
    "num_threads": "data.num_workers",
    "batch_size": "train.batch_size",
    "batchSize": "train.batch_size",  # older junyanz code, the Augmented CycleGAN release
    "max_gnorm": "train.grad_clip",
    "n_epochs": "train.epochs",
    "niter": "train.epochs",
    "n_epochs_decay": "train.epochs_decay",
    "niter_decay": "train.epochs_decay",
    "lr_policy": "train.schedule",
    "lr_decay_iters": "train.step_size",
    "gpu_ids": "train.device",
    "print_freq": "train.log_every",
    "display_freq": "train.sample_every",
    "save_latest_freq": "train.checkpoint_every",
    "save_epoch_freq": "train.checkpoint_every",
    "continue_train": "--resume",
    "epoch_count": "--resume",
    "model": "method.name",
    "name": "out",
    "checkpoints_dir": "out",
    "no_dropout": "method.use_dropout",
    # yunjey/stargan
    "image_size": "data.image_size",
    "selected_attrs": "data.attributes",
    "attr_path": "data.attribute_file",
    "celeba_image_dir": "data.root",
    "rafd_image_dir": "data.root",
    "dataset": "data.layout",
    "num_iters": "train.steps",
    "num_iters_decay": "train.decay_fraction",
    "resume_iters": "--resume",
    "log_step": "train.log_every",
    "sample_step": "train.sample_every",
    "model_save_step": "train.checkpoint_every",
    "num_workers": "data.num_workers",
}


def reference_names(key: str) -> list[str]:
    """The reference options that ``key`` (``data.image_size``) corresponds to."""
    return [ref for ref, target in REFERENCE_OPTIONS.items() if target == key]


def unknown_key_hint(key: str, fields: Iterable[str], table: str) -> str:
    """``"; did you mean ..."`` for an unknown ``table.key``, or ``""``.

    A reference option name wins over spelling similarity: ``data.crop_size`` suggests
    ``image_size``, ``method.n_epochs`` points at ``train.epochs``.
    """
    fields = list(fields)
    target = REFERENCE_OPTIONS.get(key)
    if target is not None and target != f"{table}.{key}":
        where, _, name = target.partition(".")
        if where == table and name in fields:
            return f"; did you mean {name!r} (the reference {key})?"
        if target.startswith("--"):
            return f"; the reference {key} is the {target} flag"
        if where != "method":  # a method key only exists for the methods that have it
            return f"; the reference {key} is {target}"
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
