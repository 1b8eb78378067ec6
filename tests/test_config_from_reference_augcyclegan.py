"""``i2i config from-reference`` for the authors' Augmented CycleGAN release
(aalmah/augmented_cyclegan, ``edges2shoes_exp``): its ``opt.txt`` and command lines become i2i
configs of the release's one-sided model and networks, and ``i2i run --config`` runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.config.from_reference import convert_reference

#: ``vars(opt)`` of the release's ``TrainOptions().parse()`` for its README's command
#: ``python train.py --dataroot ../datasets/edges2shoes/ --name augcgan_model``: argparse's
#: defaults from ``edges2shoes_exp/options.py``, ``gpu_ids`` already turned into a list of ints
#: and ``expr_dir`` (``os.path.join(checkpoints_dir, name)``) added, as they are when it writes opt.txt.
RELEASE_DEFAULTS = {
    "dataroot": "../datasets/edges2shoes/",
    "name": "augcgan_model",
    "checkpoints_dir": "./checkpoints/",
    "input_nc": 3,
    "output_nc": 3,
    "numpy_data": 1,
    "seed": None,
    "model": "aug_cycle_gan",
    "gpu_ids": [0],
    "supervised": False,
    "sup_frac": 0.1,
    "lambda_sup_A": 0.1,
    "lambda_sup_B": 0.1,
    "batchSize": 32,
    "continue_train": False,
    "which_epoch": "latest",
    "epoch_count": 1,
    "niter": 25,
    "niter_decay": 25,
    "beta1": 0.5,
    "lr": 0.0002,
    "ngf": 32,
    "nef": 32,
    "ndf": 64,
    "nlatent": 16,
    "which_model_netD": "basic",
    "which_model_netG": "resnet",
    "norm": "instance",
    "use_dropout": False,
    "max_gnorm": 500.0,
    "stoch_enc": False,
    "z_gan": 1,
    "enc_A_B": 1,
    "no_lsgan": False,
    "lambda_A": 1.0,
    "lambda_B": 1.0,
    "lambda_z_B": 0.025,
    "monitor_gnorm": True,
    "display_freq": 5000,
    "print_freq": 100,
    "save_epoch_freq": 5,
    "num_multi": 10,
    "eval_A_freq": 1,
    "eval_B_freq": 1,
    "expr_dir": "./checkpoints/augcgan_model",
}


def release_opt_txt(args: dict) -> str:
    """The opt.txt ``TrainOptions.parse`` writes (edges2shoes_exp/options.py), line for line:
    a ruler, ``'%s: %s' % (str(k), str(v))`` for ``sorted(args.items())``, a ruler."""
    text = "------------ Options -------------\n"
    for k, v in sorted(args.items()):
        text += "%s: %s\n" % (str(k), str(v))  # noqa: UP031 - the release's own format
    return text + "-------------- End ----------------\n"


def test_the_releases_default_opt_txt_is_the_paper_setup_with_its_networks():
    config, conversion = convert_reference(release_opt_txt(RELEASE_DEFAULTS))
    m, d, t = config.method, config.data, config.train
    assert config.method_name == "augcyclegan" and conversion.method == "augcyclegan"
    assert (m.architecture, m.augment_a, m.augment_b) == ("release", False, True)  # the one-sided release model
    assert (m.ngf, m.nef, m.ndf, m.ndf_latent, m.nlatent) == (32, 32, 64, 64, 16)
    assert (m.lambda_cycle_a, m.lambda_cycle_b, m.lambda_latent, m.gan_mode) == (1.0, 1.0, 0.025, "lsgan")
    assert (m.stochastic_encoder, m.latent_gan, m.supervised, m.lambda_sup, m.use_dropout) == (
        False,
        True,
        False,
        0.1,
        False,
    )
    assert (m.lr, m.discriminator_lr, m.beta1, m.norm_d) == (2e-4, 2e-4 / 5, 0.5, "instance")
    assert (d.root, d.channels, d.channels_b, d.image_size) == ("../datasets/edges2shoes/", 3, 3, 64)
    assert (t.batch_size, t.epochs, t.epochs_decay, t.grad_clip, t.device, t.log_every) == (
        32,
        25,
        25,
        500.0,
        "auto",
        3,
    )
    assert config.out == "checkpoints/augcgan_model"
    unmapped = dict(conversion.unmapped)
    assert set(unmapped) == {  # with no i2i equivalent, each with a reason; every other option carries over
        "numpy_data",
        "sup_frac",
        "which_epoch",
        "which_model_netD",
        "which_model_netG",
        "monitor_gnorm",
        "display_freq",
        "save_epoch_freq",
        "num_multi",
        "eval_A_freq",
        "eval_B_freq",
        "continue_train",
        "epoch_count",
    }
    assert all(unmapped.values()) and conversion.unknown == []


def test_non_default_release_options_carry_over():
    opt = {
        **RELEASE_DEFAULTS,
        "seed": 7,
        "gpu_ids": [],  # --gpu_ids -1: the CPU
        "no_lsgan": True,
        "stoch_enc": True,
        "z_gan": 0,
        "supervised": True,
        "lambda_sup_A": 0.3,
        "lambda_sup_B": 0.3,
        "ndf": 48,
        "batchSize": 16,
        "print_freq": 320,
        "lambda_z_B": 0.5,
        "max_gnorm": 50.0,
    }
    config, _ = convert_reference(release_opt_txt(opt))
    m, t = config.method, config.train
    assert (t.seed, t.device, t.batch_size, t.log_every, t.grad_clip) == (7, "cpu", 16, 20, 50.0)
    assert (m.gan_mode, m.stochastic_encoder, m.latent_gan, m.supervised, m.lambda_sup) == (
        "vanilla",
        True,
        False,
        True,
        0.3,
    )
    assert (m.ndf, m.ndf_latent, m.lambda_latent) == (48, 48, 0.5)


def test_a_release_command_line_is_recognised_by_its_own_options():
    config, conversion = convert_reference("python train.py --dataroot ./edges2shoes --name shoes --nlatent 8")
    assert config.method_name == "augcyclegan" and config.method.nlatent == 8
    assert (config.method.architecture, config.method.augment_a) == ("release", False)
    assert config.out == "checkpoints/shoes" and not conversion.unknown


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("--norm batch", "--norm 'batch': i2i's release networks keep G_B_A's instance norm"),
        ("--use_dropout", "--use_dropout 'True': i2i's release networks have no dropout"),
        ("--lambda_sup_A 0.2", "one method.lambda_sup; got 0.2 and 0.1"),
        ("--enc_A_B 0", "--enc_A_B '0': i2i's encoder always sees both images"),
    ],
)
def test_release_options_i2i_cannot_reproduce_are_one_error_line(option, needle, capsys):
    line = f"python train.py --dataroot d --name n --model aug_cycle_gan {option}"
    with pytest.raises(SystemExit) as info:
        main(["config", "from-reference", "--", *line.split()])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and needle in err, err


def _edges2shoes(root: Path) -> Path:
    """The layout the release's image loader reads: trainA/ trainB/ valA/ valB/, 64 px."""
    rng = np.random.default_rng(0)
    for folder in ("trainA", "trainB", "valA", "valB"):
        (root / folder).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / folder / f"{i}_AB.jpg")
    return root


