"""16-bit PNG/TIFF (grey and RGB(A)) and float TIFF images train at full precision: the low 8 bits reach the batch.

Every test compares against the file's own 16-bit values, so dropping the low byte anywhere
(decode, resize, collate, device augmentation) fails it; 8-bit images keep their uint8 path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

import i2i
from i2i.data import DataConfig, build_data
from i2i.data.decode import BadImageError, DeepImage, open_image
from i2i.io.images import encode_png

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host


def _grey16(seed: int = 0, shape=(12, 16)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 65536, shape, dtype=np.uint16)


def _save16(path: Path, array: np.ndarray) -> Path:
    """Grey (H, W) via Pillow (``I;16``), RGB (H, W, 3) via i2i's 16-bit PNG encoder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 2:
        Image.fromarray(array).save(path)
    else:
        path.write_bytes(encode_png(torch.from_numpy(array.astype(np.float32) / 65535.0).permute(2, 0, 1), bits=16))
    return path


def _unpaired(root: Path, name: str, a: np.ndarray, b: np.ndarray) -> Path:
    _save16(root / "trainA" / name, a)
    _save16(root / "trainB" / name, b)
    return root


def _batch(root: Path, channels: int, train: bool = False, **kw):
    config = DataConfig(root=str(root), num_workers=0, preprocess="none", flip=False, channels=channels, **kw)
    dm = build_data(config, "unpaired", size_multiple=4)
    raw = next(iter(dm.loader))
    return raw, dm.augment(raw, "cpu", train=train)


def _as16(x: torch.Tensor) -> np.ndarray:
    return ((x.double() + 1.0) / 2.0 * 65535.0).round().numpy().astype(np.int64)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grey_keeps_every_bit(tmp_path: Path, suffix: str) -> None:
    a = _grey16(0)
    raw, batch = _batch(_unpaired(tmp_path, f"0{suffix}", a, _grey16(1)), channels=1)
    assert raw["a"].dtype == torch.float32  # decoded to float in the worker, not uint8
    np.testing.assert_array_equal(_as16(batch.a[0, 0]), a.astype(np.int64))
    assert (a & 0xFF).std() > 50  # the low bytes really vary, so the equality above tests them


def test_16bit_rgb_png_keeps_every_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 65536, (12, 16, 3), dtype=np.uint16)
    _, batch = _batch(_unpaired(tmp_path, "0.png", a, a), channels=3)
    np.testing.assert_array_equal(_as16(batch.a[0].permute(1, 2, 0)), a.astype(np.int64))


def _rgb16(seed: int, shape=(12, 16, 3)) -> np.ndarray:
    """Random 16-bit samples: their low bytes vary, so dropping them changes every pixel."""
    array = np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)
    assert (array & 0xFF).std() > 50
    return array


