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


# -- the PatchGAN's depth against the crop (i2i.check_patchgan_size) ------------------------------------
@pytest.mark.parametrize("n_layers", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("side", [8, 11, 13, 23, 24, 25, 37, 47, 48, 50])
def test_patchgan_sides_match_a_forward_pass(side, n_layers):
    """Non-powers of two included: the helper rounds as the convolutions do, and says exactly
    when the network fails (a 1x1 normalised map or an empty output)."""
    import torch

    from i2i.nets.patchgan import NLayerDiscriminator
    from i2i.nets.sizing import patchgan_fits

    net = NLayerDiscriminator(1, ndf=4, n_layers=n_layers, norm="instance", init_type=None)
    sides = i2i.patchgan_sides(side, n_layers)
    try:
        out = net(torch.zeros(1, 1, side, side))
    except (RuntimeError, ValueError):
        assert not patchgan_fits(side, n_layers)
    else:
        assert patchgan_fits(side, n_layers) and out.shape[-2:] == (sides[-1], sides[-1])


@pytest.mark.parametrize(
    ("method", "sets", "message"),
    [
        (
            "pix2pix",
            ["method.netG=unet_32", "method.n_layers_D=4", "data.image_size=32"],
            "method.n_layers_D: 4 strided layers leave a 2x2 map of data.image_size 32 (the PatchGAN needs at least "
            "3x3 before its last two convolutions); use n_layers_D <= 3 or data.image_size >= 48",
        ),
        ("cyclegan", ["data.image_size=16"], "method.n_layers_D: 3 strided layers leave a 2x2 map"),
        ("cyclegan", ["data.image_size=8"], "use n_layers_D <= 1 or data.image_size >= 24"),
        ("augcyclegan", ["data.image_size=16"], "method.n_layers_d: 3 strided layers leave a 2x2 map"),
        ("colorization", ["data.image_size=16"], "method.n_layers_D: 3 strided layers"),
        ("pix2pix", ["method.netD=basic", "data.image_size=16"], "method.netD: 3 strided layers"),
        ("pix2pix", ["method.netD=multiscale", "data.image_size=64"], "the 16 px smallest of 3 scales"),
    ],
)
def test_a_patchgan_too_deep_for_the_crop_is_a_config_error(method, sets, message):
    size = next(s.split("=")[1] for s in sets if s.startswith("data.image_size"))
    with pytest.raises(ConfigError) as info:
        i2i.load_config(method=method, overrides=[*sets, f"data.load_size={size}"])
    assert message in str(info.value)


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan", "augcyclegan", "colorization"])
def test_defaults_and_demo_sizes_keep_their_patchgan(method):
    i2i.load_config(method=method)
    i2i.load_config(method=method, overrides=["data.image_size=24", "data.load_size=24"])
    resolve_run_config(method, None, [], image_size=32)  # the demo (no data) at 32 px
    if method != "augcyclegan":  # its image discriminators are always PatchGANs
        i2i.load_config(method=method, overrides=["method.netD=pixel", "data.image_size=8", "data.load_size=8"])


def test_too_deep_patchgan_from_the_cli_is_one_line_exit_2(capsys, tmp_path):
    args = ["run", "--method", "pix2pix", "--steps", "2", "--out", str(tmp_path / "r"), "--image-size", "32"]
    with pytest.raises(SystemExit) as info:
        main([*args, "--set", "method.netG=unet_32", "--set", "method.n_layers_D=4"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: method.n_layers_D: 4 strided layers leave a 2x2 map")
    assert not (tmp_path / "r").exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("n_layers", "hint"), [(6, "or data.image_size >= 192"), (40, ""), (100000, "")])
def test_a_typo_deep_patchgan_is_refused_at_once(n_layers, hint):
    """``n_layers_D=40`` for 4 is refused as quickly as 6 is (it used to size every crop side
    in turn, for minutes); no crop fits past the deepest probe, so only the depth is offered."""
    overrides = ["method.netD=n_layers", f"method.n_layers_D={n_layers}", "data.image_size=64", "data.load_size=64"]
    with pytest.raises(ConfigError) as info:
        i2i.load_config(method="pix2pix", overrides=overrides)
    message = str(info.value)
    assert message.startswith(f"method.n_layers_D: {n_layers} strided layers leave a ")
    assert message.endswith(f"use n_layers_D <= 4{' ' + hint if hint else ''}")
