"""The U-Net depth follows the image size unless the user named a generator; mismatches and a
``load_size`` too small for the crop are one-line errors."""

from __future__ import annotations

import pytest

import i2i
from i2i.cli.main import main, resolve_run_config
from i2i.errors import ConfigError


@pytest.mark.parametrize(
    "side, name",
    [
        (32, "unet_32"),
        (48, "unet_32"),
        (64, "unet_64"),
        (128, "unet_128"),
        (256, "unet_256"),
        (512, "unet_256"),
        (16, "unet_32"),
    ],
)
def test_unet_for_size(side, name):
    assert i2i.unet_for_size(side) == name


def test_image_size_flag_picks_the_unet_depth():
    cfg = resolve_run_config("pix2pix", None, [], image_size=64, data="/d")
    assert cfg.method.netG == "unet_64" and cfg.data.image_size == 64
    model = i2i.create_method("pix2pix", netG=cfg.method.netG, ngf=8, ndf=8)
    assert model.size_multiple == 64  # 64 px crops reach a 1x1 bottleneck: no upscaling to 256


def test_paper_default_is_unchanged_at_256_and_capped_above():
    assert i2i.load_config(method="pix2pix", overrides={"data.root": "/d"}).method.netG == "unet_256"
    big = i2i.load_config(
        method="pix2pix", overrides={"data.root": "/d", "data.image_size": 512, "data.load_size": 572}
    )
    assert big.method.netG == "unet_256"


def test_a_non_unet_default_is_left_alone():
    cfg = i2i.load_config(method="cyclegan", overrides={"data.root": "/d", "data.image_size": 64, "data.load_size": 72})
    assert cfg.method.netG == "resnet_9blocks"


def test_a_named_generator_is_kept_when_it_fits():
    cfg = i2i.load_config(
        method="pix2pix", overrides={"data.root": "/d", "data.image_size": 256, "method.netG": "unet_128"}
    )
    assert cfg.method.netG == "unet_128"


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan"])
def test_a_named_unet_deeper_than_the_crop_is_an_error(method):
    with pytest.raises(ConfigError, match=r"method.netG: 'unet_256' needs images of at least 256 px.*'unet_64'"):
        i2i.load_config(
            method=method,
            overrides={"data.root": "/d", "data.image_size": 64, "data.load_size": 72, "method.netG": "unet_256"},
        )


def test_named_mismatch_from_the_cli_is_one_line_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(
            [
                "run",
                "--method",
                "pix2pix",
                "--data",
                str(tmp_path),
                "--image-size",
                "64",
                "--set",
                "method.netG=unet_256",
            ]
        )
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: method.netG: 'unet_256'")


def test_a_config_file_naming_the_generator_keeps_it(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[method]\nname = "pix2pix"\nnetG = "unet_128"\n[data]\nroot = "/d"\nimage_size = 128\nload_size = 142\n'
    )
    assert i2i.load_config(path).method.netG == "unet_128"


def test_preprocess_none_skips_the_crop_check():
    cfg = i2i.load_config(
        method="pix2pix",
        overrides={"data.root": "/d", "data.preprocess": "none", "data.image_size": 64, "method.netG": "unet_256"},
    )
    assert cfg.method.netG == "unet_256"  # image sizes are per image; training crops/pads to 256


def test_load_size_smaller_than_the_crop_is_an_error(capsys, tmp_path):
    with pytest.raises(ValueError, match=r"'load_size' must be >= data.image_size \(256\)"):
        i2i.DataConfig(load_size=200, image_size=256)
    i2i.DataConfig(load_size=200, image_size=256, preprocess="crop")  # crop never resizes to load_size
    with pytest.raises(SystemExit) as info:
        main(["config", "show", "--method", "pix2pix", "--set", f"data.root={tmp_path}", "--set", "data.load_size=100"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err == (
        "error: --set: data.load_size: must be >= data.image_size (256) with preprocess 'resize_and_crop', got 100\n"
    )