def _tiff16(path: Path, array: np.ndarray, **kw) -> Path:
    """A 16-bit RGB(A) TIFF written by tifffile (Pillow cannot write 16-bit RGB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extras = {"extrasamples": ["unassalpha"]} if array.shape[-1] == 4 else {}
    tifffile.imwrite(path, array, photometric="rgb", **extras, **kw)
    return path


@pytest.mark.parametrize("compression", [None, "zlib", "adobe_deflate"])
@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_16bit_rgb_tiff_keeps_every_bit(tmp_path: Path, compression, planar: str) -> None:
    a = _rgb16(20)
    data = a.transpose(2, 0, 1).copy() if planar == "separate" else a
    for d in ("trainA", "trainB"):
        _tiff16(tmp_path / d / "0.tif", data, compression=compression, planarconfig=planar)
    raw, batch = _batch(tmp_path, channels=3)
    assert raw["a"].dtype == torch.float32
    np.testing.assert_array_equal(_as16(batch.a[0].permute(1, 2, 0)), a.astype(np.int64))


def test_16bit_rgba_tiff_keeps_its_alpha_and_every_bit(tmp_path: Path) -> None:
    a = _rgb16(21, (12, 16, 4))
    a[..., 3] = 65535  # opaque: the colour samples must come through exactly
    a[0, 0, 3] = 1000  # one translucent pixel, composited onto white for 3 channels
    for d in ("trainA", "trainB"):
        _tiff16(tmp_path / d / "0.tif", a)
    _, rgba = _batch(tmp_path, channels=4)
    np.testing.assert_array_equal(_as16(rgba.a[0].permute(1, 2, 0)), a.astype(np.int64))
    _, rgb = _batch(tmp_path, channels=3)
    colour = rgb.a[0].permute(1, 2, 0)
    np.testing.assert_array_equal(_as16(colour)[1:], a[1:, :, :3].astype(np.int64))
    alpha = 1000 / 65535
    expected = a[0, 0, :3] / 65535 * alpha + (1 - alpha)
    np.testing.assert_allclose(((colour[0, 0] + 1) / 2).double().numpy(), expected, atol=1e-6)


def test_16bit_rgb_tiff_orientation_tag_is_applied(tmp_path: Path) -> None:
    a = _rgb16(22, (6, 10, 3))
    path = _tiff16(tmp_path / "o.tif", a, extratags=[(274, 3, 1, 6, True)])  # 6: rotate 90 degrees clockwise
    img = open_image(path, 3, 10**8, keep_depth=True)
    assert isinstance(img, DeepImage) and img.size == (6, 10)
    np.testing.assert_array_equal((img.array() * 65535).round().astype(np.int64), np.rot90(a, -1).astype(np.int64))


def test_16bit_rgb_tiff_with_a_compression_tifffile_cannot_decode_is_refused(tmp_path: Path) -> None:
    """LZW needs imagecodecs: one line naming the compression and the ways out, never 8 bits."""
    path = _tiff16(tmp_path / "lzw.tif", _rgb16(23))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[259].overwrite(5)  # Compression = LZW (the check comes before any pixel is read)
    with pytest.raises(BadImageError) as exc:
        open_image(path, 3, 10**8, keep_depth=True)
    message = str(exc.value)
    assert "16-bit 3-sample TIFF compressed with LZW" in message and "pip install imagecodecs" in message
    assert "\n" not in message
    # in a run it is a skipped file whose warning names it (strict mode: an error naming it)
    for d in ("trainA", "trainB"):
        _tiff16(tmp_path / "data" / d / "ok.tif", _rgb16(24))
    (tmp_path / "data" / "trainA" / "lzw.tif").write_bytes(path.read_bytes())
    config = DataConfig(root=str(tmp_path / "data"), num_workers=0, preprocess="none", flip=False, channels=3)
    dm = build_data(config, "unpaired", batch_size=2, shuffle=False)
    with pytest.warns(UserWarning, match=r"lzw\.tif.*compressed with LZW"):
        dm.augment(next(iter(dm.loader)), "cpu", train=False)


def test_float_tiff_keeps_its_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.random((12, 16), dtype=np.float32)
    for d in ("trainA", "trainB"):
        (tmp_path / d).mkdir(parents=True)
        Image.fromarray(a, mode="F").save(tmp_path / d / "0.tif")
    _, batch = _batch(tmp_path, channels=1)
    np.testing.assert_allclose(((batch.a[0, 0] + 1) / 2).numpy(), a, atol=1e-6)


def test_keep_16bit_false_is_the_old_8_bit_path(tmp_path: Path) -> None:
    a = _grey16(4)
    raw, batch = _batch(_unpaired(tmp_path, "0.png", a, a), channels=1, keep_16bit=False)
    assert raw["a"].dtype == torch.uint8
    assert np.abs(_as16(batch.a[0, 0]) - a).max() > 0  # the low 8 bits are gone


def test_8bit_images_stay_uint8(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    for d in ("trainA", "trainB"):
        (tmp_path / d).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(tmp_path / d / "0.png")
    raw, batch = _batch(tmp_path, channels=3)
    assert raw["a"].dtype == torch.uint8
    torch.testing.assert_close(batch.a, raw["a"].float() / 255.0 * 2 - 1, rtol=0, atol=0)


def test_resized_16bit_is_not_quantised_to_8_bits(tmp_path: Path) -> None:
    """resize_and_crop on a 16-bit image resizes in float: values fall between 8-bit steps."""
    ramp = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    root = _unpaired(tmp_path, "0.png", ramp, ramp)
    config = DataConfig(
        root=str(root), num_workers=0, preprocess="resize_and_crop", load_size=24, image_size=24, flip=False, channels=1
    )
    dm = build_data(config, "unpaired")
    batch = dm.augment(next(iter(dm.loader)), "cpu", train=False)
    eighths = ((batch.a + 1) / 2 * 255).double()
    assert (eighths - eighths.round()).abs().mean() > 0.1  # an 8-bit path would give ~0


def test_mixed_depths_stack_as_float(tmp_path: Path) -> None:
    _save16(tmp_path / "trainA" / "0.png", _grey16(6))
    (tmp_path / "trainA").mkdir(exist_ok=True)
    Image.fromarray(np.full((12, 16), 128, np.uint8)).save(tmp_path / "trainA" / "1.png")
    _save16(tmp_path / "trainB" / "0.png", _grey16(7))
    config = DataConfig(root=str(tmp_path), num_workers=0, preprocess="none", flip=False, channels=1)
    dm = build_data(config, "unpaired", batch_size=2, shuffle=False)
    raw = next(iter(dm.loader))
    assert raw["a"].dtype == torch.float32
    torch.testing.assert_close(raw["a"][1], torch.full((1, 12, 16), 128 / 255.0))


def test_a_run_trains_on_16bit_data(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for i in range(4):
            a = _grey16(10 + i, (16, 16))
            _save16(tmp_path / "data" / split / "A" / f"{i}.png", a)
            _save16(tmp_path / "data" / split / "B" / f"{i}.png", 65535 - a)
    host = dummy_host()
    from i2i.train.trainer import Trainer

    cfg = dummy_config(host, tmp_path / "data", steps=2, eval_images=2)
    final = Trainer(cfg, out_dir=tmp_path / "run", host=host, progress=False).fit()
    assert all(np.isfinite(v) for v in final.values())


def test_sample_images_of_16bit_rgb_tiffs_keep_every_bit(tmp_path: Path) -> None:
    """The sample grids' inputs come from full-depth batches too (not divided by 255 again)."""
    from i2i.train.samples import collect_samples

    a = _rgb16(30, (12, 16, 3))
    for d in ("testA", "testB", "trainA", "trainB"):
        _tiff16(tmp_path / d / "0.tif", a)
    config = DataConfig(root=str(tmp_path), num_workers=0, preprocess="none", image_size=12, flip=False)
    samples = collect_samples(config, "unpaired", 1, torch.device("cpu"), 4)
    assert samples.split == "test"
    image = samples.images[0]
    np.testing.assert_array_equal(_as16(image.undo(image.batch.a)[0].permute(1, 2, 0)), a.astype(np.int64))


