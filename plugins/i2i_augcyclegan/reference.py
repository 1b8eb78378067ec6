"""How ``i2i config from-reference`` reads the options of the authors' release.

The release (aalmah/augmented_cyclegan, ``edges2shoes_exp``) trains with ``python train.py
--dataroot ... --name ...``; ``options.py`` (``TrainOptions``) declares every option below and
writes them to ``checkpoints_dir/name/opt.txt`` as ``key: value`` rows, sorted by name, between
``------------ Options -------------`` and ``-------------- End ----------------`` rulers (its
``expr_dir`` and the ``gpu_ids`` list included) - a layout the core already parses.

Its ``--model aug_cycle_gan`` (the default) is the one-sided model: only domain B gets a latent
code, and the networks are the release's own. So every conversion also sets
``method.architecture = "release"`` and ``method.augment_a = false`` (``fixed``). The release's
other models (``cycle_gan``, ``stoch_cycle_gan``: no encoder) have no i2i counterpart here.
The release's argparse defaults are this plugin's paper defaults, so a command line that names
only a few options converts to the same experiment.
"""

from __future__ import annotations

from typing import Any, Mapping

import i2i

_opt = i2i.ReferenceOption
_JUNYANZ = i2i.JUNYANZ_OPTIONS  # the release's data/device options are the junyanz code's
_SUP_DEFAULT = 0.1  # the release's default of both lambda_sup_A and lambda_sup_B


