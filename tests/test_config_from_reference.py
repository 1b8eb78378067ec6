"""``i2i config from-reference``: the reference's command lines and option files become i2i
configs that ``i2i run --config`` runs. Option files are written here exactly as the reference's
``BaseOptions.print_options`` writes ``train_opt.txt`` (junyanz/pytorch-CycleGAN-and-pix2pix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.config.from_reference import (
    convert_reference,
    parse_command_line,
    parse_option_file,
)

#: The reference's parser defaults for ``--model pix2pix`` in training (base + train options,
#: after pix2pix's ``modify_commandline_options``), as ``vars(opt)`` holds them.
PIX2PIX_DEFAULTS = {
    "batch_size": 1,
    "beta1": 0.5,
    "checkpoints_dir": "./checkpoints",
    "continue_train": False,
    "crop_size": 256,
    "dataroot": None,
    "dataset_mode": "aligned",
    "direction": "AtoB",
    "display_env": "main",
    "display_freq": 400,
    "display_id": 1,
    "display_ncols": 4,
    "display_port": 8097,
    "display_server": "http://localhost",
    "display_winsize": 256,
    "epoch": "latest",
    "epoch_count": 1,
    "gan_mode": "vanilla",
    "gpu_ids": "0",
    "init_gain": 0.02,
    "init_type": "normal",
    "input_nc": 3,
    "isTrain": True,
    "lambda_L1": 100.0,
    "load_iter": 0,
    "load_size": 286,
    "lr": 0.0002,
    "lr_decay_iters": 50,
    "lr_policy": "linear",
    "max_dataset_size": float("inf"),
    "model": "pix2pix",
    "n_epochs": 100,
    "n_epochs_decay": 100,
    "n_layers_D": 3,
    "name": "experiment_name",
    "ndf": 64,
    "netD": "basic",
    "netG": "unet_256",
    "ngf": 64,
    "no_dropout": False,
    "no_flip": False,
    "no_html": False,
    "norm": "batch",
    "num_threads": 4,
    "output_nc": 3,
    "phase": "train",
    "pool_size": 0,
    "preprocess": "resize_and_crop",
    "print_freq": 100,
    "save_by_iter": False,
    "save_epoch_freq": 5,
    "save_latest_freq": 5000,
    "serial_batches": False,
    "suffix": "",
    "update_html_freq": 1000,
    "use_wandb": False,
    "verbose": False,
    "wandb_project_name": "CycleGAN-and-pix2pix",
}


def print_options(opt: dict, defaults: dict) -> str:
    """``BaseOptions.print_options``'s message, line for line."""
    message = "----------------- Options ---------------\n"
    for k, v in sorted(opt.items()):
        comment = ""
        default = defaults.get(k)
        if v != default:
            comment = "\t[default: %s]" % str(default)  # noqa: UP031 - the reference's own print_options format
        message += f"{str(k):>25}: {str(v):<30}{comment}\n"
    message += "----------------- End -------------------"
    return message + "\n"


def test_the_print_options_layout_parses_back_to_the_values():
    opt = {**PIX2PIX_DEFAULTS, "dataroot": "./datasets/facades", "direction": "BtoA", "name": "facades label2photo"}
    parsed = parse_option_file(print_options(opt, PIX2PIX_DEFAULTS))
    assert parsed["dataroot"] == "./datasets/facades" and parsed["direction"] == "BtoA"
    assert parsed["name"] == "facades label2photo"  # a value with a space, padded to 30 columns
    assert parsed["max_dataset_size"] == "inf" and parsed["no_flip"] == "False" and set(parsed) == set(opt)