class _Identity(i2i.Method):
    """Paired, output = input: its PSNR against B is the data's own A-B difference."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)

    def __init__(self) -> None:
        super().__init__(None, i2i.DataInfo(kind=i2i.PAIRED))
        self.G = torch.nn.Conv2d(3, 3, 1)

    def translate(self, x: torch.Tensor, **options: object) -> torch.Tensor:
        return x


def test_i2i_eval_scores_16bit_rgb_tiffs_at_full_depth(tmp_path: Path) -> None:
    """A and B differ only in their low bytes: at 8 bits they would be identical (PSNR 100)."""
    from i2i.eval.pixels import psnr
    from i2i.eval.runner import EvalSettings, evaluate

    rng = np.random.default_rng(40)
    pairs = []
    for split in ("train", "test"):
        for i in range(2):
            a = _rgb16(41 + i)
            b = (a & 0xFF00) | rng.integers(0, 256, a.shape, dtype=np.uint16)  # same high byte
            _tiff16(tmp_path / split / "A" / f"{i}.tif", a)
            _tiff16(tmp_path / split / "B" / f"{i}.tif", b)
            pairs += [(a, b)] if split == "test" else []
    config = i2i.load_config(
        method="dummy",
        overrides={"data.root": str(tmp_path), "data.preprocess": "none", "data.image_size": 12, "data.num_workers": 0},
        host=dummy_host(),
    )
    translator = i2i.Translator(_Identity().eval(), config, device="cpu", precision="fp32")
    report = evaluate(translator, settings=EvalSettings(metrics=("psnr",), num_workers=0))
    expected = np.mean(
        [
            float(
                psnr(
                    torch.from_numpy(a / 65535.0).permute(2, 0, 1)[None].float(),
                    torch.from_numpy(b / 65535.0).permute(2, 0, 1)[None].float(),
                )
            )
            for a, b in pairs
        ]
    )
    assert report.table["psnr"]["model"] < 80  # the low bytes were seen
    assert report.table["psnr"]["model"] == pytest.approx(expected, abs=1e-3)