def _seed(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    return {} if str(value) == "None" else {"train.seed": _opt.as_int(value)}


def _ndf(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    """``define_LAT_D(..., ndf=opt.ndf)``: the latent discriminator is as wide as ``D_B``."""
    ndf = _opt.as_int(value)
    return {"method.ndf": ndf, "method.ndf_latent": ndf}


def _norm(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    if str(value) != "instance":  # define_G gives G_B_A the same norm; the release G_BA here is instance-normed
        raise ValueError("i2i's release networks keep G_B_A's instance norm; only --norm instance converts")
    return {"method.norm_d": "instance"}


def _dropout(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    if _opt.as_bool(value):
        raise ValueError("i2i's release networks have no dropout in their residual blocks")
    return {"method.use_dropout": False}


def _encoder_inputs(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    if not _opt.as_bool(value):
        raise ValueError("i2i's encoder always sees both images (the release's default --enc_A_B 1)")
    return {}


def _sup_weight(_value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """``lambda_sup_A`` and ``lambda_sup_B`` become i2i's one ``lambda_sup`` (both directions)."""
    a = _opt.as_float(options.get("lambda_sup_A", _SUP_DEFAULT))
    b = _opt.as_float(options.get("lambda_sup_B", _SUP_DEFAULT))
    if a != b:
        raise ValueError(f"i2i weighs both supervised directions with one method.lambda_sup; got {a} and {b}")
    return {"method.lambda_sup": a}


def _log_every(value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """``total_steps += opt.batchSize``: ``print_freq`` counts images, i2i's ``log_every`` steps."""
    batch = _opt.as_int(options.get("batchSize", 32))
    return {"train.log_every": max(1, _opt.as_int(value) // max(batch, 1))}


_IGNORED = "the release ignores it (its networks are fixed; method.architecture = 'release' builds them)"
_LOGGING = "i2i reports in the run folder (index.html, metrics.jsonl) instead of the release's image dumps"

#: Every option of the release's ``TrainOptions`` (and the ``expr_dir`` it adds to opt.txt).
OPTIONS: Mapping[str, i2i.ReferenceOption] = {
    "dataroot": _opt.sets("data.root"),
    "name": _JUNYANZ["name"],  # out = checkpoints_dir/name
    "checkpoints_dir": _JUNYANZ["checkpoints_dir"],
    "expr_dir": _opt.derived(lambda _v, _o: {}),  # checkpoints_dir/name again
    "input_nc": _JUNYANZ["input_nc"],
    "output_nc": _JUNYANZ["output_nc"],
    "numpy_data": _opt.unmapped(
        "i2i reads image folders: point data.root at the trainA/ trainB/ valA/ valB/ folders "
        "create_edges2shoes_np.py makes the .npy files from (i2i resizes them to 64 px as it did)"
    ),
    "seed": _opt.derived(_seed),
    "model": _opt.derived(lambda _v, _o: {}),  # selects the method; the one-sided structure is `fixed`
    "gpu_ids": _JUNYANZ["gpu_ids"],
    "supervised": _opt.sets("method.supervised", _opt.as_bool),
    "sup_frac": _opt.unmapped(
        "i2i pairs every batch row whose A and B file names share a stem; give only that fraction matching stems"
    ),
    "lambda_sup_A": _opt.derived(_sup_weight),
    "lambda_sup_B": _opt.derived(_sup_weight),
    "batchSize": _opt.sets("train.batch_size", _opt.as_int),
    "continue_train": _JUNYANZ["continue_train"],
    "which_epoch": _opt.unmapped("i2i run --resume continues from last.pt; translate/eval take a checkpoint file"),
    "epoch_count": _JUNYANZ["epoch_count"],
    "niter": _opt.sets("train.epochs", _opt.as_int),
    "niter_decay": _opt.sets("train.epochs_decay", _opt.as_int),
    "beta1": _opt.sets("method.beta1", _opt.as_float),
    "lr": _opt.sets("method.lr", _opt.as_float),  # the discriminators' lr / 5 is method.lr_d's default
    "ngf": _opt.sets("method.ngf", _opt.as_int),
    "nef": _opt.sets("method.nef", _opt.as_int),
    "ndf": _opt.derived(_ndf),
    "nlatent": _opt.sets("method.nlatent", _opt.as_int),
    "which_model_netD": _opt.unmapped(_IGNORED),
    "which_model_netG": _opt.unmapped(_IGNORED),
    "norm": _opt.derived(_norm),
    "use_dropout": _opt.derived(_dropout),
    "max_gnorm": _opt.sets("train.grad_clip", _opt.as_float),  # i2i clips per optimizer, the release per network
    "stoch_enc": _opt.sets("method.stochastic_encoder", _opt.as_bool),
    "z_gan": _opt.sets("method.latent_gan", _opt.as_bool),
    "enc_A_B": _opt.derived(_encoder_inputs),
    "no_lsgan": _opt.derived(lambda v, _o: {"method.gan_mode": "vanilla" if _opt.as_bool(v) else "lsgan"}),
    "lambda_A": _opt.sets("method.lambda_cycle_a", _opt.as_float),
    "lambda_B": _opt.sets("method.lambda_cycle_b", _opt.as_float),
    "lambda_z_B": _opt.sets("method.lambda_latent", _opt.as_float),
    "monitor_gnorm": _opt.unmapped("i2i logs the losses; gradient norms are not logged"),
    "display_freq": _opt.unmapped(_LOGGING),
    "print_freq": _opt.derived(_log_every),
    "save_epoch_freq": _opt.unmapped("i2i checkpoints into --out every train.checkpoint_every steps"),
    "num_multi": _opt.unmapped("samples per input: i2i translate --samples K, i2i eval's samples setting"),
    "eval_A_freq": _opt.unmapped("i2i evaluates at the end of a run (train.eval_at_end) and with i2i eval"),
    "eval_B_freq": _opt.unmapped("i2i evaluates at the end of a run (train.eval_at_end) and with i2i eval"),
}

REFERENCE = i2i.ReferenceSpec(
    code="aalmah/augmented_cyclegan",
    model="aug_cycle_gan",
    signature=("nlatent", "lambda_z_B", "nef", "z_gan", "enc_A_B", "stoch_enc", "max_gnorm", "numpy_data"),
    options=OPTIONS,
    fixed={"method.architecture": "release", "method.augment_a": False},
)
