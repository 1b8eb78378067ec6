"""``i2i translate``/``i2i export`` on hostile input: never write over an input, report per
image, refuse what cannot work up front; and the kinds of image the Python API accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from inference_support import save_rgb, write_checkpoint, write_demo_size_checkpoint
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.plugins.host import get_host


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def cyclegan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ResNet CycleGAN: reflection pads and two stride-2 convolutions, like the real one."""
    return write_checkpoint(tmp_path_factory.mktemp("ck") / "cyc.pt", "cyclegan", get_host())


def test_out_folder_holding_the_inputs_is_refused_and_nothing_changes(cyclegan: Path, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    save_rgb(photos / "a.png", 24, 24)
    save_rgb(photos / "b.jpg", 24, 24)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    for out in (photos, tmp_path / "photos" / "."):
        code, _, err = run_cli(["translate", str(cyclegan), str(photos), "--out", str(out)], capsys)
        assert code == 2 and err.count("error:") == 1 and "never writes over its inputs" in err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_export_never_replaces_the_checkpoint(cyclegan: Path, tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(cyclegan.read_bytes())
    before = ckpt.read_bytes()
    code, _, err = run_cli(
        ["export", str(ckpt), "--format", "torchscript", "--generator", "G_A", "--out", str(ckpt)], capsys
    )
    assert code == 2 and err.count("error:") == 1 and "would overwrite the input" in err
    assert ckpt.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
    # several generators: c_G_A.pt ... next to a run folder's checkpoint is fine, the checkpoint itself is not
    code, _, err = run_cli(
        ["export", str(tmp_path), "--format", "torchscript", "--generator", "G_B", "--out", str(ckpt)], capsys
    )
    assert code == 2 and ckpt.read_bytes() == before


def test_tiny_and_extreme_aspect_images_translate_and_keep_their_size(cyclegan: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    sizes = {"dot": (1, 1), "strip": (3, 200), "small": (5, 7), "normal": (24, 32)}
    for name, (h, w) in sizes.items():
        save_rgb(src / f"{name}.png", h, w)
    code, _, err = run_cli(
        ["translate", str(cyclegan), str(src), "--out", str(tmp_path / "o"), "--batch-size", "8"], capsys
    )
    assert code == 0, err
    for name, (h, w) in sizes.items():
        assert Image.open(tmp_path / "o" / f"{name}.png").size == (w, h)
    # the padded retry is only for images the network cannot take: others are exactly the plain run
    t = i2i.load_checkpoint(cyclegan)
    x = torch.rand(1, 3, 24, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(t.translate(x), t.method.G_A(x), atol=1e-6)


def test_impossible_sizes_and_devices_are_refused_before_any_output(cyclegan: Path, tmp_path: Path, capsys) -> None:
    save_rgb(tmp_path / "in" / "a.png", 16, 16)
    base = ["translate", str(cyclegan), str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    code, _, err = run_cli([*base, "--size", "100000"], capsys)
    assert code == 2 and "--size 100000" in err and "use a smaller --size" in err
    for device, message in [
        ("meta", "hold no data"),
        ("xla", "not available"),
        ("mps", "not available"),
        ("tpu9", "unknown device"),
        ("cuda:7", ""),
    ]:
        code, _, err = run_cli([*base, "--device", device], capsys)
        assert code == 2 and err.count("error:") == 1 and "--device" in err and message in err, err
        assert "available here: auto, cpu" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(i2i.UsageError, match="a 3000x100000 image runs at"):
        i2i.load_checkpoint(cyclegan).translate(torch.zeros(3, 100000, 3000))


def test_numpy_arrays_in_and_out(cyclegan: Path) -> None:
    t = i2i.load_checkpoint(cyclegan)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)
    out = t.translate(rgb)
    assert out.dtype == np.uint8 and out.shape == (20, 28, 3)
    as_tensor = t.translate(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
    assert np.array_equal(out, as_tensor.permute(1, 2, 0).numpy())
    floats = t.translate(rgb.astype(np.float32) / 255)
    assert floats.dtype == np.float32 and np.abs(floats * 255 - out).max() <= 0.5 + 1e-3
    deep = t.translate((rgb.astype(np.uint16) * 256 + rng.integers(0, 256, rgb.shape)).astype(np.uint16))
    assert deep.dtype == np.uint16 and np.any(deep % 257 != 0)  # the low 8 bits carry information
    assert np.abs(deep / 65535 - floats).max() < 0.01
    grey = t.translate(rgb[:, :, 0])  # (H, W): read as grey, turned into the model's RGB input
    assert grey.shape == (20, 28, 3)
    with pytest.raises(i2i.UsageError, match="uint8, uint16 or float"):
        t.translate(rgb.astype(np.int64))
    with pytest.raises(i2i.UsageError, match=r"\(H, W\) or \(H, W, C\)"):
        t.translate(rgb[None])


def test_pil_images_are_translated_upright_as_the_cli_does(cyclegan: Path, tmp_path: Path, capsys) -> None:
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 32, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to show
    path = tmp_path / "in" / "phone.jpg"
    path.parent.mkdir()
    img.save(path, exif=exif)
    out = i2i.load_checkpoint(cyclegan, precision="auto").translate(Image.open(path))
    code, _, err = run_cli(["translate", str(cyclegan), str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert out.size == Image.open(tmp_path / "o" / "phone.png").size == (20, 32)
    assert (
        np.abs(np.asarray(out).astype(int) - np.asarray(Image.open(tmp_path / "o" / "phone.png")).astype(int)).max()
        <= 1
    )


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) / 2).pow(2).mean())  # [-1, 1] -> a peak of 1
    return 10 * np.log10(1 / max(mse, 1e-12))


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "augcyclegan", "stargan"])
def test_bf16_outputs_are_within_40_db_of_fp32(name: str, tmp_path: Path) -> None:
    """The default (auto: bf16 where the hardware has it, channels_last) against fp32, at the
    demo's image size; bf16 is forced so the check runs on every CPU."""
    ckpt = write_demo_size_checkpoint(tmp_path / "m.pt", name, get_host())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    fp32 = i2i.load_checkpoint(ckpt).translate(x)
    fast = i2i.load_checkpoint(ckpt, precision="bf16")
    assert fast.precision == "bf16"
    assert _psnr(fast.translate(x), fp32) >= 40.0
