"""colorization: the conformance suite, the reference's Lab normalisation, full-resolution
translation of grey and colour inputs, the ``images`` layout and the held-out baselines.

Everything runs tiny (ngf/ndf 8, a 5-level U-Net, 32 px) on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import i2i_colorization.plugin
import numpy as np
import pytest
import torch
from i2i_colorization import Colorization, ColorizationConfig
from i2i_colorization.lab import lab_to_rgb, rgb_to_lab
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.data import DataConfig, build_data
from i2i.eval.summary import summarize
from i2i.plugins.host import PluginHost, set_host
from i2i.testing import MethodConformance, dummy_batch, make_context, run_steps

TINY = dict(next(iter(i2i_colorization.plugin.i2i_register_methods())).test_overrides)


def _host() -> PluginHost:
    host = PluginHost(autoload=False, plugins=[("colorization", i2i_colorization.plugin)])
    set_host(host)  # the method builds its networks through the default host
    return host


@pytest.fixture
def host() -> PluginHost:
    return _host()


def tiny(seed: int = 0, **overrides) -> Colorization:
    torch.manual_seed(seed)
    return i2i.create_method("colorization", data_info=i2i.DataInfo(kind=i2i.PAIRED), **{**TINY, **overrides})


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful uint8 RGB image."""
    gen = np.random.default_rng(seed)
    low = gen.uniform(0, 255, size=(max(2, h // 8), max(2, w // 8), 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(low).resize((w, h), Image.Resampling.BICUBIC))


def photo_folder(root: Path, n: int, size: int = 40) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(photo(size, size + 8, seed=i)).save(root / f"{i:03d}.png")
    return root


class TestColorizationConformance(MethodConformance):
    method_name = "colorization"

    def make_host(self) -> PluginHost:
        return _host()


def test_reference_defaults_and_networks(host: PluginHost) -> None:
    cfg = i2i.default_config("colorization")
    m = cfg.method
    assert isinstance(m, ColorizationConfig)
    assert (m.netG, m.netD, m.n_layers_D, m.norm, m.gan_mode, m.lambda_L1, m.lr) == (
        "unet_256",
        "patchgan",
        3,
        "batch",
        "vanilla",
        100.0,
        2e-4,
    )
    assert (cfg.data.layout, cfg.data.channels, cfg.data.channels_b, cfg.data.image_size) == ("images", 1, 3, 256)
    method = tiny()
    convs = [mod for mod in method.G.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert convs[0].in_channels == 1  # input_nc 1: L
    heads = [mod for mod in method.G.modules() if isinstance(mod, torch.nn.ConvTranspose2d)]
    assert heads[-1].out_channels == 2  # output_nc 2: ab
    assert next(mod for mod in method.D.modules() if isinstance(mod, torch.nn.Conv2d)).in_channels == 3  # D(L, ab)


def test_lab_normalisation_is_the_references() -> None:
    white, red = torch.ones(1, 3, 1, 1), torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1)
    lightness, ab = rgb_to_lab(white)
    assert lightness.item() == pytest.approx(1.0, abs=1e-4) and ab.abs().max() < 1e-3  # L 100 -> 1
    lightness, ab = rgb_to_lab(red)  # sRGB red: L 53.2, a 80.1, b 67.2 -> L/50 - 1, ab/110
    assert lightness.item() == pytest.approx(53.24 / 50 - 1, abs=2e-3)
    assert ab.flatten().tolist() == pytest.approx([80.09 / 110, 67.20 / 110], abs=3e-3)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.allclose(lab_to_rgb(*rgb_to_lab(x)), x, atol=1e-3)  # round trip


def test_training_uses_the_colour_images_lab_and_tracks_mean_ab(host: PluginHost) -> None:
    method = tiny()
    batch = dummy_batch(i2i.DataInfo(kind=i2i.PAIRED), batch_size=2)
    grey = i2i.Batch(a=batch.b.mean(1, keepdim=True), b=batch.b)
    ctx = make_context(method)
    history = run_steps(method, grey, 2, ctx)
    ctx.raise_problems("colorization")
    assert list(history[0]) == ["G/gan", "G/l1", "D/real", "D/fake"]
    _, ab = rgb_to_lab(batch.b)
    assert torch.allclose(method.mean_ab, ab.mean(dim=(0, 2, 3)), atol=1e-5)  # two steps, same batch
    # the L1 term is lambda_L1 times |G(L) - ab|
    losses = [run_steps(tiny(lambda_L1=w), grey, 1)[0]["G/l1"] for w in (100.0, 1.0)]
    assert losses[0] == pytest.approx(100 * losses[1], rel=1e-4)


def test_translate_keeps_full_resolution_and_the_inputs_own_lightness(host: PluginHost) -> None:
    method = tiny().eval()
    seen: list[tuple[int, ...]] = []
    method.G.register_forward_hook(lambda mod, args, out: seen.append(tuple(args[0].shape)))
    x = torch.from_numpy(photo(300, 450).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        y = method.translate(x)
    assert y.shape == (1, 3, 300, 450)
    assert seen == [(1, 1, 32, 64)]  # ab predicted at the working size (shorter side 32, multiples of 32)
    # the output's lightness is the input's own, pixel for pixel (only clipping out of gamut moves it)
    l_in, _ = rgb_to_lab(x)
    l_out, _ = rgb_to_lab(y)
    assert (l_out - l_in).abs().mean() < 0.01
    # only the input's L matters: a colour photo and its grey rendering colourise the same
    grey = lab_to_rgb(l_in, torch.zeros(1, 2, 300, 450))
    with torch.no_grad():
        assert torch.allclose(method.translate(grey), y, atol=2e-3)
        assert torch.allclose(method.translate(grey[:, :1]), y, atol=2e-3)  # one grey channel works too


def test_baselines_are_grey_and_mean_ab(host: PluginHost) -> None:
    method = tiny()
    method.mean_ab.copy_(torch.tensor([0.1, -0.2]))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    base = method.baselines(x)
    lightness, _ = rgb_to_lab(x)
    for name, ab in (("grey", (0.0, 0.0)), ("mean_ab", (0.1, -0.2))):
        got_l, got_ab = rgb_to_lab(base[name])
        assert (got_l - lightness).abs().max() < 0.02
        assert got_ab.mean(dim=(0, 2, 3)).tolist() == pytest.approx(ab, abs=0.02)


def test_images_layout_pairs_each_photo_with_itself(tmp_path: Path) -> None:
    flat = photo_folder(tmp_path / "flat", 12)
    config = DataConfig(
        root=str(flat), layout="images", channels=1, channels_b=3, image_size=32, load_size=32, num_workers=0
    )
    train = build_data(config, i2i.PAIRED, split="train", batch_size=4)
    test = build_data(config, i2i.PAIRED, split="test", batch_size=4, shuffle=False)
    assert len(train.dataset) == 11 and len(test.dataset) == 1  # every 10th (name order) held out
    item = test.dataset[0]
    assert item["name_a"] == item["name_b"] == "009.png"
    assert item["a"].shape[0] == 1 and item["b"].shape[0] == 3 and item["a"].shape[1:] == item["b"].shape[1:]
    split = tmp_path / "split"
    photo_folder(split / "train", 3), photo_folder(split / "test", 2)
    config = DataConfig(root=str(split), layout="images", image_size=32, load_size=32, num_workers=0)
    assert len(build_data(config, i2i.PAIRED, split="test", batch_size=1).dataset) == 2
    with pytest.raises(i2i.DataError, match="images.*cannot serve an unpaired"):
        build_data(config, i2i.UNPAIRED)


def test_held_out_summary_scores_the_baselines(tmp_path: Path, host: PluginHost) -> None:
    root = photo_folder(tmp_path / "photos", 10)
    config = DataConfig(
        root=str(root), layout="images", channels=1, channels_b=3, image_size=32, load_size=32, num_workers=0
    )
    data = build_data(config, i2i.PAIRED, split="test", batch_size=2, shuffle=False)
    metrics = summarize(tiny(), data, torch.device("cpu"))
    assert {"psnr", "psnr_grey", "psnr_mean_ab", "psnr_mean_color"} <= set(metrics)
    assert metrics["psnr_grey"] == metrics["psnr_mean_ab"]  # untrained: the mean ab is still 0


def test_demo_and_cli_run_then_translate_at_full_resolution(tmp_path: Path, host: PluginHost, capsys) -> None:
    cfg = i2i.default_config("colorization", demo=True)
    assert (cfg.data.demo, cfg.data.image_size, cfg.method.image_size) == ("photos", 64, 64)

    data = photo_folder(tmp_path / "photos", 10)
    out = tmp_path / "run"
    args = [
        "run",
        "--method",
        "colorization",
        "--data",
        str(data),
        "--steps",
        "2",
        "--image-size",
        "32",
        "--out",
        str(out),
        "--set",
        "data.num_workers=0",
    ]
    args += [f"--set=method.{k}={v!r}".replace("'", '"') for k, v in TINY.items() if k != "image_size"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr()
    header = (printed.out + printed.err).split("evaluation on ", 1)[1].splitlines()[1].split()
    assert header[:2] == ["metric", "model"] and {"grey", "mean_ab"} <= set(header)  # psnr beside both baselines
    page = (out / "index.html").read_text()
    assert "<th>grey</th>" in page and "<th>mean_ab</th>" in page

    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(photo(90, 130, seed=5)).save(inputs / "colour.png")
    Image.fromarray(photo(70, 50, seed=6)).convert("L").save(inputs / "grey.png")
    with pytest.raises(SystemExit) as exit_info:
        main(["translate", str(out), str(inputs), "--out", str(tmp_path / "colourised"), "--device", "cpu"])
    assert exit_info.value.code in (0, None)
    with Image.open(tmp_path / "colourised" / "colour.png") as img:
        assert (img.mode, img.size) == ("RGB", (130, 90))
    with Image.open(tmp_path / "colourised" / "grey.png") as img:
        assert (img.mode, img.size) == ("RGB", (50, 70))


def test_bad_input_is_a_clear_error(host: PluginHost, tmp_path: Path) -> None:
    method = tiny()
    with pytest.raises(i2i.UsageError, match="no options"):
        method.translate(torch.zeros(1, 3, 32, 32), target="x")
    with pytest.raises(i2i.ConfigError, match="image_size"):
        i2i.load_config(method="colorization", overrides=["method.image_size=0"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "run",
                "--method",
                "colorization",
                "--data",
                str(tmp_path / "empty"),
                "--steps",
                "1",
                "--out",
                str(tmp_path / "r"),
            ]
        )
    assert exit_info.value.code == 2


def test_photos_demo_is_colour_crops_paired_with_themselves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from i2i.data import demo

    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(demo, "TRAIN_PER_DOMAIN", 6)
    monkeypatch.setattr(demo, "TEST_PER_DOMAIN", 2)
    config = DataConfig(demo="photos", channels=1, channels_b=3, image_size=32, load_size=36, num_workers=0)
    data = build_data(config, i2i.PAIRED, batch_size=2)
    batch = data.augment(next(iter(data.loader)), torch.device("cpu"))
    assert len(data.dataset) == 6 and batch.a.shape == (2, 1, 32, 32) and batch.b.shape == (2, 3, 32, 32)
    assert (batch.b[:, 0] - batch.b[:, 2]).abs().mean() > 0.02  # colour, not grey
    assert len(build_data(config, i2i.PAIRED, split="test", batch_size=2).dataset) == 2


def test_a_target_side_without_colour_is_a_config_error() -> None:
    """Training reads L and ab of the target side: decoded grey, there is no colour to learn."""
    with pytest.raises(i2i.ConfigError, match=r"data.channels_b: colorization .* must be 3 \(or 4: RGBA\), got 1"):
        i2i.load_config(method="colorization", overrides=["data.channels_b=1"])
    assert i2i.load_config(method="colorization", overrides=["data.channels_b=4"]).data.channels_b == 4