def test_pix2pix_train_opt_txt_converts_every_option_with_an_equivalent(tmp_path: Path):
    opt = {
        **PIX2PIX_DEFAULTS,
        "dataroot": "./datasets/facades",
        "direction": "BtoA",
        "name": "facades_pix2pix",
        "gpu_ids": "-1",
        "no_flip": True,
        "lr_policy": "step",
        "lr_decay_iters": 30,
        "batch_size": 4,
        "print_freq": 400,
        "netD": "n_layers",
        "n_layers_D": 4,
    }
    config, conversion = convert_reference(print_options(opt, PIX2PIX_DEFAULTS))
    m, d, t = config.method, config.data, config.train
    assert config.method_name == "pix2pix" and conversion.method == "pix2pix"
    assert (m.netG, m.netD, m.n_layers_D, m.norm, m.use_dropout, m.gan_mode, m.lambda_L1) == (
        "unet_256",
        "n_layers",
        4,
        "batch",
        True,
        "vanilla",
        100.0,
    )
    assert (m.ngf, m.ndf, m.init_type, m.init_gain, m.lr, m.beta1) == (64, 64, "normal", 0.02, 2e-4, 0.5)
    assert (d.root, d.layout, d.direction, d.image_size, d.load_size, d.flip, d.preprocess) == (
        "./datasets/facades",
        "aligned",
        "BtoA",
        256,
        286,
        False,
        "resize_and_crop",
    )
    assert (d.channels, d.channels_b, d.num_workers, d.max_dataset_size, d.serial_batches) == (3, 3, 4, None, False)
    assert (t.epochs, t.epochs_decay, t.schedule, t.step_size, t.batch_size, t.device) == (
        100,
        100,
        "step",
        30,
        4,
        "cpu",
    )
    assert t.log_every == 100  # print_freq counts images: 400 / batch 4
    unmapped = dict(conversion.unmapped)
    assert {"display_id", "save_epoch_freq", "continue_train"} <= set(unmapped)
    assert config.out == "checkpoints/facades_pix2pix"  # the reference's checkpoints_dir/name
    assert all(why for why in unmapped.values()) and conversion.unknown == []


CYCLEGAN_LINE = (
    "python train.py --dataroot ./datasets/horse2zebra --name horse2zebra --model cycle_gan "
    "--netG unet_256 --lambda_identity 0"
)


def test_cyclegan_command_line_from_the_issue():
    config, conversion = convert_reference(CYCLEGAN_LINE)
    assert config.method_name == "cyclegan"
    assert (config.method.netG, config.method.lambda_identity, config.data.root) == (
        "unet_256",
        0.0,
        "./datasets/horse2zebra",
    )
    assert (
        config.method.lambda_A == 10.0 and config.method.gan_mode == "lsgan"
    )  # reference defaults = i2i's paper defaults
    assert config.out == "checkpoints/horse2zebra" and not conversion.unmapped  # every option carried over


def test_without_model_train_py_is_the_references_default_model():
    config, _ = convert_reference("python train.py --dataroot ./datasets/horse2zebra")
    assert config.method_name == "cyclegan"


def test_command_line_flags_and_lists():
    script, options = parse_command_line("python main.py --use_tensorboard False --no_flip --selected_attrs A B --k=v")
    assert script == "main.py"
    assert options == {"use_tensorboard": "False", "no_flip": "True", "selected_attrs": ["A", "B"], "k": "v"}


STARGAN_README = (
    "python main.py --mode train --dataset CelebA --image_size 128 --c_dim 5 "
    "--sample_dir stargan_celeba/samples --log_dir stargan_celeba/logs "
    "--model_save_dir stargan_celeba/models --result_dir stargan_celeba/results "
    "--selected_attrs Black_Hair Blond_Hair Brown_Hair Male Young"
)


def test_stargan_main_py_command_line():
    config, conversion = convert_reference(STARGAN_README)
    assert config.method_name == "stargan"
    assert config.data.attributes == ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    assert (config.data.layout, config.data.image_size, config.method.image_size) == ("attributes", 128, 128)
    assert {"c_dim", "sample_dir", "mode"} <= dict(conversion.unmapped).keys()