def test_release_opt_txt_through_the_cli_and_i2i_run_runs_it(tmp_path: Path, capsys):
    root = _edges2shoes(tmp_path / "edges2shoes")
    opt = {
        **RELEASE_DEFAULTS,
        "dataroot": str(root),
        "name": "tiny",
        "checkpoints_dir": str(tmp_path / "checkpoints"),
        "expr_dir": str(tmp_path / "checkpoints" / "tiny"),
        "numpy_data": 0,
        "gpu_ids": [],
        "batchSize": 2,
        **{"ngf": 8, "nef": 8, "ndf": 8, "nlatent": 4},
    }
    (tmp_path / "opt.txt").write_text(release_opt_txt(opt))
    out = tmp_path / "tiny.toml"
    with pytest.raises(SystemExit) as info:
        main(["config", "from-reference", str(tmp_path / "opt.txt"), "-o", str(out)])
    assert info.value.code in (0, None)
    assert "not carried over: --numpy_data:" in capsys.readouterr().err
    cfg = i2i.load_config(out)
    assert (cfg.method_name, cfg.method.architecture, cfg.method.ngf, cfg.train.device) == (
        "augcyclegan",
        "release",
        8,
        "cpu",
    )
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main(["run", "--config", str(out), "--steps", "1", "--out", str(run), "--set", "data.num_workers=0"])
    assert info.value.code in (0, None)
    assert (run / "last.pt").is_file()
    translator = i2i.load_checkpoint(run / "last.pt")
    assert type(translator.method.G_BA).__name__ == "ReleaseResnetGenerator"  # the release's plain G_B_A
