"""i2i.load_checkpoint / Translator and ``i2i translate``: sizes, kinds, options, files, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from inference_support import save_rgb, trained_dummy, write_checkpoint
from PIL import Image
from train_support import dummy_host as make_dummy_host

import i2i
from i2i.cli.main import main
from i2i.errors import CheckpointError, UsageError
from i2i.inference import prepare_size
from i2i.io.images import png_bit_depth, read_image, write_png
from i2i.method import DataInfo


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_dummy(tmp_path_factory.mktemp("run"), make_dummy_host())


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# -- the library API ---------------------------------------------------------------------------------
def test_translator_matches_the_network_and_keeps_any_size(ckpt: Path, dummy_host) -> None:
    t = i2i.load_checkpoint(ckpt)
    assert t.method_name == "dummy" and t.step == 2 and not t.method.training
    x = torch.rand(2, 3, 16, 20) * 2 - 1  # already a multiple of 4: no padding, exact equality
    with torch.no_grad():
        expected = t.method.G(x)
    assert torch.allclose(t.translate(x), expected, atol=1e-6)
    odd = torch.rand(3, 13, 7) * 2 - 1  # (C, H, W), odd sizes, padded then cropped
    out = t.translate(odd)
    assert out.shape == (3, 13, 7) and out.dtype == torch.float32 and out.abs().max() <= 1
    # the padded run's interior (away from the receptive field of the pad) equals the plain conv
    with torch.no_grad():
        padded = t.method.G(torch.nn.functional.pad(odd[None], (0, 1, 0, 3), mode="reflect"))[0, :, :13, :7]
    assert torch.allclose(out, padded, atol=1e-6)


def test_translator_accepts_pil_uint8_and_lists(ckpt: Path, dummy_host) -> None:
    t = i2i.load_checkpoint(ckpt)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (23, 37, 3), dtype=np.uint8))
    out = t.translate(img)
    assert isinstance(out, Image.Image) and out.size == (37, 23) and out.mode == "RGB"
    u8 = torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()
    out8 = t.translate(u8)
    assert out8.dtype == torch.uint8 and out8.shape == (3, 23, 37)
    assert np.array_equal(np.asarray(out), out8.permute(1, 2, 0).numpy())  # same pixels either way
    outs = t.translate([img, img.resize((10, 6)).convert("L")])  # grey input into an RGB model
    assert [o.size for o in outs] == [(37, 23), (10, 6)]
    sized = t.translate(img, size=8)  # runs at a smaller scale, returned at the input's size
    assert sized.size == (37, 23) and not np.array_equal(np.asarray(sized), np.asarray(out))


def test_prepare_size_pads_reflect_and_resizes() -> None:
    x = torch.arange(2 * 1 * 5 * 6, dtype=torch.float32).reshape(2, 1, 5, 6)
    work, undo = prepare_size(x, 4)
    assert work.shape == (2, 1, 8, 8)
    assert torch.equal(work[:, :, 5, :6], x[:, :, 3])  # reflected, not zero
    assert torch.equal(undo(work), x)
    work, undo = prepare_size(x, 4, size=12)  # shorter side 5 -> 12
    assert work.shape[-2:] == (12, 16) and undo(work).shape == x.shape
    work, undo = prepare_size(x, 4, fit="resize")
    assert work.shape[-2:] == (8, 8) and undo(work).shape == x.shape
    tiny = torch.rand(1, 3, 2, 3)  # pad wider than the image: edge replication instead of reflect
    assert prepare_size(tiny, 8)[0].shape[-2:] == (8, 8)


def test_unknown_option_lists_the_methods_options(ckpt: Path, dummy_host) -> None:
    t = i2i.load_checkpoint(ckpt)
    with pytest.raises(UsageError, match=r"no option 'target' \(its translate options: none\)"):
        t.translate(torch.zeros(1, 3, 8, 8), target="Male")


def test_foreign_and_corrupt_checkpoints_are_checkpoint_errors(tmp_path: Path, dummy_host) -> None:
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not an i2i checkpoint"):
        i2i.load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="not found"):
        i2i.load_checkpoint(tmp_path / "missing.pt")


# -- the command ---------------------------------------------------------------------------------
def test_translate_files_folders_globs_keeps_stems_and_sizes(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    src = tmp_path / "in"
    save_rgb(src / "a.jpg", 30, 40)
    save_rgb(src / "a.png", 29, 41, seed=1)  # same stem: must not overwrite a.jpg's output
    save_rgb(src / "sub" / "wide.png", 9, 50, seed=2)
    save_rgb(tmp_path / "single.bmp", 12, 12, seed=3)
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(src),
            str(src / "sub" / "*.png"),
            str(tmp_path / "single.bmp"),
            "--out",
            str(out),
            "--batch-size",
            "3",
        ],
        capsys,
    )
    assert code == 0, err
    sizes = {p.name: Image.open(p).size for p in out.glob("*.png")}
    assert sizes == {"a.png": (40, 30), "a_png.png": (41, 29), "wide.png": (50, 9), "single.png": (12, 12)}
    assert "wrote 4 image(s)" in stdout
    assert not list(out.glob(".*tmp*"))  # no temp files left behind


def test_unreadable_input_warns_and_the_rest_go_on(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    src = tmp_path / "in"
    save_rgb(src / "good.png", 8, 8)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = run_cli(
        ["translate", str(ckpt), str(src), str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 0
    assert (tmp_path / "o" / "good.png").is_file() and not (tmp_path / "o" / "broken.png").exists()
    assert re.search(r"warning: skipping unreadable image .*broken\.png", err)
    assert re.search(r"warning: input .*nope\.png does not exist", err)


def test_grey_checkpoint_writes_grey_and_16bit_round_trips(tmp_path: Path, dummy_host, capsys) -> None:
    grey = write_checkpoint(
        tmp_path / "grey.pt", "dummy", dummy_host, data_info=DataInfo(kind="paired", channels_a=1, channels_b=1)
    )
    src = tmp_path / "in"
    save_rgb(src / "colour.png", 10, 14)  # a colour photo into a grey model: read as grey
    deep = (np.random.default_rng(0).random((1, 10, 12)) * 0.8 + 0.1).astype(np.float32)
    write_png(src / "deep.png", torch.from_numpy(deep), bits=16)
    code, _, err = run_cli(["translate", str(grey), str(src), "--out", str(tmp_path / "o8"), "--8bit"], capsys)
    assert code == 0, err
    assert {p.name: Image.open(p).mode for p in (tmp_path / "o8").glob("*.png")} == {"colour.png": "L", "deep.png": "L"}
    assert png_bit_depth(tmp_path / "o8" / "deep.png") == 8
    # 16-bit in, 16-bit out is the default (--keep-16bit, its old spelling, still works)
    code, _, err = run_cli(
        ["translate", str(grey), str(src), "--out", str(tmp_path / "o16"), "--precision", "fp32"], capsys
    )
    assert code == 0, err
    assert png_bit_depth(tmp_path / "o16" / "deep.png") == 16
    assert png_bit_depth(tmp_path / "o16" / "colour.png") == 8  # 8-bit inputs stay 8-bit
    # the 16-bit output is the model's output at 16-bit precision (not an 8-bit one widened)
    t = i2i.load_checkpoint(grey)
    expected = (t.translate(torch.from_numpy(deep)[None] * 2 - 1) + 1) / 2
    got, bits = read_image(tmp_path / "o16" / "deep.png", 1, keep_16bit=True)
    assert bits == 16 and (got - expected[0]).abs().max() < 1e-4


def test_16bit_rgb_tiff_translates_to_16bit_png(tmp_path: Path, dummy_host, capsys) -> None:
    """Mirrors the 16-bit PNG round trip above for a 16-bit RGB TIFF (decoded by tifffile)."""
    import tifffile

    rgb = write_checkpoint(tmp_path / "rgb.pt", "dummy", dummy_host)
    src = tmp_path / "in"
    src.mkdir()
    deep = np.random.default_rng(1).integers(6000, 60000, (10, 12, 3), dtype=np.uint16)
    tifffile.imwrite(src / "scan.tif", deep, photometric="rgb", compression="zlib")
    code, _, err = run_cli(
        ["translate", str(rgb), str(src), "--out", str(tmp_path / "o"), "--precision", "fp32"], capsys
    )
    assert code == 0, err
    assert png_bit_depth(tmp_path / "o" / "scan.png") == 16
    t = i2i.load_checkpoint(rgb)
    full = torch.from_numpy(deep.astype(np.float32) / 65535.0).permute(2, 0, 1)[None]
    expected = (t.translate(full * 2 - 1) + 1) / 2
    got, bits = read_image(tmp_path / "o" / "scan.png", 3, keep_16bit=True)
    assert bits == 16 and (got - expected[0]).abs().max() < 1e-4
    eight = torch.from_numpy((deep >> 8).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    assert ((t.translate(eight * 2 - 1) + 1) / 2 - expected).abs().max() > 1e-3  # the check above sees 8-bit input
    code, _, err = run_cli(["translate", str(rgb), str(src), "--out", str(tmp_path / "o8"), "--8bit"], capsys)
    assert code == 0, err
    assert png_bit_depth(tmp_path / "o8" / "scan.png") == 8


def test_html_gallery_links_inputs_outputs_and_targets(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    src, targets = tmp_path / "in", tmp_path / "gt"
    save_rgb(src / "x 1.png", 8, 12)
    save_rgb(src / "y.tif", 8, 8, seed=1)
    save_rgb(targets / "x 1.jpg", 8, 12, seed=2)
    out = tmp_path / "o"
    code, _, err = run_cli(
        ["translate", str(ckpt), str(src), "--out", str(out), "--html", "--targets", str(targets)], capsys
    )
    assert code == 0, err
    page = (out / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    from urllib.parse import unquote

    links = [unquote(s) for s in re.findall(r'<img src="([^"]+)"', page)]
    assert len(links) == 5  # x 1: input, output, target; y: input, output
    for link in links:
        assert (out / link).resolve().is_file(), link
    assert any(link.endswith("gt/x 1.jpg") for link in links)
    assert all(not link.endswith(".tif") for link in links)  # browsers cannot show TIFF: a PNG copy is linked
    assert [h for h in re.findall(r"<th>([^<]+)</th>", page)] == ["name", "input", "output", "target"]


def test_existing_outputs_are_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous output")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError):
        write_png(target, torch.rand(3, 4, 4))
    assert target.read_bytes() == b"previous output"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_variants_write_one_file_each_and_a_grid(tmp_path: Path, capsys) -> None:
    """Augmented CycleGAN's ``--samples K --seed S``: K outputs + a grid, reproducible by seed."""
    from i2i.plugins.host import PluginHost, set_host

    host = PluginHost()
    set_host(host)
    if "augcyclegan" not in host.registry.names("method"):
        pytest.skip("augcyclegan plugin not installed")
    ckpt = write_checkpoint(tmp_path / "aug.pt", "augcyclegan", host)
    save_rgb(tmp_path / "in" / "shoe.png", 16, 16)
    args = ["translate", str(ckpt), str(tmp_path / "in"), "--samples", "3", "--seed", "7"]
    code, _, err = run_cli([*args, "--out", str(tmp_path / "o1")], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "o1").glob("*.png"))
    assert names == ["shoe_grid.png", "shoe_s0.png", "shoe_s1.png", "shoe_s2.png"]
    assert Image.open(tmp_path / "o1" / "shoe_grid.png").size == (16 * 4 + 2 * 3, 16)
    run_cli([*args, "--out", str(tmp_path / "o2")], capsys)
    for name in names:
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes()
    code, _, err = run_cli(
        ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o3"), "--target", "x"], capsys
    )
    assert code == 2 and "has no option 'target'" in err and "samples" in err


@pytest.mark.parametrize("case", ["missing", "plain", "corrupt", "bad_option", "no_inputs"])
def test_cli_errors_are_one_line_exit_2(case: str, ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    img = save_rgb(tmp_path / "in.png", 8, 8)
    path = str(ckpt)
    extra: list[str] = []
    inputs = [str(img)]
    if case == "missing":
        path = str(tmp_path / "nope.pt")
    elif case == "plain":
        path = str(tmp_path / "plain.pt")
        torch.save({"G.0.weight": torch.zeros(1)}, path)
    elif case == "corrupt":
        path = str(tmp_path / "corrupt.pt")
        Path(path).write_bytes(ckpt.read_bytes()[:200])
    elif case == "bad_option":
        extra = ["--target", "Blond_Hair"]
    else:
        inputs = [str(tmp_path / "empty_dir_*.png")]
    code, _, err = run_cli(["translate", path, *inputs, "--out", str(tmp_path / "o"), *extra], capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    expected = {
        "missing": "not found",
        "plain": "not an i2i checkpoint",
        "corrupt": "corrupt",
        "bad_option": "no option 'target'",
        "no_inputs": "no input images",
    }[case]
    assert expected in errors[0]