def test_stargan_namespace_printout():
    text = (
        "Namespace(attr_path='data/celeba/list_attr_celeba.txt', batch_size=16, beta1=0.5, beta2=0.999, c2_dim=8, "
        "c_dim=5, celeba_crop_size=178, celeba_image_dir='data/celeba/images', d_conv_dim=64, d_lr=0.0001, "
        "d_repeat_num=6, dataset='CelebA', g_conv_dim=64, g_lr=0.0001, g_repeat_num=6, image_size=128, "
        "lambda_cls=1, lambda_gp=10, lambda_rec=10, log_dir='stargan/logs', log_step=10, lr_update_step=1000, "
        "mode='train', model_save_dir='stargan/models', model_save_step=10000, n_critic=5, num_iters=200000, "
        "num_iters_decay=100000, num_workers=1, rafd_crop_size=256, rafd_image_dir='data/RaFD/train', "
        "result_dir='stargan/results', resume_iters=None, sample_dir='stargan/samples', sample_step=1000, "
        "selected_attrs=['Black_Hair', 'Male'], test_iters=200000, use_tensorboard=True)"
    )
    config, conversion = convert_reference(text)
    d, t, m = config.data, config.train, config.method
    assert (d.root, d.attribute_file, d.attributes) == (
        "data/celeba/images",
        "data/celeba/list_attr_celeba.txt",
        ("Black_Hair", "Male"),
    )
    assert (t.steps, t.decay_fraction, t.batch_size, t.checkpoint_every) == (200000, 0.5, 16, 10000)
    assert (m.n_critic, m.g_lr, m.lambda_gp) == (5, 1e-4, 10.0)
    assert conversion.unknown == []


def _facades(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)).save(root / split / f"{i}.png")
    return root


def test_cli_converts_and_i2i_run_runs_it(tmp_path: Path, capsys):
    root = _facades(tmp_path / "facades")
    line = (
        f"python train.py --dataroot {root} --model pix2pix --netG unet_32 --ngf 8 --ndf 8 --crop_size 32 "
        "--load_size 36 --gpu_ids -1 --num_threads 0 --display_id 0"
    )
    out = tmp_path / "facades.toml"
    with pytest.raises(SystemExit) as info:
        main(["config", "from-reference", "-o", str(out), "--", *line.split()])
    assert info.value.code in (0, None)
    err = capsys.readouterr().err
    assert "not carried over: --display_id:" in err and str(out) in err
    cfg = i2i.load_config(out)
    assert (cfg.method_name, cfg.method.netG, cfg.data.image_size, cfg.train.device) == (
        "pix2pix",
        "unet_32",
        32,
        "cpu",
    )
    with pytest.raises(SystemExit) as info:
        main(["run", "--config", str(out), "--steps", "1", "--out", str(tmp_path / "run")])
    assert info.value.code in (0, None)
    assert (tmp_path / "run" / "last.pt").is_file()


def test_option_file_through_the_cli_to_stdout(tmp_path: Path, capsys):
    path = tmp_path / "train_opt.txt"
    path.write_text(print_options({**PIX2PIX_DEFAULTS, "dataroot": "/data/facades"}, PIX2PIX_DEFAULTS))
    with pytest.raises(SystemExit) as info:
        main(["config", "from-reference", str(path)])
    assert info.value.code in (0, None)
    out = capsys.readouterr().out
    assert '[method]\nname = "pix2pix"' in out and 'root = "/data/facades"' in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--", "python", "train.py", "--model", "colorization", "--dataroot", "x"],
            "--model 'colorization': no installed",
        ),
        (["missing_opt.txt"], "missing_opt.txt: no such option file"),
        (["--", "python", "train.py", "--model", "pix2pix", "--pool_size", "50"], "--pool_size '50': i2i's pix2pix"),
    ],
)
def test_bad_input_is_one_error_line(args, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["config", "from-reference", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
